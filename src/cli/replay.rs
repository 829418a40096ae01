//! `terminus replay`: a cassette against the mock, with a drift report (the book, docs/src/recorder.md).

use std::path::PathBuf;
use std::process::ExitCode;

use super::{Format, read_world, unusable};
use crate::record::{cassette, replay};

/// Re-send each recorded request to the mock and compare its answer with the recorded one: status, error code,
/// the answer's fields. Exits 1 when any exchange differs.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The cassette directory.
    cassette: PathBuf,
    /// `mock` (a fresh embedded mock) or the base URL of a running `terminus serve` (http://…).
    #[arg(long, default_value = "mock")]
    target: String,
    /// World file to replay in, the fixture accounts added [default: derived from the recording].
    #[arg(long)]
    world: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub(super) fn run(args: Args) -> ExitCode {
    let (_, recorded) = match cassette::read(&args.cassette) {
        Ok(read) => read,
        Err(error) => return unusable(error),
    };
    let world = match &args.world {
        Some(path) => match read_world(path)
            .and_then(|world| replay::with_fixture_accounts(world, &recorded))
        {
            Ok(world) => world,
            Err(error) => return unusable(error),
        },
        None => match replay::derive_world(&recorded) {
            Ok(world) => world,
            Err(error) => return unusable(error),
        },
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return unusable(error),
    };
    let verdicts = runtime.block_on(async {
        if args.target == "mock" {
            replay::replay_on_mock(&recorded, world).await
        } else {
            replay::replay_on_url(&recorded, world, &args.target).await
        }
    });
    let verdicts = match verdicts {
        Ok(verdicts) => verdicts,
        Err(error) => return unusable(error),
    };
    let drifted = verdicts.iter().filter(|verdict| !verdict.same).count();
    match args.format {
        Format::Json => out!(
            "{}",
            serde_json::json!({
                "cassette": args.cassette.display().to_string(),
                "target": args.target,
                "exchanges": verdicts,
                "drifted": drifted,
            })
        ),
        Format::Text => {
            for verdict in &verdicts {
                if verdict.same {
                    out!("same     {}", verdict.name);
                } else {
                    out!("differs  {}", verdict.name);
                    for difference in &verdict.differences {
                        out!("  {difference}");
                    }
                }
            }
            out!("\n{drifted} of {} exchanges differ", verdicts.len());
        }
    }
    if drifted == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
