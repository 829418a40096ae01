//! The `terminus` command line: one file per subcommand. This module and its children are the only code that
//! prints; everything they call returns values.
#![allow(clippy::print_stdout, clippy::print_stderr)]

/// `println!` that ignores a closed pipe (`terminus diff … | head`) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod batched_stderr;
mod bench;
mod coverage;
mod diff;
mod health;
mod live;
mod plain_log;
mod record;
mod replay;
mod run;
mod scenarios;
mod serve;
mod sign;
mod sweep;
mod verify;

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::file;
use crate::harness::report::{CaseReport, Report};
use crate::message::Request;
use crate::signing::{Step, Trace};
use crate::world::WorldSpec;

/// terminus: conformance suite and request recorder for the cloud APIs that terminate instances.
#[derive(Debug, Parser)]
#[command(name = "terminus", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Bench(bench::Args),
    Coverage(coverage::Args),
    Diff(diff::Args),
    Health(health::Args),
    Record(record::Args),
    Replay(replay::Args),
    Run(Box<run::Args>),
    Scenarios(scenarios::Args),
    Serve(serve::Args),
    Sign(sign::Args),
    Sweep(sweep::Args),
    Verify(verify::Args),
}

/// How results are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Readable text.
    #[default]
    Text,
    /// One JSON document.
    Json,
}

/// Exit status for input that cannot be used at all (not HTTP, no Host, unknown scheme…).
const UNUSABLE: u8 = 2;

/// The most worker threads `serve`, `bench` and `run --jobs` accept: far more than loopback testing can use, and few
/// enough that a typo (`--workers 5000`) is refused before threads run out, not after.
const MAX_THREADS: usize = 256;

/// Runs `start`, which spawns threads, so that a panic inside it ends the process at once with exit status 2 and
/// the reason. tokio panics when the OS refuses a worker thread (a memory or thread limit); unwinding from there
/// dropped a half-built runtime that waited for threads that never started, and the process stayed up listening
/// nowhere. Only around start-up: once serving, a panic in a request task is tokio's to contain.
fn starting<T>(what: &'static str, start: impl FnOnce() -> T) -> T {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let reason = payload
            .downcast_ref::<&str>()
            .map(|reason| (*reason).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "it panicked".to_owned());
        eprintln!("error: cannot start {what}: {reason}");
        std::process::exit(i32::from(UNUSABLE));
    }));
    let started = start();
    std::panic::set_hook(previous);
    started
}

/// A clap value parser for a whole number in `min..=max` (`--help` states the range next to each flag). clap
/// turns its error into a usage error: exit status 2, the flag named.
fn count_in(
    min: usize,
    max: usize,
) -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync + 'static {
    move |text| {
        let value: usize = text
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not a whole number from {min} to {max}"))?;
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(format!("{value} is out of range: from {min} to {max}"))
        }
    }
}

impl Cli {
    /// Runs the chosen subcommand and returns the process's exit status.
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Bench(args) => bench::run(args),
            Command::Coverage(args) => coverage::run(args),
            Command::Diff(args) => diff::run(args),
            Command::Health(args) => health::run(args),
            Command::Record(args) => record::run(args),
            Command::Replay(args) => replay::run(args),
            Command::Run(args) => run::run(*args),
            Command::Scenarios(args) => scenarios::run(args),
            Command::Serve(args) => serve::run(args),
            Command::Sign(args) => sign::run(args),
            Command::Sweep(args) => sweep::run(args),
            Command::Verify(args) => verify::run(args),
        }
    }
}

/// The largest file the command line reads whole: a world file, a raw request, a trace or a catalog. The same as
/// the largest body the control API accepts (a world file sent there).
pub(crate) const MAX_INPUT_BYTES: u64 = crate::mock::Limits::LARGEST_BODY as u64;

