//! `terminus sweep`: finds instances a live run left behind (killed mid-way, a failed teardown) and, with
//! `--yes`, destroys them. It lists by default. An instance is destroyed only if it carries terminus's
//! `terminus:run` tag, is in a ledger terminus wrote under that same run, and is older than the window: never by
//! name, never by the absence of a tag, never "everything in the region" (`reference/live-mode.md` §2.5).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::unusable;
use crate::live::cloud::{self, Cloud};
use crate::live::ledger::{self, Verdict};
use crate::live::runner::Endpoint;
use crate::live::{LiveConfig, LiveCredentials};
use crate::provider::ProviderId;

/// List (and with --yes destroy) the instances live runs left behind: tagged, ledgered, older than the window.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The endpoint [default: Tencent Cloud API 3.0's production host]. Credentials: TENCENTCLOUD_SECRET_ID,
    /// TENCENTCLOUD_SECRET_KEY, TENCENTCLOUD_TOKEN, TENCENTCLOUD_REGION.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// A CA certificate (PEM) to trust for the endpoint.
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// Where live runs write their ledgers.
    #[arg(long, value_name = "DIR", default_value = ".terminus/ledger")]
    ledger_dir: PathBuf,
    /// Only instances created longer ago than this (`2h`, `30m`, `0s`).
    #[arg(long, default_value = "2h", value_parser = humantime::parse_duration)]
    older_than: Duration,
    /// Destroy what the list marks `destroy` (without it, nothing is changed).
    #[arg(long)]
    yes: bool,
}

pub(super) fn run(args: Args) -> ExitCode {
    let credentials =
        match LiveCredentials::from_env(ProviderId::Tencent, |name| std::env::var(name).ok()) {
            Ok(credentials) if credentials.region.is_some() => credentials,
            Ok(_) => return unusable("sweep needs a region: set TENCENTCLOUD_REGION"),
            Err(message) => return unusable(message),
        };
    let endpoint = args
        .endpoint
        .clone()
        .unwrap_or_else(|| LiveConfig::production(ProviderId::Tencent).to_owned());
    let (ledgers, problems) = ledger::read_all(&args.ledger_dir);
    for problem in &problems {
        out!("warning: unreadable ledger {problem}");
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return unusable(format!("cannot start a runtime: {error}")),
    };
    let older_than = i64::try_from(args.older_than.as_secs()).unwrap_or(i64::MAX);
    let swept = runtime.block_on(async {
        let transport = Endpoint::resolve(&endpoint, args.ca_cert.as_deref()).await?;
        let cloud = Cloud {
            transport: &transport,
            credentials: &credentials,
        };
        cloud::sweep(&cloud, &ledgers, older_than, args.yes).await
    });
    let report = match swept {
        Ok(report) => report,
        Err(message) => return unusable(format!("sweep against {endpoint}: {message}")),
    };
    out!(
        "{} instances carry the terminus:run tag at {endpoint} ({} ledgered ids in {})",
        report.len(),
        ledgers.len(),
        args.ledger_dir.display()
    );
    let mut failed = false;
    for (listed, verdict, done) in &report {
        let run = listed.run_tag.as_deref().unwrap_or("-");
        match (verdict, done) {
            (Verdict::Keep(why), _) => out!("keep     {} (run {run}): {why}", listed.id),
            (Verdict::Destroy, None) => {
                out!("destroy  {} (run {run}): pass --yes to destroy", listed.id)
            }
            (Verdict::Destroy, Some(result)) => {
                failed |= result != "terminated";
                out!("destroy  {} (run {run}): {result}", listed.id);
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
