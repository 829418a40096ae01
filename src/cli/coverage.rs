//! `terminus coverage`: documented error codes × cases.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;

use super::unusable;
use crate::case;
use crate::coverage::{self, Catalog};

/// Print every documented error code with the cases that cover it, or the reason none can.
///
/// Exits 1 when a documented code has neither a case nor a reason.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The cases directory (holding `documented-codes.toml`).
    #[arg(long, default_value = "cases")]
    cases: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CoverageFormat::Md)]
    format: CoverageFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum CoverageFormat {
    /// A Markdown table.
    Md,
    /// A JSON list of `{provider, code, source, cases, reason, proof, message-source}`.
    Json,
}

pub(super) fn run(args: Args) -> ExitCode {
    let catalog = match Catalog::load(&args.cases.join("documented-codes.toml")) {
        Ok(catalog) => catalog,
        Err(message) => return unusable(message),
    };
    let mut cases = Vec::new();
    for path in case::discover(&args.cases) {
        match case::load(&args.cases, &path) {
            Ok(loaded) => cases.push(loaded),
            Err(error) => return unusable(error),
        }
    }
    let rows = coverage::coverage(&catalog, &cases);
    let equivalents = match coverage::equivalents(&catalog, &cases) {
        Ok(equivalents) => equivalents,
        Err(message) => return unusable(message),
    };
    match args.format {
        CoverageFormat::Md => {
            out!("{}", coverage::markdown(&rows).trim_end());
            out!(
                "\nThe same situation under each provider:\n\n{}",
                coverage::equivalents_markdown(&equivalents).trim_end()
            );
        }
        CoverageFormat::Json => out!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        ),
    }
    if rows.iter().any(coverage::Row::is_gap) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