/// Reads a raw HTTP/1.1 request from a file, or from standard input for `-` (both at most [`MAX_INPUT_BYTES`]).
fn read_request(path: &Path) -> Result<Request, String> {
    let bytes = if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .take(MAX_INPUT_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|error| format!("cannot read standard input: {error}"))?;
        if bytes.len() as u64 > MAX_INPUT_BYTES {
            return Err(format!(
                "cannot read standard input: larger than {MAX_INPUT_BYTES} bytes"
            ));
        }
        bytes
    } else {
        file::read(path, MAX_INPUT_BYTES).map_err(|error| error.to_string())?
    };
    Request::parse(&bytes).map_err(|error| format!("{}: {error}", path.display()))
}

/// Prints an error on standard error and returns the "unusable input" status.
fn unusable(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(UNUSABLE)
}

/// Reads the world file `--world` names.
fn read_world(path: &Path) -> Result<WorldSpec, String> {
    let text = file::read_text(path, MAX_INPUT_BYTES).map_err(|error| error.to_string())?;
    WorldSpec::from_toml(&text, &path.display().to_string()).map_err(|error| error.to_string())
}

/// Writes `text` to `path` whole, never through a link planted there, making its directory first; the error names
/// the file.
fn write_creating_dirs(path: &Path, text: impl AsRef<[u8]>) -> Result<(), String> {
    file::write_new_creating_dirs(path, text.as_ref()).map_err(|error| error.to_string())
}

/// Prints each failed case's step and message under a `----` heading.
fn print_failures(failures: &[&CaseReport]) {
    for failure in failures {
        out!(
            "\n---- {} (step {}) ----\n{}",
            failure.id,
            failure.step.unwrap_or(0),
            failure.message.as_deref().unwrap_or("")
        );
    }
}

/// Ends a run of cases: prints the summary and writes the JSON and JUnit reports where asked. Unusable when a report,
/// or anything already in `unwritten`, could not be written; otherwise failed when `failed`.
fn conclude(
    report: &Report,
    failed: bool,
    json: Option<&Path>,
    junit: Option<&Path>,
    mut unwritten: Vec<String>,
) -> ExitCode {
    let write = |path: &Path, text: String| {
        file::write_new(path, text.as_bytes())
            .err()
            .map(|error| error.to_string())
    };
    out!("\n{} in {} ms", report.summary(), report.duration_ms);
    if let Some(path) = json {
        unwritten.extend(write(
            path,
            serde_json::to_string_pretty(report).unwrap_or_default(),
        ));
    }
    if let Some(path) = junit {
        unwritten.extend(write(path, report.junit()));
    }
    if !unwritten.is_empty() {
        unusable(unwritten.join("\nerror: "))
    } else if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The trace as text: a `== step` heading above each value.
fn trace_text(trace: &Trace) -> String {
    trace
        .steps()
        .map(|(step, value)| format!("== {step}\n{value}\n"))
        .collect()
}

/// The trace as a JSON object, steps in computation order. Secret steps (derived keys, a Bearer token) only
/// when `reveal` (`--trace`): a JSON document is more often stored and shared than read.
fn trace_json(trace: &Trace, reveal: bool) -> serde_json::Value {
    trace
        .steps()
        .filter(|(step, _)| reveal || !trace.is_secret(*step))
        .map(|(step, value)| (step.name().to_owned(), serde_json::Value::from(value)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Reads a trace from JSON: `sign --format json` output, or a bare object of step names to values.
fn read_trace(path: &Path, scheme: crate::signing::Scheme) -> Result<Trace, String> {
    let text = file::read_text(path, MAX_INPUT_BYTES).map_err(|error| error.to_string())?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|error| format!("{}: not JSON: {error}", path.display()))?;
    let steps = json.get("trace").unwrap_or(&json);
    let steps = steps.as_object().ok_or_else(|| {
        format!(
            "{}: expected an object of step names to values",
            path.display()
        )
    })?;
    let mut trace = Trace::new(scheme);
    for (name, value) in steps {
        let step = Step::from_name(name)
            .ok_or_else(|| format!("{}: unknown step {name:?}", path.display()))?;
        let value = value
            .as_str()
            .ok_or_else(|| format!("{}: step {name:?} is not a string", path.display()))?;
        trace.record(step, value);
    }
    Ok(trace)
}

/// Writes bytes to standard output, ignoring a closed pipe.
fn write_stdout(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(bytes).and_then(|()| stdout.flush());
}
