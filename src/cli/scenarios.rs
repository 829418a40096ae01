//! `terminus scenarios`: the cases as scenarios any client can run, every default explicit (`--format json`; the
//! format is `scenarios.schema.json`, and docs/src/scenarios.md shows a runner).

use std::path::PathBuf;
use std::process::ExitCode;

use super::{Format, unusable};
use crate::case::{CaseSource, export};

/// Export every case as a scenario another client can run against `terminus serve`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Output format: text lists the scenarios; json is the export (schema: `terminus scenarios --schema`).
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Export the cases of this directory instead of the ones built into the binary.
    #[arg(long, value_name = "DIR")]
    cases: Option<PathBuf>,
    /// Only scenarios whose id contains this text (repeatable: any matches).
    #[arg(long)]
    filter: Vec<String>,
    /// Print the JSON schema of the export instead.
    #[arg(long)]
    schema: bool,
}

pub(super) fn run(args: Args) -> ExitCode {
    if args.schema {
        out!(
            "{}",
            serde_json::to_string_pretty(&export::schema()).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    let source = match &args.cases {
        Some(dir) if !dir.is_dir() => {
            return unusable(format!("no cases directory at {}", dir.display()));
        }
        Some(dir) => CaseSource::Directory(dir.clone()),
        None => CaseSource::Embedded,
    };
    let mut cases = Vec::new();
    for found in source.cases() {
        if !args.filter.is_empty() && !args.filter.iter().any(|filter| found.id.contains(filter)) {
            continue;
        }
        match found.loaded {
            Ok(loaded) => cases.push(loaded),
            // An export with a case missing would pass for complete: refuse instead.
            Err(error) => return unusable(error),
        }
    }
    if cases.is_empty() {
        return unusable(format!("no scenario selected from {}", source.describe()));
    }
    let scenarios = export::scenarios(cases);
    match args.format {
        Format::Json => out!(
            "{}",
            serde_json::to_string_pretty(&scenarios).unwrap_or_default()
        ),
        Format::Text => {
            for scenario in &scenarios.scenarios {
                out!(
                    "{}  ({} step{})  {}",
                    scenario.id,
                    scenario.steps.len(),
                    if scenario.steps.len() == 1 { "" } else { "s" },
                    scenario.title
                );
            }
            out!(
                "\n{} scenarios; --format json exports them",
                scenarios.scenarios.len()
            );
        }
    }
    ExitCode::SUCCESS
}
