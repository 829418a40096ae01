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
    /// The live validation record (`terminus run --live --validation`): when it exists, each documented code
    /// is listed with the date it was last seen from a live endpoint.
    #[arg(long, value_name = "FILE", default_value = "validation/live.json")]
    validation: PathBuf,
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
    let seen_live = if args.validation.is_file() {
        match crate::live::validation::read(&args.validation) {
            Ok(record) => Some(crate::live::validation::last_seen(&record)),
            Err(message) => return unusable(message),
        }
    } else {
        None
    };
    match args.format {
        CoverageFormat::Md => {
            out!("{}", coverage::markdown(&rows).trim_end());
            out!(
                "\nThe same situation under each provider:\n\n{}",
                coverage::equivalents_markdown(&equivalents).trim_end()
            );
            if let Some(seen) = &seen_live {
                out!(
                    "\nLast seen from a live endpoint ({}):\n\n| provider | code | last seen live |\n|---|---|---|",
                    args.validation.display()
                );
                for row in &rows {
                    let date = seen
                        .get(&(row.provider.clone(), row.code.clone()))
                        .map_or("never", String::as_str);
                    out!("| {} | {} | {date} |", row.provider, row.code);
                }
            }
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
