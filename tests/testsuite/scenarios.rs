//! `terminus scenarios --format json` is enough to run a case from another client: the test below reads only the
//! export (never a case file) and the control API's scenario endpoints, as a client in another language would,
//! and signs with the exported credentials and form. The server's verdict then says whether the calls matched.

use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use terminus::case::SignForm;
use terminus::mock::MockServer;
use terminus::provider::{Call, ProviderId};
use terminus::signing::Credentials;

use crate::common::raw;

fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn export(filter: &str) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_terminus"))
        .args(["scenarios", "--format", "json", "--filter", filter])
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .output()
        .expect("the terminus binary runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON document")
}

fn client() -> reqwest::blocking::Client {
    crate::common::http_client()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Sends one exported step's request, signed at `now` as the export says; the answer's status and error code.
fn send(
    server: &MockServer,
    provider: ProviderId,
    step: &Value,
    now: i64,
    nonce: u64,
) -> (u16, Option<String>) {
    let params: Map<String, Value> = step["params"].as_object().unwrap().clone();
    let credentials = Credentials::new(
        step["credentials"]["secret-id"].as_str().unwrap(),
        step["credentials"]["secret-key"].as_str().unwrap(),
    );
    let sign: SignForm = serde_json::from_value(step["sign"].clone()).unwrap();
    let headers: Vec<(String, String)> = step["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned()))
        .collect();
    let call = Call {
        action: step["action"].as_str().unwrap(),
        params: &params,
        region: step["region"].as_str(),
        version: step["version"].as_str(),
        credentials: &credentials,
        token: step["credentials"]["token"].as_str(),
        timestamp: now + step["skew-seconds"].as_i64().unwrap(),
        nonce,
        sign,
        method: step["method"].as_str().unwrap(),
        headers: &headers,
    };
    let (request, _) = provider.build_request(&call).expect("the request builds");
    let mut stream = TcpStream::connect(server.address()).unwrap();
    stream.write_all(&request.to_bytes()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let raw::Answer::Response(response) =
        raw::read_answer(&mut stream, &mut Vec::new(), deadline, false)
    else {
        panic!("no answer");
    };
    let body: Value = serde_json::from_slice(&response.body).unwrap_or_default();
    let code = body
        .pointer("/Response/Error/Code")
        .or_else(|| body.pointer("/code"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    (response.status, code)
}

/// Runs a scenario from the export as an outside client would: load it, do each step (moving the clock first when
/// it says so), and return the server's verdict. `skip` steps are left out (a client that got it wrong).
fn run(scenario: &Value, skip: Option<usize>) -> Value {
    let server = MockServer::builder().start().expect("a mock server");
    run_on(&server, scenario, skip, Signer::AtTheWorldsTime)
}

/// Which clock a client signs with.
#[derive(Clone, Copy, PartialEq)]
enum Signer {
    /// The world's time, as the export gives it (a client that can sign at any time).
    AtTheWorldsTime,
    /// The machine's time, as an SDK does.
    AtTheMachinesTime,
}

/// The machine's time, in Unix seconds.
fn machine_now() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(since.as_secs()).unwrap()
}

/// A step's parameters with its `relative-times` written out: seconds after the world's time at load, as
/// `YYYY-MM-DDThh:mm:ssZ`.
fn params_at(step: &Value, loaded_at: i64) -> Value {
    let mut step = step.clone();
    let times = step["relative-times"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (pointer, seconds) in times {
        let at = time::OffsetDateTime::from_unix_timestamp(loaded_at + seconds.as_i64().unwrap())
            .unwrap();
        let text = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        );
        *step["params"]
            .pointer_mut(&pointer)
            .expect("a relative time names a parameter") = Value::from(text);
    }
    step
}

fn run_on(server: &MockServer, scenario: &Value, skip: Option<usize>, signer: Signer) -> Value {
    let http = client();
    let id = scenario["id"].as_str().unwrap();
    let loaded: Value = http
        .put(format!("{}/__terminus/scenario/{id}", server.uri()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let mut now = loaded["now"].as_i64().expect("the scenario's time");
    let loaded_at = now;
    let provider = ProviderId::from_name(scenario["provider"].as_str().unwrap()).unwrap();
    let mut nonce = 11_886;
    for (index, step) in scenario["steps"].as_array().unwrap().iter().enumerate() {
        let advance = step["advance-seconds"].as_i64().unwrap();
        if advance != 0 {
            let moved: Value = http
                .post(format!("{}/__terminus/clock", server.uri()))
                .json(&json!({ "advance": advance }))
                .send()
                .unwrap()
                .json()
                .unwrap();
            now = moved["now"].as_i64().unwrap();
        }
        if skip == Some(index) {
            continue;
        }
        let step = &params_at(step, loaded_at);
        for _ in 0..step["repeat"].as_u64().unwrap() {
            let signed_at = match signer {
                Signer::AtTheWorldsTime => now,
                Signer::AtTheMachinesTime => machine_now(),
            };
            let (status, code) = send(server, provider, step, signed_at, nonce);
            nonce += 1;
            let id = &scenario["id"];
            assert_eq!(
                status,
                step["expect"]["status"].as_u64().unwrap() as u16,
                "{id}"
            );
            assert_eq!(code.as_deref(), step["expect"]["error"].as_str(), "{id}");
        }
    }
    http.get(format!("{}/__terminus/scenario/{id}/verdict", server.uri()))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

#[test]
fn the_committed_schema_is_the_exports() {
    let committed = std::fs::read_to_string(repo("scenarios.schema.json")).unwrap_or_default();
    let current = serde_json::to_string_pretty(&terminus::case::export::schema()).unwrap() + "\n";
    if committed != current {
        std::fs::write(repo("target/scenarios.schema.json.new"), &current).ok();
        panic!(
            "scenarios.schema.json is out of date: compare with target/scenarios.schema.json.new and commit it if the change is meant"
        );
    }
}

#[test]
fn every_default_is_explicit_in_the_export() {
    let export = export("tencent/terminate-instances/");
    assert_eq!(export["format"], "terminus-scenarios/1");
    let scenarios = export["scenarios"].as_array().unwrap();
    assert!(scenarios.len() > 20);
    for scenario in scenarios {
        let world = &scenario["world"];
        assert!(world["clock"]["mode"].is_string(), "{}", scenario["id"]);
        assert!(!world["accounts"].as_array().unwrap().is_empty());
        for account in world["accounts"].as_array().unwrap() {
            assert!(account["secret-key"].is_string(), "{}", scenario["id"]);
        }
        for step in scenario["steps"].as_array().unwrap() {
            assert!(
                step["action"]
                    .as_str()
                    .is_some_and(|action| !action.is_empty()),
                "{}",
                scenario["id"]
            );
            assert!(step["sign"].is_string());
            assert!(step["expect"]["status"].is_u64());
            assert!(step["credentials"]["secret-id"].is_string());
            assert!(step["advance-seconds"].is_i64());
        }
    }
}

#[test]
fn a_client_that_follows_the_export_gets_a_passing_verdict() {
    // Two steps; then a repeated step, a rate limit and a clock move.
    for id in [
        "tencent/terminate-instances/already-terminated-instance-is-refused",
        "tencent/terminate-instances/eleventh-call-in-one-second-is-rate-limited",
    ] {
        let export = export(id);
        let scenario = &export["scenarios"][0];
        assert_eq!(scenario["id"], id, "the export names {id}");
        let verdict = run(scenario, None);
        assert_eq!(verdict["passed"], true, "{verdict:#}");
    }
}

/// Whether a client that signs at the machine's time, as an SDK does, can send the step as written: the filter of
/// the scenario loop in docs/src/scenarios.md.
fn an_sdk_sends(step: &Value) -> bool {
    ["tc3", "hmac-sha1", "hmac-sha256"].contains(&step["sign"].as_str().unwrap())
        && ["POST", "GET"].contains(&step["method"].as_str().unwrap())
        && step["tamper"].is_null()
        && step["headers"].as_object().unwrap().is_empty()
        && step["skew-seconds"] == 0
        && step["nonce"].is_null()
        && step["expect"]["dropped"] == false
        && step["expect"]["status"] == 200
        && step["region"]
            .as_str()
            .is_some_and(|region| !region.is_empty())
        && step["version"].is_string()
}

/// Whether a step's outcome depends on time: it moves the clock or names a time.
fn timed(step: &Value) -> bool {
    step["advance-seconds"] != 0 || !step["relative-times"].as_object().unwrap().is_empty()
}

#[test]
fn every_timed_scenario_an_sdk_can_send_passes_signed_at_the_machines_time() {
    // The scenario loop of the book: one server, every API 3.0 scenario whose steps an SDK can send, each signed at
    // the machine's clock with its times written relative to the world's (the ActionTimer scenario's among them).
    // Only those whose steps move the clock or name a time: the others do not care which clock signs, and
    // tests/clients runs every one of them with the official SDKs.
    let export = export("tencent/");
    let server = MockServer::builder().start().expect("a mock server");
    let mut ran = Vec::new();
    for scenario in export["scenarios"].as_array().unwrap() {
        let steps = scenario["steps"].as_array().unwrap();
        if scenario["provider"] != "tencent"
            || !steps.iter().all(an_sdk_sends)
            || !steps.iter().any(timed)
        {
            continue;
        }
        // What the book promises: within the signature window of the load, whatever the clock moves.
        let moved: i64 = steps
            .iter()
            .map(|step| step["advance-seconds"].as_i64().unwrap())
            .sum();
        assert!(moved <= 300, "{} moves the clock {moved} s", scenario["id"]);
        let verdict = run_on(&server, scenario, None, Signer::AtTheMachinesTime);
        assert_eq!(verdict["passed"], true, "{verdict:#}");
        ran.push(scenario["id"].as_str().unwrap().to_owned());
    }
    assert!(
        ran.iter().any(|id| id.contains("action-timer")),
        "the ActionTimer scenario is among them: {ran:?}"
    );
    assert!(ran.len() >= 5, "{ran:?}");
}

#[test]
fn a_loaded_scenario_keeps_its_worlds_times_relative_to_its_clock() {
    // The case's instance entered the recycle bin 10,000 s before its clock, so it is released 24 h after that; the
    // scenario moves the clock to the machine's time, and must move the recycle bin's time with it.
    let server = MockServer::builder().start().expect("a mock server");
    let http = client();
    let id = "zenlayer-bmc/release-instances/released-instance-is-not-found-the-second-time";
    let loaded = http
        .put(format!("{}/__terminus/scenario/{id}", server.uri()))
        .send()
        .unwrap();
    assert_eq!(loaded.status(), 200);
    let instance: Value = http
        .get(format!(
            "{}/__terminus/instances/564212148932310006",
            server.uri()
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(instance["status"], "RECYCLE", "{instance:#}");
    let export = export(id);
    let verdict = run_on(
        &server,
        &export["scenarios"][0],
        None,
        Signer::AtTheMachinesTime,
    );
    assert_eq!(verdict["passed"], true, "{verdict:#}");
}

#[test]
fn a_client_that_leaves_a_step_out_gets_a_failing_verdict_that_says_which() {
    let export = export("tencent/terminate-instances/already-terminated-instance-is-refused");
    let scenario = &export["scenarios"][0];
    // The case's last step (h13's lifecycle gave it three: TERMINATING, then TERMINATED after the listing ends).
    let last = scenario["steps"].as_array().unwrap().len() - 1;
    let verdict = run(scenario, Some(last));
    assert_eq!(verdict["passed"], false, "{verdict:#}");
    assert_eq!(verdict["steps"][last]["step"], last + 1, "{verdict:#}");
    assert_eq!(verdict["steps"][last]["matched"], false, "{verdict:#}");
    assert_eq!(
        verdict["steps"][last]["received"],
        Value::Null,
        "{verdict:#}"
    );
}

#[test]
fn an_unknown_scenario_is_404_and_a_verdict_before_loading_is_409() {
    let server = MockServer::builder().start().expect("a mock server");
    let http = client();
    let put = http
        .put(format!(
            "{}/__terminus/scenario/tencent/no-such/thing",
            server.uri()
        ))
        .send()
        .unwrap();
    assert_eq!(put.status(), 404);
    let verdict = http
        .get(format!(
            "{}/__terminus/scenario/tencent/terminate-instances/already-terminated-instance-is-refused/verdict",
            server.uri()
        ))
        .send()
        .unwrap();
    assert_eq!(verdict.status(), 409);
}
