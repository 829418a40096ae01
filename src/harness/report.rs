//! The result of a run: one entry per case, sorted by case id, serialisable as JSON and as JUnit XML. Durations
//! and the start time sit in their own fields, so everything else is deterministic.
//!
//! The JUnit file is what CI test reporters read (Jenkins, GitLab, the GitHub Actions JUnit reporters): one
//! `testsuite` with its `timestamp` and `time`; one `testcase` per case with `classname` `<provider>.<action>`
//! (Jenkins shows the provider as the package and the action as the class), `name` the scenario, `file` the case
//! file, `time`; a `failure` or `error` whose `message` is the one-line expected-versus-received summary, with the
//! whole explanation as its text. It validates against the Jenkins xUnit plugin's `junit-10.xsd`
//! (`tests/junit/`), plus the testcase `file` attribute that GitLab and the GitHub reporters read.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::harness::{CaseRun, Outcome};

/// A whole run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `mock`, or the target URL.
    pub target: String,
    /// Every case, sorted by id.
    pub cases: Vec<CaseReport>,
    /// Wall time of the run, in milliseconds.
    pub duration_ms: u64,
    /// When the run started (JUnit's suite `timestamp`; not in the JSON, which stays deterministic but for times).
    #[serde(skip)]
    pub started: SystemTime,
}

/// One case's result.
#[derive(Clone, Debug, Serialize)]
pub struct CaseReport {
    /// The case id.
    pub id: String,
    /// The case file, as given (`cases/tencent/terminate-instances/x.toml` for the embedded cases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// `passed`, `failed` (an expectation did not hold), `error` (the case could not be carried out), or, in a
    /// live run, `skipped` (not live-verifiable, or needing an opt-in the run did not give; never a pass).
    pub status: &'static str,
    /// The failing step (1-based; 0: before any step, e.g. an unreadable case file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// What was expected and what came instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Wall time, in milliseconds.
    pub duration_ms: u64,
}

impl CaseReport {
    /// The report of a case that ran.
    pub fn from_run(run: &CaseRun, file: Option<String>) -> Self {
        let (status, step, message) = match &run.outcome {
            Outcome::Passed => ("passed", None, None),
            Outcome::Failed { step, message } => ("failed", Some(*step), Some(message.clone())),
            Outcome::Error { step, message } => ("error", Some(*step), Some(message.clone())),
        };
        Self {
            id: run.id.clone(),
            file,
            status,
            step,
            message,
            duration_ms: millis(run.duration),
        }
    }

    /// The report of a case file that could not be read: an error, since nothing was checked.
    pub fn unreadable(id: String, file: Option<String>, message: String) -> Self {
        Self {
            id,
            file,
            status: "error",
            step: Some(0),
            message: Some(message),
            duration_ms: 0,
        }
    }

    /// A case a live run did not send, and why (`not live-verifiable: …`, `opt-in: …`).
    pub fn skipped(id: String, reason: String) -> Self {
        Self {
            id,
            file: None,
            status: "skipped",
            step: None,
            message: Some(reason),
            duration_ms: 0,
        }
    }

    /// Whether it passed.
    pub fn passed(&self) -> bool {
        self.status == "passed"
    }

    /// One line for a reporter's list of failures: the step and the first line of the message, which states what
    /// was expected and what came instead (`step 2: expected error UnauthorizedOperation, received success`).
    pub fn summary(&self) -> Option<String> {
        let message = self.message.as_deref()?;
        let first = message
            .lines()
            .next()
            .unwrap_or_default()
            .trim_end_matches(':');
        Some(match self.step {
            Some(0) | None => first.to_owned(),
            Some(step) => format!("step {step}: {first}"),
        })
    }

    /// `<provider>.<action>`, JUnit's class name, and the scenario, its test name.
    fn junit_names(&self) -> (String, String) {
        match self.id.rsplit_once('/') {
            Some((directory, scenario)) => (directory.replace('/', "."), scenario.to_owned()),
            None => (String::new(), self.id.clone()),
        }
    }
}

impl Report {
    /// A report of these cases, sorted.
    pub fn new(
        target: String,
        mut cases: Vec<CaseReport>,
        started: SystemTime,
        duration: Duration,
    ) -> Self {
        cases.sort_by(|a, b| a.id.cmp(&b.id));
        Self {
            target,
            cases,
            duration_ms: millis(duration),
            started,
        }
    }

    /// How many passed, failed and ended in error; they add up to the number of cases.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |status: &str| {
            self.cases
                .iter()
                .filter(|case| case.status == status)
                .count()
        };
        (count("passed"), count("failed"), count("error"))
    }

    /// `N passed, M failed, K errors`, the line CI reads.
    pub fn summary(&self) -> String {
        let (passed, failed, errors) = self.counts();
        let errors = match errors {
            1 => "1 error".to_owned(),
            n => format!("{n} errors"),
        };
        let skipped = self
            .cases
            .iter()
            .filter(|case| case.status == "skipped")
            .count();
        if skipped == 0 {
            format!("{passed} passed, {failed} failed, {errors}")
        } else {
            format!("{passed} passed, {failed} failed, {errors}, {skipped} not run live")
        }
    }

    /// The report as JUnit XML: one test suite, one test case per case.
    pub fn junit(&self) -> String {
        let mut suite = quick_junit::TestSuite::new(format!("terminus ({})", self.target));
        for case in &self.cases {
            let status = if case.passed() {
                quick_junit::TestCaseStatus::success()
            } else if case.status == "skipped" {
                let mut status = quick_junit::TestCaseStatus::skipped();
                status.set_message(case.message.clone().unwrap_or_default());
                status
            } else {
                let kind = if case.status == "error" {
                    quick_junit::NonSuccessKind::Error
                } else {
                    quick_junit::NonSuccessKind::Failure
                };
                let mut status = quick_junit::TestCaseStatus::non_success(kind);
                status.set_description(case.message.clone().unwrap_or_default());
                status.set_message(case.summary().unwrap_or_default());
                status.set_type(if kind == quick_junit::NonSuccessKind::Error {
                    "error"
                } else {
                    "failure"
                });
                status
            };
            let (classname, name) = case.junit_names();
            let mut test_case = quick_junit::TestCase::new(name, status);
            test_case.set_classname(classname);
            test_case.set_time(Duration::from_millis(case.duration_ms));
            if let Some(file) = &case.file {
                test_case.extra.insert("file".into(), file.clone().into());
            }
            suite.add_test_case(test_case);
        }
        suite.set_time(Duration::from_millis(self.duration_ms));
        suite.set_timestamp(utc(self.started));
        let mut report = quick_junit::Report::new("terminus");
        report.add_test_suite(suite);
        report.to_string().unwrap_or_default()
    }
}

/// A time as JUnit writes it, in UTC (`2026-11-27T09:42:55.123+00:00`).
fn utc(at: SystemTime) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::<chrono::Utc>::from(at).fixed_offset()
}

fn millis(duration: Duration) -> u64 {
    duration.as_millis().try_into().unwrap_or(u64::MAX)
}
