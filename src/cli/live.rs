//! `terminus run --live`: the cases against a real account (the book, docs/src/live.md). Credentials come from the
//! provider's environment variables only; what runs is decided by `live::plan`, every request of a safe case is
//! proven unable to name an existing instance first (`live::guard`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use super::{conclude, print_failures, unusable, write_creating_dirs};
use crate::case;
use crate::harness::Outcome;
use crate::harness::report::{CaseReport, Report};
use crate::live::progress::Progress;
use crate::live::{self, LiveConfig, LiveCredentials, Plan, Tiers, runner::Endpoint};
use crate::provider::ProviderId;

/// Live mode's flags of `terminus run`.
#[derive(Debug, clap::Args)]
pub(super) struct LiveArgs {
    /// Run the cases against a real account (credentials from the provider's environment variables: the
    /// book, docs/src/live.md). Only safe cases run unless a tier is opted into.
    #[arg(long)]
    pub(super) live: bool,
    /// The provider whose cases run live: tencent, tencent-legacy or zenlayer-bmc.
    #[arg(long, default_value = "tencent", requires = "live")]
    provider: String,
    /// The endpoint [default: the provider's production host].
    #[arg(long, value_name = "URL", requires = "live")]
    endpoint: Option<String>,
    /// A CA certificate (PEM) to trust for the endpoint, e.g. the one `terminus serve --cloud --ca-out` wrote.
    #[arg(long, value_name = "FILE", requires = "live")]
    ca_cert: Option<PathBuf>,
    /// Also run destructive cases, on instances the run creates, tags, ledgers and destroys (costs money).
    /// Tencent Cloud only: refused for zenlayer-bmc, whose DescribeInstances documents no tags, so that a
    /// created instance's ownership cannot be read back before a terminate (and bare metal is billed monthly).
    #[arg(long, requires = "live")]
    provision: bool,
    /// Also run rate-limit cases (they throttle the whole account for a second).
    #[arg(long, requires = "live")]
    rate_limit: bool,
    /// The most instances a --provision run may create.
    #[arg(long, default_value_t = 2, requires = "live")]
    max_instances: u32,
    /// With --provision: the zone instances are created in (`Placement.Zone`, e.g. ap-guangzhou-3).
    #[arg(long, requires = "provision")]
    zone: Option<String>,
    /// With --provision: the image they boot (a public image id, e.g. img-eb30mz89).
    #[arg(long, requires = "provision")]
    image: Option<String>,
    /// With --provision: the instance type (the cheapest the zone sells).
    #[arg(long, default_value = "S5.SMALL1", requires = "provision")]
    instance_type: String,
    /// With --provision: the server-side deadline after which each created instance's ActionTimer terminates it,
    /// even if terminus dies (at least 5 minutes, the API's minimum).
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration, requires = "provision")]
    deadline: std::time::Duration,
    /// Where the run's ledger of created instances is written (`terminus sweep` reads it).
    #[arg(long, value_name = "DIR", default_value = ".terminus/ledger")]
    ledger_dir: PathBuf,
    /// The least time between two requests (eight a second by default: under every documented limit of the
    /// actions the cases send). Lower it only against a stand-in (`terminus serve --cloud`).
    #[arg(long, env = "TERMINUS_LIVE_PACE", default_value = "125ms", value_parser = humantime::parse_duration, requires = "live")]
    pace: std::time::Duration,
    /// Record each live case's result in this validation record (meant to be committed, e.g. validation/live.json).
    #[arg(long, value_name = "FILE", requires = "live")]
    validation: Option<PathBuf>,
}

