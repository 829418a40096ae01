//! `terminus run`: the main job. Runs the cases against the embedded mock (default) or a running server.
//!
//! The cases are the ones built into the binary unless `--cases DIR` or case files are given; they run in parallel
//! but print in id order, each as it and every one before it has finished.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use super::{
    MAX_THREADS, conclude, count_in, print_failures, starting, unusable, write_creating_dirs,
};
use crate::case::{CaseSource, Loaded};
use crate::harness::report::{CaseReport, Report};
use crate::harness::{self, Outcome, Target, snapshot};

/// Run the conformance cases and report.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Run only these case files (`cases/tencent/terminate-instances/x.toml`; each at
    /// `…/<provider>/<action>/<scenario>.toml`).
    #[arg(value_name = "CASE_FILE", conflicts_with = "cases")]
    files: Vec<PathBuf>,
    /// Run the cases of this directory instead of the ones built into the binary.
    #[arg(long, value_name = "DIR")]
    cases: Option<PathBuf>,
    /// Run against this server (e.g. `terminus serve` at http://127.0.0.1:18080) instead of the embedded mock.
    /// It must offer the control API; cases then run one at a time.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// Run only cases whose id contains this text (repeatable: any matches).
    #[arg(long)]
    filter: Vec<String>,
    /// Run only cases with this tag (repeatable: any matches).
    #[arg(long)]
    tag: Vec<String>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write a JSON report here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write each case's exchanges here, as `<case id>@<target>.snap` (compare with `terminus diff`).
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
    /// Cases run at once against the embedded mock (1 to 256).
    #[arg(long, default_value_t = 8, value_parser = count_in(1, MAX_THREADS))]
    jobs: usize,
    #[command(flatten)]
    pub(super) live: super::live::LiveArgs,
}

pub(super) fn run(args: Args) -> ExitCode {
    let source = match (&args.cases, args.files.is_empty()) {
        (Some(dir), _) if !dir.is_dir() => {
            return unusable(format!(
                "no cases directory at {}; pass --cases DIR, or no --cases for the built-in cases",
                dir.display()
            ));
        }
        (Some(dir), _) => CaseSource::Directory(dir.clone()),
        (None, false) => CaseSource::Files(args.files.clone()),
        (None, true) => CaseSource::Embedded,
    };
    if args.live.live {
        return super::live::run(
            &source,
            &args.filter,
            &args.tag,
            &args.live,
            &args.record,
            &args.json,
            &args.junit,
        );
    }
    let runtime = match starting("a runtime", || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    }) {
        Ok(runtime) => runtime,
        Err(error) => return unusable(format!("cannot start a runtime: {error}")),
    };
    let target = args.target.clone().map_or(Target::Mock, Target::Url);
    let jobs = if matches!(target, Target::Url(_)) {
        1
    } else {
        args.jobs.max(1)
    };
    let started = Instant::now();
    let started_at = SystemTime::now();

    let mut reports = Vec::new();
    let mut runnable = Vec::new();
    let mut files = BTreeMap::new();
    let found = source.cases();
    // A tree with no file where a case lives is the wrong root (a provider's directory given as `--cases`), not a
    // tree of broken cases.
    let holds_cases = found.iter().any(|found| found.id.matches('/').count() == 2);
    for found in found {
        let file = found.file.display().to_string();
        match found.loaded {
            Ok(loaded) if selected(&loaded, &args) => {
                files.insert(found.id, file);
                runnable.push(loaded);
            }
            Ok(_) => {}
            Err(error) => {
                let id = found.id;
                if args.filter.is_empty() || args.filter.iter().any(|filter| id.contains(filter)) {
                    out!("ERR  {id}: unreadable case file");
                    reports.push(CaseReport::unreadable(id, Some(file), error_chain(&error)));
                }
            }
        }
    }
    if runnable.is_empty() && (reports.is_empty() || !holds_cases) {
        let refused: String = reports
            .iter()
            .map(|report| format!("\n  {}", report.message.as_deref().unwrap_or(&report.id)))
            .collect();
        return unusable(format!(
            "no case selected: {} holds no case{}{}",
            source.describe(),
            selection(&args),
            if refused.is_empty() {
                String::new()
            } else {
                format!("; every case file found was refused:{refused}")
            }
        ));
    }
    out!(
        "running {} cases against {}",
        runnable.len(),
        args.target.as_deref().unwrap_or("the embedded mock")
    );

    let in_order = InOrder::new(runnable.iter().map(|loaded| loaded.id.clone()));
    let progress = move |run: &harness::CaseRun| {
        let mark = match run.outcome {
            Outcome::Passed => "ok  ",
            Outcome::Failed { .. } => "FAIL",
            Outcome::Error { .. } => "ERR ",
        };
        in_order.finished(
            &run.id,
            format!("{mark} {} ({} ms)", run.id, run.duration.as_millis()),
        );
    };
    let selected = runnable.len() + reports.len();
    let runs = runtime.block_on(harness::run_cases(runnable, &target, jobs, progress));
    // Every report is written, and every one that cannot be is named; any of them fails the run.
    let mut unwritten = Vec::new();
    for run in &runs {
        if let Some(record) = record_path(&args.record, &run.id, &target) {
            unwritten.extend(write_creating_dirs(&record, snapshot::render(&run.exchanges)).err());
        }
        reports.push(CaseReport::from_run(run, files.get(&run.id).cloned()));
    }
    let report = Report::new(
        args.target.clone().unwrap_or_else(|| "mock".into()),
        reports,
        started_at,
        started.elapsed(),
    );

    debug_assert_eq!(
        report.cases.len(),
        selected,
        "every selected case is reported"
    );
    let failures: Vec<&CaseReport> = report.cases.iter().filter(|case| !case.passed()).collect();
    print_failures(&failures);
    if !failures.is_empty() {
        out!("\nfailures:");
        failures
            .iter()
            .for_each(|failure| out!("    {}", failure.id));
    }
    conclude(
        &report,
        !failures.is_empty(),
        args.json.as_deref(),
        args.junit.as_deref(),
        unwritten,
    )
}

