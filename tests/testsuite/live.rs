//! Live mode against the stand-in (`terminus serve --cloud`, here in process with its request log): the safety
//! claims are read from what reached the server, not from what the client meant to send.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use terminus::case::{self, Loaded};
use terminus::harness::{self, Target};
use terminus::live::runner::Endpoint;
use terminus::live::{self, LiveConfig, LiveCredentials, Tiers};
use terminus::mock::MockServer;
use terminus::provider::ProviderId;
use terminus::world::{Account, Instance, WorldSpec};

use crate::common::{destroyed, state_of};

/// The live identity: canaries, so that any output holding them is caught.
const LIVE_ID: &str = "AKIDcanaryLiveId000000000000000000";
const LIVE_KEY: &str = "canaryLiveSecretKey0000000000000";
const LIVE_TOKEN: &str = "canaryLiveSessionToken000000";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("terminus-live-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn live_account() -> Account {
    Account {
        secret_id: LIVE_ID.into(),
        secret_key: LIVE_KEY.into(),
        ..Account::new_default()
    }
}

/// The stand-in, as `terminus serve --cloud --tls --ca-out <dir>/ca.pem --log LOG` starts it: the cloud profile
/// over TLS with a generated CA (written next to the log, for `--ca-cert`), the given world, a request log.
fn stand_in(mut world: WorldSpec, log: &Path) -> MockServer {
    // Requests reach it unpaced (STAND_IN_PACE), so its rate limit is off: these tests run no rate-limit case, and
    // `knobs::` checks that the production pace stays under the documented limit.
    world.rate_limit.terminate_per_second = 0;
    let authority = terminus::tls::Authority::generate().expect("a CA is generated");
    authority
        .write_certificate(&ca_of(log))
        .expect("the CA is written");
    MockServer::builder()
        .world(world)
        .cloud(true)
        .log(Some(log.to_path_buf()))
        .tls(authority.server_config(std::sync::Arc::new(terminus::provider::is_provider_host)))
        .start()
        .expect("the stand-in starts")
}

/// A world that holds `account` and nothing else.
fn only(account: Account) -> WorldSpec {
    WorldSpec {
        accounts: vec![account].into(),
        ..WorldSpec::default()
    }
}

/// The pace of requests to a stand-in: none ([`stand_in`] has no rate limit to stay under; the default pace is
/// `live::runner::PACE`, and `knobs::` tests the pacer itself).
const STAND_IN_PACE: std::time::Duration = std::time::Duration::ZERO;

/// Where [`stand_in`] writes its CA certificate.
fn ca_of(log: &Path) -> PathBuf {
    log.with_file_name("ca.pem")
}

fn all_cases() -> Vec<Loaded> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
    case::discover(&root)
        .iter()
        .map(|path| case::load(&root, path).expect("every case loads"))
        .collect()
}

/// `terminus` with `args`, trusting the stand-in's CA (`--ca-cert`), the live identity in the environment only.
fn as_live_identity(args: &[&str], log: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_terminus"));
    command
        .args(args)
        .arg("--ca-cert")
        .arg(ca_of(log))
        .env("TENCENTCLOUD_SECRET_ID", LIVE_ID)
        .env("TENCENTCLOUD_SECRET_KEY", LIVE_KEY)
        .env("TENCENTCLOUD_REGION", "ap-guangzhou");
    command
}

/// `terminus run --live` against `endpoint`, the stand-in that logs to `log`; credentials in the environment only.
fn run_live_cli(provider: &str, endpoint: &str, log: &Path, extra: &[&str], token: bool) -> Output {
    let mut command = as_live_identity(
        &[
            "run",
            "--live",
            "--provider",
            provider,
            "--endpoint",
            endpoint,
            "--pace",
            "0s",
        ],
        log,
    );
    command
        .args(["--cases", concat!(env!("CARGO_MANIFEST_DIR"), "/cases")])
        .args(extra)
        .env("ZENLAYERCLOUD_SECRET_KEY_ID", LIVE_ID)
        .env("ZENLAYERCLOUD_SECRET_KEY_PASSWORD", LIVE_KEY);
    if token {
        command.env("TENCENTCLOUD_TOKEN", LIVE_TOKEN);
    } else {
        command.env_remove("TENCENTCLOUD_TOKEN");
    }
    command.output().expect("terminus runs")
}