pub(super) fn run(
    source: &case::CaseSource,
    filter: &[String],
    tags: &[String],
    args: &LiveArgs,
    record: &Option<PathBuf>,
    json: &Option<PathBuf>,
    junit: &Option<PathBuf>,
) -> ExitCode {
    let Some(provider) = ProviderId::from_name(&args.provider) else {
        return unusable(format!(
            "--provider {}: expected one of tencent, tencent-legacy, zenlayer-bmc",
            args.provider
        ));
    };
    let credentials = match LiveCredentials::from_env(provider, |name| std::env::var(name).ok()) {
        Ok(credentials) => credentials,
        Err(message) => return unusable(message),
    };
    if provider == ProviderId::ZenlayerBmc && args.provision {
        return unusable(
            "--provision is refused for zenlayer-bmc: its DescribeInstances documents no tags, so terminus \
             cannot read back that an instance is this run's before terminating it (and bare metal is billed \
             monthly); run its safe cases without --provision",
        );
    }
    if provider != ProviderId::ZenlayerBmc && credentials.region.is_none() {
        return unusable("live mode needs a region: set TENCENTCLOUD_REGION (e.g. ap-guangzhou)");
    }
    if let Some(path) = args.ca_cert.as_ref().filter(|path| !path.is_file()) {
        return unusable(format!("--ca-cert {}: no such file", path.display()));
    }
    let endpoint = args
        .endpoint
        .clone()
        .unwrap_or_else(|| LiveConfig::production(provider).to_owned());
    // The legacy gateway has no DescribeInstances here: its proofs go to API 3.0, the same account. A custom
    // endpoint (the stand-in) serves both.
    let proof_endpoint = if args.endpoint.is_none() && provider == ProviderId::TencentLegacy {
        LiveConfig::production(ProviderId::Tencent).to_owned()
    } else {
        endpoint.clone()
    };
    let mut config = LiveConfig {
        provider,
        endpoint: endpoint.clone(),
        proof_endpoint: proof_endpoint.clone(),
        credentials,
        tiers: Tiers {
            provision: args.provision,
            rate_limit: args.rate_limit,
        },
        ledger_dir: args.ledger_dir.clone(),
        progress: None,
        provision: match (&args.zone, &args.image) {
            (Some(zone), Some(image)) => Some(live::runner::ProvisionConfig {
                provisioning: live::cloud::Provisioning {
                    zone: zone.clone(),
                    image: image.clone(),
                    instance_type: args.instance_type.clone(),
                    deadline: args.deadline,
                },
                max_instances: usize::try_from(args.max_instances).unwrap_or(usize::MAX),
                wait: std::time::Duration::from_secs(600),
            }),
            _ => None,
        },
    };

    let selected = |id: &str| filter.is_empty() || filter.iter().any(|f| id.contains(f));
    // A case of this provider that cannot be loaded (a header that smuggles a line break…) is an error of the
    // run, named, never a silent omission.
    let mut unloadable = Vec::new();
    let mut runnable: Vec<case::Loaded> = Vec::new();
    for found in source.cases() {
        match found.loaded {
            Ok(loaded) => runnable.push(loaded),
            Err(error)
                if found.id.starts_with(&format!("{}/", provider.name()))
                    && selected(&found.id) =>
            {
                unloadable.push(format!("ERR  {}: {error}", found.id));
            }
            Err(_) => {}
        }
    }
    runnable.retain(|loaded| {
        loaded.provider == provider
            && selected(&loaded.id)
            && (tags.is_empty() || tags.iter().any(|t| loaded.case.tags.contains(t)))
    });
    for line in &unloadable {
        out!("{line}");
    }
    if runnable.is_empty() {
        return unusable(format!(
            "no {} case selected in {}",
            provider.name(),
            source.describe()
        ));
    }
    let progress = Arc::new(Progress::new(runnable.len(), say));
    config.progress = Some(Arc::clone(&progress));
    // A sweep goes to API 3.0: the proofs' endpoint (the production host unless --endpoint named another).
    progress.sweep_target(
        args.endpoint
            .as_ref()
            .map(|_| config.proof_endpoint.as_str()),
        args.ca_cert.as_deref(),
    );
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return unusable(format!("cannot start a runtime: {error}")),
    };
    out!(
        "running {} {} cases live against {endpoint}",
        runnable.len(),
        provider.name()
    );
    let started = Instant::now();
    let started_at = std::time::SystemTime::now();
    let results = runtime.block_on(async {
        tokio::spawn(until_stopped(Arc::clone(&progress)));
        let endpoint = Endpoint::resolve(&config.endpoint, args.ca_cert.as_deref())
            .await?
            .paced(args.pace);
        // The proofs only read: their connection is kept between them.
        let proofs = Endpoint::resolve(&config.proof_endpoint, args.ca_cert.as_deref())
            .await?
            .paced(args.pace)
            .reusing();
        // One read before any case: a wrong endpoint, key, region or clock stops the run here.
        live::preflight::check(
            &proofs,
            config.provider,
            &config.credentials,
            &config.proof_endpoint,
            live::runner::TIMEOUT,
        )
        .await
        .map_err(|why| format!("preflight failed, no case was run: {why}"))?;
        out!(
            "preflight ok: {} answers, credentials and clock accepted",
            config.proof_endpoint
        );
        Ok::<_, String>(
            live::run_live(
                runnable,
                &config,
                &endpoint,
                &proofs,
                |loaded, result| match (&result.plan, &result.run) {
                    (_, Some(run)) => {
                        let mark = match run.outcome {
                            Outcome::Passed => "ok  ",
                            Outcome::Failed { .. } => "FAIL",
                            Outcome::Error { .. } => "ERR ",
                        };
                        out!("{mark} {} ({} ms)", loaded.id, run.duration.as_millis());
                    }
                    (plan, None) => out!("SKIP {}: {}", loaded.id, reason(plan)),
                },
            )
            .await,
        )
    });
    let results = match results {
        Ok(results) => results,
        Err(message) => return unusable(message),
    };
    let left = progress.left_behind();
    if let Some(left) = &left {
        out!("{left}");
    }

    let mut reports = Vec::new();
    let mut unwritten = Vec::new();
    let mut validations = Vec::new();
    for (loaded, result) in &results {
        let Some(run) = &result.run else {
            reports.push(CaseReport::skipped(loaded.id.clone(), reason(&result.plan)));
            continue;
        };
        let mut report = CaseReport::from_run(run, Some(loaded.path.display().to_string()));
        if let Outcome::Failed { .. } = run.outcome {
            report.message = report.message.map(|message| {
                format!(
                    "{message}\nwhich side to change: the real API is the ground truth. Check the case's source \
                     ({}), then change the case's expectation and the mock to what live answered.",
                    loaded.case.source.doc
                )
            });
        }
        reports.push(report);
        if let Some(dir) = record {
            let path = dir.join(format!("{}@live.snap", run.id));
            let text = live::outcome::render(provider, &run.exchanges);
            unwritten.extend(write_creating_dirs(&path, text).err());
        }
        validations.push((run.id.clone(), validation(provider, &config, run)));
    }
    if let Some(path) = &args.validation {
        let written = live::validation::read(path).and_then(|mut record| {
            record.extend(validations);
            live::validation::write(path, &record)
        });
        unwritten.extend(written.err());
    }
    let report = Report::new(
        format!("live {endpoint}"),
        reports,
        started_at,
        started.elapsed(),
    );
    let failures: Vec<&CaseReport> = report
        .cases
        .iter()
        .filter(|case| case.status == "failed" || case.status == "error")
        .collect();
    print_failures(&failures);
    let concluded = conclude(
        &report,
        !failures.is_empty() || left.is_some() || !unloadable.is_empty(),
        json.as_deref(),
        junit.as_deref(),
        unwritten,
    );
    if progress.stopping() {
        if left.is_none() {
            out!("stopped by the operator; this run left nothing alive");
        }
        return ExitCode::from(STOPPED);
    }
    concluded
}