/// The selection in words, for the message when it matched nothing.
fn selection(args: &Args) -> String {
    let quoted = |items: &[String]| {
        items
            .iter()
            .map(|item| format!("{item:?}"))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let mut parts = Vec::new();
    if !args.filter.is_empty() {
        parts.push(format!("whose id contains {}", quoted(&args.filter)));
    }
    if !args.tag.is_empty() {
        parts.push(format!("tagged {}", quoted(&args.tag)));
    }
    if parts.is_empty() {
        " file (cases/<provider>/<action>/<scenario>.toml)".to_owned()
    } else {
        format!(" {}", parts.join(" and "))
    }
}

/// Prints each case's line once it and every case before it (in id order) have finished.
struct InOrder {
    state: Mutex<(usize, BTreeMap<usize, String>)>,
    positions: BTreeMap<String, usize>,
}

impl InOrder {
    fn new(ids: impl Iterator<Item = String>) -> Self {
        Self {
            state: Mutex::new((0, BTreeMap::new())),
            positions: ids.enumerate().map(|(index, id)| (id, index)).collect(),
        }
    }

    fn finished(&self, id: &str, line: String) {
        let Some(&position) = self.positions.get(id) else {
            out!("{line}");
            return;
        };
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (next, waiting) = &mut *state;
        waiting.insert(position, line);
        while let Some(line) = waiting.remove(next) {
            out!("{line}");
            *next += 1;
        }
    }
}

/// An error and its causes, on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

fn selected(loaded: &Loaded, args: &Args) -> bool {
    (args.filter.is_empty() || args.filter.iter().any(|filter| loaded.id.contains(filter)))
        && (args.tag.is_empty() || args.tag.iter().any(|tag| loaded.case.tags.contains(tag)))
}

fn record_path(dir: &Option<PathBuf>, id: &str, target: &Target) -> Option<PathBuf> {
    dir.as_ref()
        .map(|dir| dir.join(format!("{id}@{}.snap", target.name())))
}