fn log_lines(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a log line is JSON"))
        .collect()
}

fn is_read(action: &str) -> bool {
    action.starts_with("Describe") || action.starts_with("Get")
}

/// Without --provision, whatever the cases say and whatever the account holds, not one request that could
/// destroy anything reaches the endpoint naming an existing instance. The stand-in holds every instance any case
/// seeds, plus one of the ids the 101-id case sends: those cases must be refused before sending, the others sent.
#[test]
fn without_provision_nothing_existing_is_named_by_a_request_that_could_destroy() {
    let dir = scratch("safe");
    let log = dir.join("log.jsonl");
    let mut world = WorldSpec {
        accounts: vec![live_account()].into(),
        ..WorldSpec::default()
    };
    let mut seeded = BTreeSet::new();
    for loaded in all_cases() {
        for instance in &loaded.case.world.instances {
            if seeded.insert(instance.id.clone()) {
                world.instances.push(Instance::new(instance.id.clone()));
            }
        }
        for instance in &loaded.case.world.bmc_instances {
            if seeded.insert(instance.id.clone()) {
                let mut bmc = instance.clone();
                bmc.status = Default::default();
                world.bmc_instances.push(bmc);
            }
        }
    }
    world.instances.push(Instance::new("ins-00000042"));
    let server = stand_in(world, &log);
    let mut outputs = String::new();
    for provider in ["tencent", "tencent-legacy", "zenlayer-bmc"] {
        let output = run_live_cli(provider, &server.uri(), &log, &[], false);
        outputs.push_str(&String::from_utf8_lossy(&output.stdout));
    }
    let lines = log_lines(&log);
    let destructive: Vec<_> = lines
        .iter()
        .filter(|line| !line["action"].as_str().is_some_and(is_read))
        .collect();
    assert!(
        destructive.len() >= 10,
        "the safe cases did reach the stand-in ({} requests that are not reads)",
        destructive.len()
    );
    let named: Vec<_> = destructive
        .iter()
        .filter(|line| {
            line["names-existing"]
                .as_array()
                .is_some_and(|ids| !ids.is_empty())
        })
        .collect();
    assert!(
        named.is_empty(),
        "{} requests named existing instances, e.g. {:?}",
        named.len(),
        named.iter().take(3).collect::<Vec<_>>()
    );
    assert!(
        outputs.contains("\"ins-00000042\" names an existing instance"),
        "the 101-id case is refused before sending:\n{outputs}"
    );
    let after = server.snapshot();
    assert!(
        after
            .instances
            .iter()
            .all(|instance| instance.state.name() == "RUNNING"),
        "every seeded instance is untouched"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every safe case runs live against the stand-in and answers as the mock does: the same status, error code and
/// envelope shape at every step (`live::outcome`).
#[test]
fn every_safe_case_gives_live_the_codes_the_mock_gives() {
    let dir = scratch("codes");
    let log = dir.join("log.jsonl");
    let server = stand_in(only(live_account()), &log);
    assert!(server.uri().starts_with("https://"), "{}", server.uri());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut ran = 0;
    for provider in ProviderId::ALL.iter().copied() {
        let cases: Vec<Loaded> = all_cases()
            .into_iter()
            .filter(|loaded| loaded.provider == provider)
            .collect();
        let config = LiveConfig {
            provider,
            endpoint: server.uri(),
            proof_endpoint: server.uri(),
            credentials: LiveCredentials::new(LIVE_ID, LIVE_KEY, None, Some("ap-guangzhou".into())),
            tiers: Tiers::default(),
            ledger_dir: dir.join("ledger"),
            progress: None,
            provision: None,
        };
        let results = runtime.block_on(async {
            // The cases' requests at the production pace (the stand-in keeps TerminateInstances' 10 a second);
            // the proofs, DescribeInstances with no limit there, unpaced on one kept connection.
            let endpoint = Endpoint::resolve(&server.uri(), Some(&ca_of(&log)))
                .await
                .unwrap()
                .paced(STAND_IN_PACE);
            let proofs = Endpoint::resolve(&server.uri(), Some(&ca_of(&log)))
                .await
                .unwrap()
                .paced(std::time::Duration::ZERO)
                .reusing();
            live::run_live(cases, &config, &endpoint, &proofs, |_, _| {}).await
        });
        for (loaded, result) in results {
            let Some(live_run) = result.run else { continue };
            ran += 1;
            assert_eq!(
                live_run.outcome,
                harness::Outcome::Passed,
                "{} live",
                loaded.id
            );
            let mock_run = runtime.block_on(harness::run_case(&loaded, &Target::Mock));
            assert_eq!(
                live::outcome::render(provider, &live_run.exchanges),
                live::outcome::render(provider, &mock_run.exchanges),
                "{}: live and mock differ",
                loaded.id
            );
        }
    }
    assert!(ran >= 40, "only {ran} cases ran live");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A divergence injected into the stand-in (it answers a documented code the mock does not give here) fails the
/// case in the report, which says which side to change, and shows in `terminus diff` against the mock's
/// snapshots, on the code's line.
#[test]
fn a_divergence_shows_in_the_report_and_in_diff() {
    let dir = scratch("diverge");
    let world: WorldSpec = toml::from_str(&format!(
        r#"
        [[accounts]]
        secret-id = "{LIVE_ID}"
        secret-key = "{LIVE_KEY}"
        [[faults]]
        kind = "error"
        code = "InvalidInstanceId.Malformed"
        action = "TerminateInstances"
        fraction = 1.0
        "#
    ))
    .unwrap();
    let log = dir.join("log.jsonl");
    let server = stand_in(world, &log);
    let record = dir.join("live");
    let output = run_live_cli(
        "tencent",
        &server.uri(),
        &log,
        &[
            "--filter",
            "terminate-instances/unknown-instance-is-not-found",
            "--record",
            record.to_str().unwrap(),
        ],
        false,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "expected error InvalidInstanceId.NotFound, received error InvalidInstanceId.Malformed"
        ) && stdout.contains("which side to change: the real API is the ground truth"),
        "{stdout}"
    );
    let diff = Command::new(env!("CARGO_BIN_EXE_terminus"))
        .args(["diff", concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots")])
        .arg(&record)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&diff.stdout);
    assert_eq!(diff.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("changed   tencent/terminate-instances/unknown-instance-is-not-found")
            && shown.contains("-error InvalidInstanceId.NotFound")
            && shown.contains("+error InvalidInstanceId.Malformed")
            && !shown.contains("vanished"),
        "{shown}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// No secret of the live identity in any output or file of a live run: standard output and error, the JSON and
/// JUnit reports, the recorded exchanges, the validation record, the stand-in's log.
#[test]
fn no_live_secret_in_any_output_or_file() {
    let dir = scratch("canary");
    let log = dir.join("log.jsonl");
    let mut account = live_account();
    account.token = Some(LIVE_TOKEN.into());
    let server = stand_in(only(account), &log);
    let (json, junit, record, validation) = (
        dir.join("report.json"),
        dir.join("report.xml"),
        dir.join("live"),
        dir.join("validation.json"),
    );
    let output = run_live_cli(
        "tencent",
        &server.uri(),
        &log,
        &[
            "--filter",
            "terminate-instances/u",
            "--json",
            json.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
            "--record",
            record.to_str().unwrap(),
            "--validation",
            validation.to_str().unwrap(),
        ],
        true,
    );
    let mut texts = vec![
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ];
    let mut pending = vec![dir.clone()];
    let mut files = 0;
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap().flatten() {
            if entry.path().is_dir() {
                pending.push(entry.path());
            } else {
                files += 1;
                texts.push(std::fs::read_to_string(entry.path()).unwrap());
            }
        }
    }
    assert!(files >= 5, "every output was written ({files} files)");
    assert!(texts[0].contains("passed"), "{}", texts[0]);
    for text in &texts {
        for secret in [LIVE_KEY, LIVE_TOKEN] {
            assert!(!text.contains(secret), "a secret leaked:\n{text}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A live run's validation record names each case's date, endpoint, region, result and version, and `terminus
/// coverage` then says, per documented code, when it was last seen live (and `never` for the others).
#[test]
fn coverage_shows_when_each_code_was_last_seen_live() {
    let dir = scratch("validation");
    let log = dir.join("log.jsonl");
    let server = stand_in(only(live_account()), &log);
    let validation = dir.join("live.json");
    let output = run_live_cli(
        "tencent",
        &server.uri(),
        &log,
        &[
            "--filter",
            "missing-instance-ids-is-a-missing-parameter",
            "--validation",
            validation.to_str().unwrap(),
        ],
        false,
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&validation).unwrap()).unwrap();
    let entry = &record["tencent/terminate-instances/missing-instance-ids-is-a-missing-parameter"];
    let today = entry["date"].as_str().unwrap().to_owned();
    assert_eq!(entry["result"], "passed");
    assert_eq!(entry["endpoint"], server.uri().as_str());
    assert_eq!(entry["region"], "ap-guangzhou");
    assert_eq!(entry["codes"], serde_json::json!(["MissingParameter"]));
    let coverage = Command::new(env!("CARGO_BIN_EXE_terminus"))
        .args([
            "coverage",
            "--cases",
            concat!(env!("CARGO_MANIFEST_DIR"), "/cases"),
        ])
        .arg("--validation")
        .arg(&validation)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&coverage.stdout);
    assert!(
        table.contains(&format!("| tencent | MissingParameter | {today} |"))
            && table.contains("| tencent | InvalidInstanceId.NotFound | never |"),
        "{table}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What a killed live run leaves behind, and `terminus sweep`: the run's tagged, ledgered instances older than the
/// window are listed, then (with --yes) destroyed, while an untagged instance of the same age, another run's recent
/// instance (tagged, ledgered, created now through RunInstances) and a tagged instance in no ledger survive.
#[test]
fn sweep_destroys_only_a_dead_runs_tagged_ledgered_old_instances() {
    let dir = scratch("sweep");
    let log = dir.join("log.jsonl");
    let ledgers = dir.join("ledger");
    let three_hours_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 3 * 3600;
    let tagged = |id: &str, run: &str| {
        let mut instance = Instance::new(id);
        instance.created = Some(three_hours_ago);
        instance.tags = vec![terminus::world::lifecycle::Tag {
            key: live::ledger::RUN_TAG.into(),
            value: run.into(),
        }];
        instance
    };
    let mut untagged = Instance::new("ins-untagged");
    untagged.created = Some(three_hours_ago);
    let world = WorldSpec {
        accounts: vec![live_account()].into(),
        instances: vec![
            tagged("ins-deadrun1", "dead-run"),
            tagged("ins-deadrun2", "dead-run"),
            tagged("ins-noledger", "dead-run"),
            untagged,
        ]
        .into(),
        ..WorldSpec::default()
    };
    let server = stand_in(world, &log);
    // The dead run's ledger, as `Cloud::create` writes it.
    let dead = live::ledger::Ledger::create(&ledgers, "dead-run").unwrap();
    for id in ["ins-deadrun1", "ins-deadrun2"] {
        dead.record(&live::ledger::Entry {
            run: "dead-run".into(),
            id: id.into(),
            region: "ap-guangzhou".into(),
            created: three_hours_ago,
        })
        .unwrap();
    }
    // Another run, still going: its instance is created now, through the provision tier's own call.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let credentials = LiveCredentials::new(LIVE_ID, LIVE_KEY, None, Some("ap-guangzhou".into()));
    let recent = runtime.block_on(async {
        let endpoint = Endpoint::resolve(&server.uri(), Some(&ca_of(&log)))
            .await
            .unwrap()
            .paced(STAND_IN_PACE);
        let cloud = live::cloud::Cloud {
            transport: &endpoint,
            credentials: &credentials,
        };
        let other = live::ledger::Ledger::create(&ledgers, "live-run").unwrap();
        let provisioning = live::cloud::Provisioning {
            zone: "ap-guangzhou-3".into(),
            image: "img-eb30mz89".into(),
            instance_type: "S5.SMALL1".into(),
            deadline: std::time::Duration::from_secs(3600),
        };
        cloud.create(&other, &provisioning, false).await.unwrap()
    });

    let sweep = |yes: bool| {
        let mut command = as_live_identity(
            &["sweep", "--endpoint", &server.uri(), "--older-than", "2h"],
            &log,
        );
        command.arg("--ledger-dir").arg(&ledgers);
        if yes {
            command.arg("--yes");
        }
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let state = |id: &str| state_of(&server, id);

    let listing = sweep(false);
    assert!(
        listing.contains("destroy  ins-deadrun1 (run dead-run): pass --yes")
            && listing.contains("keep     ins-noledger (run dead-run): tagged, but in no ledger")
            && listing.contains(&format!(
                "keep     {recent} (run live-run): younger than the window"
            ))
            && !listing.contains("ins-untagged"),
        "{listing}"
    );
    assert_eq!(state("ins-deadrun1"), "RUNNING", "listing changes nothing");

    let swept = sweep(true);
    assert!(
        swept.contains("destroy  ins-deadrun2 (run dead-run): terminated"),
        "{swept}"
    );
    for id in ["ins-deadrun1", "ins-deadrun2"] {
        assert!(destroyed(&server, id), "{id}\n{swept}");
    }
    for id in ["ins-untagged", "ins-noledger", recent.as_str()] {
        assert_ne!(state(id), "TERMINATED", "{id} survives\n{swept}");
    }
    let terminated: Vec<serde_json::Value> = log_lines(&log)
        .into_iter()
        .filter(|line| line["action"] == "TerminateInstances")
        .map(|line| line["names-existing"].clone())
        .collect();
    assert_eq!(
        terminated,
        [
            serde_json::json!(["ins-deadrun1"]),
            serde_json::json!(["ins-deadrun2"])
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// With --provision, a destructive case runs on an instance the run creates (tagged, ledgered, with its
/// ActionTimer): only that instance is terminated, it is gone at the end, and an instance that was there before
/// is untouched.
#[test]
fn with_provision_only_instances_created_in_the_run_are_terminated_and_all_are_gone() {
    let dir = scratch("provision");
    let log = dir.join("log.jsonl");
    let ledgers = dir.join("ledger");
    let mut world: WorldSpec = toml::from_str("timings = \"immediate\"").unwrap();
    world.accounts = vec![live_account()].into();
    world.instances = vec![Instance::new("ins-r8hr2upy"), Instance::new("ins-bystand1")].into();
    let server = stand_in(world, &log);
    let output = run_live_cli(
        "tencent",
        &server.uri(),
        &log,
        &[
            "--provision",
            "--zone",
            "ap-guangzhou-3",
            "--image",
            "img-eb30mz89",
            "--ledger-dir",
            ledgers.to_str().unwrap(),
            "--filter",
            "terminate-instances/running-instance-is-destroyed",
            "--filter",
            "terminate-instances/stopped-instance-is-destroyed",
        ],
        false,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("ok   tencent/terminate-instances/running-instance-is-destroyed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("SKIP tencent/terminate-instances/stopped-instance-is-destroyed: not live-verifiable: needs a STOPPED instance"),
        "{stdout}"
    );
    let (ledgered, _) = live::ledger::read_all(&ledgers);
    assert!(!ledgered.is_empty(), "{stdout}");
    let after = server.snapshot();
    for id in ledgered.keys() {
        let state = after
            .instances
            .iter()
            .find(|i| &i.id == id)
            .map(|i| i.state.name());
        // Destroyed, or already dropped from the world once its listing window passed (a slow run).
        assert!(
            matches!(state.as_deref(), Some("TERMINATED") | None),
            "{id} is gone: {state:?}"
        );
    }
    for id in ["ins-r8hr2upy", "ins-bystand1"] {
        let state = after
            .instances
            .iter()
            .find(|i| i.id == id)
            .map(|i| i.state.name());
        assert_eq!(
            state.as_deref(),
            Some("RUNNING"),
            "{id} was there before: untouched"
        );
    }
    for line in log_lines(&log) {
        if line["action"] == "TerminateInstances" {
            for id in line["names-existing"].as_array().unwrap() {
                assert!(
                    ledgered.contains_key(id.as_str().unwrap()),
                    "a terminate named {id}, not created in the run"
                );
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A --provision run SIGKILLed while it waits for its instance leaves it behind; `terminus sweep --yes` finds it
/// (tagged, in the dead run's ledger) and destroys it, while an untagged instance and another run's recent tagged
/// instance (in no ledger of this machine) survive.
#[test]
fn a_run_killed_mid_way_leaves_instances_that_sweep_destroys() {
    let dir = scratch("killed");
    let log = dir.join("log.jsonl");
    let ledgers = dir.join("ledger");
    // Launches take three seconds: the run is still waiting for RUNNING when it is killed, and the sweep meets
    // the instance PENDING (refused until it settles: the sweep waits with back-off).
    let mut world: WorldSpec = toml::from_str("timings = { launch = 3, terminate = 0 }").unwrap();
    world.accounts = vec![live_account()].into();
    let mut other_run = Instance::new("ins-otherrun");
    other_run.tags = vec![terminus::world::lifecycle::Tag {
        key: live::ledger::RUN_TAG.into(),
        value: "other-run".into(),
    }];
    world.instances = vec![Instance::new("ins-untagged"), other_run].into();
    let server = stand_in(world, &log);
    let mut child = as_live_identity(
        &["run", "--live", "--provision", "--endpoint", &server.uri()],
        &log,
    )
    .args(["--zone", "ap-guangzhou-3", "--image", "img-eb30mz89"])
    .args([
        "--filter",
        "terminate-instances/running-instance-is-destroyed",
    ])
    .args(["--cases", concat!(env!("CARGO_MANIFEST_DIR"), "/cases")])
    .arg("--ledger-dir")
    .arg(&ledgers)
    .stdout(std::process::Stdio::null())
    .spawn()
    .unwrap();
    // Kill it (SIGKILL) as soon as its ledger names an instance: within a deadline.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while live::ledger::read_all(&ledgers).0.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the run created nothing in 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let (ledgered, _) = live::ledger::read_all(&ledgers);
    let left = ledgered.keys().next().unwrap().clone();
    let state = |id: &str| state_of(&server, id);
    assert_ne!(state(&left), "TERMINATED", "the killed run left {left}");

    let output = as_live_identity(
        &[
            "sweep",
            "--endpoint",
            &server.uri(),
            "--older-than",
            "0s",
            "--yes",
        ],
        &log,
    )
    .arg("--ledger-dir")
    .arg(&ledgers)
    .output()
    .unwrap();
    let swept = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{swept}");
    assert!(swept.contains(&format!("destroy  {left} ")), "{swept}");
    assert!(destroyed(&server, &left), "{swept}");
    assert_ne!(state("ins-untagged"), "TERMINATED", "{swept}");
    assert_ne!(state("ins-otherrun"), "TERMINATED", "{swept}");
    std::fs::remove_dir_all(&dir).unwrap();
}