/// The exit status of a run the operator stopped (128 + SIGINT, as a shell reports it).
const STOPPED: u8 = 130;

/// Tells a progress line on standard output.
fn say(line: &str) {
    out!("{line}");
}

/// The operator's stop: the first Ctrl-C or SIGTERM stops new cases and lets the run tear down what it created;
/// the second exits at once, still telling the ledger and the ids left.
async fn until_stopped(progress: Arc<Progress>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    for signals in 1.. {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        if signals == 1 {
            progress.stop();
            out!(
                "stopping: no new case starts; tearing down what this run created (Ctrl-C again exits at once)"
            );
        } else {
            out!(
                "{}",
                progress
                    .left_behind()
                    .unwrap_or_else(|| "this run left nothing alive".into())
            );
            std::process::exit(i32::from(STOPPED));
        }
    }
}

/// Why a case was not sent, as the report says it.
fn reason(plan: &Plan) -> String {
    match plan {
        Plan::NotLiveVerifiable(why) => format!("not live-verifiable: {why}"),
        Plan::OptIn(why) => format!("opt-in: {why}"),
        Plan::Safe | Plan::Provision => "not run".into(),
    }
}

/// The validation record of a case that ran.
fn validation(
    provider: ProviderId,
    config: &LiveConfig,
    run: &crate::harness::CaseRun,
) -> live::validation::Validation {
    let codes = run
        .exchanges
        .iter()
        .filter_map(|exchange| exchange.response.as_ref().ok())
        .map(|response| match provider.read_answer(&response.body) {
            Ok(Ok(_)) => "success".to_owned(),
            Ok(Err(code)) => code,
            Err(_) => format!("HTTP {}", response.status),
        })
        .collect();
    let date = time::OffsetDateTime::now_utc().date().to_string();
    live::validation::Validation {
        date,
        endpoint: config.endpoint.clone(),
        region: config.credentials.region.clone(),
        result: match run.outcome {
            Outcome::Passed => "passed",
            Outcome::Failed { .. } => "failed",
            Outcome::Error { .. } => "error",
        }
        .to_owned(),
        terminus: env!("CARGO_PKG_VERSION").to_owned(),
        codes,
    }
}
