//! The result of a run: one entry per case, sorted by case id, serialisable as JSON and as JUnit XML. Durations
//! sit in their own fields, so everything else is deterministic.

use std::time::Duration;

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
}

/// One case's result.
#[derive(Clone, Debug, Serialize)]
pub struct CaseReport {
    /// The case id.
    pub id: String,
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
    pub fn from_run(run: &CaseRun) -> Self {
        let (status, step, message) = match &run.outcome {
            Outcome::Passed => ("passed", None, None),
            Outcome::Failed { step, message } => ("failed", Some(*step), Some(message.clone())),
            Outcome::Error { step, message } => ("error", Some(*step), Some(message.clone())),
        };
        Self {
            id: run.id.clone(),
            status,
            step,
            message,
            duration_ms: millis(run.duration),
        }
    }

    /// The report of a case file that could not be read: an error, since nothing was checked.
    pub fn unreadable(id: String, message: String) -> Self {
        Self {
            id,
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
}

impl Report {
    /// A report of these cases, sorted.
    pub fn new(target: String, mut cases: Vec<CaseReport>, duration: Duration) -> Self {
        cases.sort_by(|a, b| a.id.cmp(&b.id));
        Self {
            target,
            cases,
            duration_ms: millis(duration),
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
                status.set_message(format!("step {}", case.step.unwrap_or(0)));
                status
            };
            let mut test_case = quick_junit::TestCase::new(case.id.clone(), status);
            test_case.set_time(Duration::from_millis(case.duration_ms));
            suite.add_test_case(test_case);
        }
        let mut report = quick_junit::Report::new("terminus");
        report.add_test_suite(suite);
        report.to_string().unwrap_or_default()
    }
}

fn millis(duration: Duration) -> u64 {
    duration.as_millis().try_into().unwrap_or(u64::MAX)
}
