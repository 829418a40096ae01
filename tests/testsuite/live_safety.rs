//! Live mode's safety, tried as an adversary would (issue 19): cases that move the region, smuggle headers, hide
//! ids or create things, run through `terminus run --live` against accounts that hold instances elsewhere. What
//! counts is what reached the account, never what the client meant to send.
//!
//! Two accounts stand in for the real one: [`Account`], a small HTTP server in this file that answers like the
//! real API where the issue says the guard went wrong (an unknown region is `UnsupportedRegion`; a `RunInstances`
//! that ignores `DryRun` creates), and the mock's cloud profile with its `--tripwire`, for the generator.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use terminus::message::Request;

/// The live identity, in the environment only.
const LIVE_ID: &str = "AKIDcanaryLiveId000000000000000000";
const LIVE_KEY: &str = "canaryLiveSecretKey0000000000000";

/// A CVM region the account's API does not serve (it is in terminus's table, so the case is planned, but the
/// proof's DescribeInstances there is refused).
const UNSERVED: &str = "ap-mumbai";

/// A request whose body holds this is hung up on without an answer.
const HANG_UP: &str = "\"Limit\": 7";

/// A key the account does not know.
const WRONG_ID: &str = "AKIDwrongwrongwrongwrongwrongwrong00";

/// The instance that exists, and where.
const EXISTING: &str = "ins-exists01";
const EXISTING_REGION: &str = "ap-shanghai";

/// The regions the account's API serves (the real API answers `UnsupportedRegion` for any other name, `sh`
/// included).
const SERVED: [&str; 4] = ["ap-guangzhou", "ap-shanghai", "ap-beijing", "ap-hongkong"];

/// One request the account received: its action, every region it named, its target and body as text.
#[derive(Clone, Debug)]
struct Received {
    action: String,
    regions: Vec<String>,
    text: String,
}

/// An account on a real-API-like endpoint over plain HTTP: holds [`EXISTING`] in [`EXISTING_REGION`], refuses
/// regions it does not serve, and creates an instance for every `RunInstances`, `DryRun` or not (an API that
/// ignores it: what the safe tier must survive).
struct Account {
    address: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Account {
    fn start() -> Self {
        Self::dated(None)
    }

    /// An account whose answers carry this `Date` header.
    fn dated(date: Option<&'static str>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let mut bytes = Vec::new();
                let mut buffer = [0u8; 8192];
                let request = loop {
                    match stream.read(&mut buffer) {
                        Ok(0) | Err(_) => break None,
                        Ok(read) => bytes.extend_from_slice(&buffer[..read]),
                    }
                    match Request::parse(&bytes) {
                        Ok(request) => break Some(request),
                        Err(_) if bytes.len() < 1 << 20 => {}
                        Err(_) => break None,
                    }
                };
                let Some(request) = request else { continue };
                let body = answer(&request, &log);
                if String::from_utf8_lossy(&request.body).contains(HANG_UP) {
                    // Hangs up without an answer.
                    continue;
                }
                let date = date
                    .map(|date| format!("Date: {date}\r\n"))
                    .unwrap_or_default();
                let _ = stream.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                         {date}Connection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            }
        });
        Self { address, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The requests that are not reads and name the existing instance anywhere.
    fn harmful(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| !r.action.starts_with("Describe") && r.text.contains(EXISTING))
            .collect()
    }
}

/// The account's answer, in the API 3.0 envelope.
fn answer(request: &Request, log: &Mutex<Vec<Received>>) -> String {
    let body = String::from_utf8_lossy(&request.body).into_owned();
    let query = request
        .target
        .split_once('?')
        .map_or("", |(_, q)| q)
        .to_owned();
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .chain(form_urlencoded::parse(body.as_bytes()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    for (name, value) in &request.headers {
        pairs.push((name.clone(), value.clone()));
    }
    let named = |key: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, value)| value.clone())
            .collect()
    };
    let action = named("x-tc-action")
        .into_iter()
        .chain(named("action"))
        .next()
        .unwrap_or_default();
    let regions: Vec<String> = named("x-tc-region")
        .into_iter()
        .chain(named("region"))
        .collect();
    log.lock().unwrap().push(Received {
        action: action.clone(),
        regions: regions.clone(),
        text: format!("{}\n{body}", request.target),
    });
    let unknown_key = request
        .headers
        .iter()
        .any(|(_, value)| value.contains(WRONG_ID))
        || request.target.contains(WRONG_ID);
    let fields = match action.as_str() {
        _ if unknown_key => {
            json!({ "Error": { "Code": "AuthFailure.SecretIdNotFound", "Message": "no such key" } })
        }
        "DescribeInstances" => {
            let region = regions.first().cloned().unwrap_or_default();
            if !SERVED.contains(&region.as_str()) {
                json!({ "Error": { "Code": "UnsupportedRegion", "Message": "unsupported region" } })
            } else {
                let ids: Value = serde_json::from_str(&body).unwrap_or_default();
                let found = region == EXISTING_REGION
                    && ids["InstanceIds"]
                        .as_array()
                        .is_some_and(|ids| ids.contains(&json!(EXISTING)));
                json!({ "TotalCount": u8::from(found), "InstanceSet": [] })
            }
        }
        "RunInstances" => json!({ "InstanceIdSet": ["ins-made0001"] }),
        _ => json!({}),
    };
    let mut envelope = json!({ "Response": fields });
    envelope["Response"]["RequestId"] = json!("6a4f8f6e-3c1b-4f7e-9a4b-1c2d3e4f5a6b");
    envelope.to_string()
}

/// Writes one case at `<dir>/<provider>/<action>/<name>.toml`.
fn write_case(dir: &Path, provider: &str, action: &str, name: &str, text: &str) {
    let at = dir.join(provider).join(action);
    std::fs::create_dir_all(&at).unwrap();
    std::fs::write(at.join(format!("{name}.toml")), text).unwrap();
}

const HEAD: &str = "title = \"hostile\"\nsource = { doc = \"issue 19\", quote = \"reproduced\" }\nlive = \"safe\"\n";

/// `terminus run --live` of the cases in `cases` against `endpoint`, the live identity in the environment only.
fn run_live(provider: &str, endpoint: &str, cases: &Path, ledger: &Path) -> Output {
    run_live_as(LIVE_ID, provider, endpoint, cases, ledger)
}

fn run_live_as(id: &str, provider: &str, endpoint: &str, cases: &Path, ledger: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_terminus"))
        .args([
            "run",
            "--live",
            "--provider",
            provider,
            "--endpoint",
            endpoint,
            "--cases",
        ])
        .arg(cases)
        .arg("--ledger-dir")
        .arg(ledger)
        .env("TENCENTCLOUD_SECRET_ID", id)
        .env("TENCENTCLOUD_SECRET_KEY", LIVE_KEY)
        .env("TENCENTCLOUD_REGION", "ap-guangzhou")
        .env_remove("TENCENTCLOUD_TOKEN")
        .env("TERMINUS_LIVE_PACE", "0s")
        .output()
        .expect("terminus runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Point 1: the proof looked only in the run's region. A case that moves the request to ap-shanghai by an
/// `X-TC-Region` header (TC3) or by a `Region` parameter (the Signature form) must have its ids proven there.
#[test]
fn a_region_the_case_names_by_header_or_parameter_is_where_the_proof_looks() {
    let account = Account::start();
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases");
    write_case(
        &cases,
        "tencent",
        "terminate-instances",
        "region-by-header",
        &format!(
            "{HEAD}[[step]]\nheaders = {{ \"X-TC-Region\" = \"{EXISTING_REGION}\" }}\n\
             params = {{ InstanceIds = [\"{EXISTING}\"] }}\nexpect.error = \"InvalidInstanceId.NotFound\"\n"
        ),
    );
    write_case(
        &cases,
        "tencent",
        "terminate-instances",
        "region-by-parameter",
        &format!(
            "{HEAD}[[step]]\nsign = \"hmac-sha256\"\nmethod = \"GET\"\n\
             params = {{ Region = \"{EXISTING_REGION}\", \"InstanceIds.0\" = \"{EXISTING}\" }}\n\
             expect.error = \"InvalidInstanceId.NotFound\"\n"
        ),
    );
    let output = run_live(
        "tencent",
        &account.address,
        &cases,
        &dir.path().join("ledger"),
    );
    let harmful = account.harmful();
    assert!(
        harmful.is_empty(),
        "{} requests naming {EXISTING} reached the account: {harmful:?}\n{}",
        harmful.len(),
        text(&output)
    );
    assert!(
        account
            .received()
            .iter()
            .any(|r| r.action == "DescribeInstances" && r.regions == [EXISTING_REGION]),
        "the proof looked in {EXISTING_REGION}: {:?}",
        account.received()
    );
    assert!(
        text(&output).contains("names an existing instance"),
        "{}",
        text(&output)
    );
}

/// Point 2: a legacy case in `sh` was proven in `sh`, which API 3.0 refuses as `UnsupportedRegion`, and the
/// refusal read as "no instance there". The short name is mapped (sh → ap-shanghai) and proven there; a region
/// the proof cannot be made in means not sent.
#[test]
fn a_legacy_short_region_is_proven_where_it_is_served_and_a_refused_proof_sends_nothing() {
    let account = Account::start();
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases");
    write_case(
        &cases,
        "tencent-legacy",
        "terminate-instances",
        "short-region",
        &format!(
            "{HEAD}[[step]]\nregion = \"sh\"\nparams = {{ InstanceIds = [\"{EXISTING}\"] }}\n\
             expect.error = \"InvalidInstanceId.NotFound\"\n"
        ),
    );
    // A region this account's API refuses for DescribeInstances (UnsupportedRegion): nothing can be proven there.
    write_case(
        &cases,
        "tencent-legacy",
        "terminate-instances",
        "unserved-region",
        &format!(
            "{HEAD}[[step]]\nregion = \"{UNSERVED}\"\nparams = {{ InstanceIds = [\"ins-0000abcd\"] }}\n\
             expect.error = \"UnsupportedOperation.Region\"\n"
        ),
    );
    let output = run_live(
        "tencent-legacy",
        &account.address,
        &cases,
        &dir.path().join("ledger"),
    );
    let harmful = account.harmful();
    assert!(
        harmful.is_empty(),
        "{} requests naming {EXISTING} reached the account: {harmful:?}\n{}",
        harmful.len(),
        text(&output)
    );
    let sent_unproven = account
        .received()
        .into_iter()
        .filter(|r| !r.action.starts_with("Describe") && r.regions.iter().any(|r| r == UNSERVED))
        .count();
    assert_eq!(sent_unproven, 0, "{}", text(&output));
    assert!(
        text(&output).contains("UnsupportedRegion"),
        "{}",
        text(&output)
    );
    assert!(!output.status.success());
}

/// Point 3: a header value holding CR LF was sent raw, adding any header the case liked. It is refused when the
/// case loads, naming the file, the line and the field.
#[test]
fn a_header_with_cr_lf_or_nul_is_refused_when_the_case_loads() {
    for (name, value) in [
        ("X-Note", "a\\r\\nX-TC-Region: ap-shanghai"),
        ("X-Note", "a\\nb"),
        ("X-Note", "a\\u0000b"),
        ("X-Bad\\r\\nX-TC-Region", "ap-shanghai"),
    ] {
        let text = format!(
            "{HEAD}[[step]]\nparams = {{ InstanceIds = [\"ins-0000abcd\"] }}\n\
             headers = {{ \"{name}\" = \"{value}\" }}\nexpect.error = \"InvalidInstanceId.NotFound\"\n"
        );
        let path = Path::new("cases/tencent/terminate-instances/smuggled.toml");
        let error = terminus::case::parse(
            Path::new("tencent/terminate-instances/smuggled.toml"),
            path,
            &text,
        )
        .expect_err("refused")
        .to_string();
        assert!(
            error.contains("smuggled.toml")
                && error.contains("line 6")
                && error.contains("headers.")
                && error.contains("CR, LF or NUL"),
            "{name:?} = {value:?}: {error}"
        );
    }
    // A live run names such a case as an error of the run, and sends nothing of it.
    let account = Account::start();
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases");
    write_case(
        &cases,
        "tencent",
        "terminate-instances",
        "smuggled",
        &format!(
            "{HEAD}[[step]]\nparams = {{ InstanceIds = [\"{EXISTING}\"] }}\n\
             headers = {{ \"X-Note\" = \"a\\r\\nX-TC-Region: {EXISTING_REGION}\" }}\n"
        ),
    );
    write_case(
        &cases,
        "tencent",
        "describe-instances",
        "a-read",
        &format!("{HEAD}[[step]]\nparams = {{ Limit = 1 }}\n"),
    );
    let output = run_live(
        "tencent",
        &account.address,
        &cases,
        &dir.path().join("ledger"),
    );
    let output_text = text(&output);
    assert!(
        output_text.contains("ERR  tencent/terminate-instances/smuggled")
            && output_text.contains("CR, LF or NUL"),
        "{output_text}"
    );
    assert!(!output.status.success(), "{output_text}");
    assert!(account.harmful().is_empty(), "{:?}", account.received());
}

/// Point 4: the safe tier sent `RunInstances` without `DryRun`. It is sent with `DryRun=true`; a case that says
/// `DryRun = false` is not sent; and when an API creates anyway, the instance is in a ledger at once, terminated,
/// and the run fails naming it.
#[test]
fn the_safe_tier_creates_nothing_and_survives_an_api_that_creates_anyway() {
    let account = Account::start();
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases");
    let ledger = dir.path().join("ledger");
    write_case(
        &cases,
        "tencent",
        "run-instances",
        "malformed-type",
        &format!(
            "{HEAD}[[step]]\nparams = {{ InstanceType = \"huge\", ImageId = \"img-eb30mz89\", \
             Placement = {{ Zone = \"ap-guangzhou-3\" }} }}\nexpect.error = \"InvalidInstanceType.Malformed\"\n"
        ),
    );
    write_case(
        &cases,
        "tencent",
        "run-instances",
        "dry-run-false",
        &format!(
            "{HEAD}[[step]]\nparams = {{ DryRun = false, InstanceType = \"huge\", \
             ImageId = \"img-eb30mz89\", Placement = {{ Zone = \"ap-guangzhou-3\" }} }}\n\
             expect.error = \"InvalidInstanceType.Malformed\"\n"
        ),
    );
    let output = run_live("tencent", &account.address, &cases, &ledger);
    let output_text = text(&output);
    let runs: Vec<Received> = account
        .received()
        .into_iter()
        .filter(|r| r.action == "RunInstances")
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}\n{output_text}");
    let body: Value = runs[0]
        .text
        .split_once('\n')
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or_default();
    assert_eq!(
        body["DryRun"],
        json!(true),
        "sent with DryRun=true: {runs:?}"
    );
    // Tagged with the run, so that an instance an API makes anyway carries the tag `sweep` reads back.
    let tags = &body["TagSpecification"][0];
    assert_eq!(tags["ResourceType"], json!("instance"), "{runs:?}");
    assert_eq!(tags["Tags"][0]["Key"], json!("terminus:run"), "{runs:?}");
    let run = tags["Tags"][0]["Value"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!run.is_empty(), "{runs:?}");
    assert!(
        output_text.contains("without DryRun=true"),
        "the DryRun = false case is refused: {output_text}"
    );
    assert!(
        output_text.contains("UNEXPECTED") && output_text.contains("ins-made0001"),
        "{output_text}"
    );
    let ledgered: String = std::fs::read_dir(&ledger)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        ledgered.contains("ins-made0001") && ledgered.contains(&run),
        "in the ledger of the run its tag names ({run}): {ledgered:?}"
    );
    assert!(
        account
            .received()
            .iter()
            .any(|r| r.action == "TerminateInstances" && r.text.contains("ins-made0001")),
        "terminated"
    );
    assert!(!output.status.success());
}

/// Point 7: "which side to change" was printed for a connection refused. Advice is given only for an answer
/// received that differs; no answer is an error of the run.
#[test]
fn no_answer_is_an_error_of_the_run_not_a_divergence() {
    let account = Account::start();
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases");
    write_case(
        &cases,
        "tencent",
        "describe-instances",
        "a-read",
        &format!("{HEAD}[[step]]\nparams = {{ Limit = 7 }}\n"),
    );
    let output = run_live(
        "tencent",
        &account.address,
        &cases,
        &dir.path().join("ledger"),
    );
    let output_text = text(&output);
    assert!(!output.status.success(), "{output_text}");
    assert!(
        !output_text.contains("which side to change"),
        "no advice without an answer: {output_text}"
    );
    assert!(
        output_text.contains("ERR  tencent/describe-instances/a-read")
            && output_text.contains("no answer from the endpoint"),
        "an error of the run: {output_text}"
    );
}

/// Point 6: with a wrong key, endpoint or clock, every case ran into the wall one by one. One read call before
/// any case checks them; a failure exits 2 with the reason and runs no case.
#[test]
fn a_preflight_read_stops_the_run_before_any_case_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases");
    for name in ["one", "two"] {
        write_case(
            &cases,
            "tencent",
            "describe-instances",
            name,
            &format!("{HEAD}[[step]]\nparams = {{ Limit = 1 }}\n"),
        );
    }
    let ledger = dir.path().join("ledger");
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let account = Account::start();
    let skewed = Account::dated(Some("Mon, 01 Jan 2024 00:00:00 GMT"));
    for (why, output, expected) in [
        (
            "no endpoint",
            run_live("tencent", &closed, &cases, &ledger),
            "did not answer",
        ),
        (
            "a wrong key",
            run_live_as(WRONG_ID, "tencent", &account.address, &cases, &ledger),
            "AuthFailure.SecretIdNotFound",
        ),
        (
            "a skewed clock",
            run_live("tencent", &skewed.address, &cases, &ledger),
            "clock is",
        ),
    ] {
        let output_text = text(&output);
        assert_eq!(output.status.code(), Some(2), "{why}: {output_text}");
        assert!(
            output_text.contains("preflight failed") && output_text.contains(expected),
            "{why}: {output_text}"
        );
        assert!(
            !output_text.contains("describe-instances/one"),
            "{why}: no case ran: {output_text}"
        );
    }
    let fine = run_live("tencent", &account.address, &cases, &ledger);
    assert!(fine.status.success(), "{}", text(&fine));
    assert!(text(&fine).contains("preflight ok"), "{}", text(&fine));
}

/// A small deterministic generator (SplitMix64): the same hostile cases every run.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Every region of Tencent's CVM terminus knows, one planted instance in each: `ins-plantNNN`.
fn planted_regions() -> Vec<&'static str> {
    use terminus::provider::tencent::wire::{OTHER_CVM_REGIONS, SUPPORTED_REGIONS};
    SUPPORTED_REGIONS
        .iter()
        .chain(OTHER_CVM_REGIONS.iter())
        .copied()
        .collect()
}

fn planted_id(index: usize) -> String {
    format!("ins-plant{index:03}")
}

/// Zenlayer's zones, one planted bare-metal instance in each.
const ZONES: [&str; 4] = ["HKG-A", "SEL-A", "SIN-A", "FRA-A"];

fn planted_bmc(index: usize) -> String {
    format!("56421214893231{index:04}")
}

/// The legacy gateway's short names, as the provider's sourced table maps them.
const SHORT: [(&str, &str); 6] = [
    ("bj", "ap-beijing"),
    ("gz", "ap-guangzhou"),
    ("hk", "ap-hongkong"),
    ("sg", "ap-singapore"),
    ("sh", "ap-shanghai"),
    ("shjr", "ap-shanghai-fsi"),
];

/// An id as a hostile case may spell it: as is, percent-encoded in part or whole, case-varied, inside a longer
/// string.
fn disguise(dice: &mut Dice, id: &str) -> String {
    match dice.below(6) {
        0 => id.to_owned(),
        1 => format!("%{:02X}{}", id.as_bytes()[0], &id[1..]),
        2 => id.bytes().map(|b| format!("%{b:02x}")).collect(),
        3 => id.to_ascii_uppercase(),
        4 => format!("x{id}y"),
        _ => format!("{id},{id}"),
    }
}

/// A TOML string literal.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// One hostile safe case: its provider, action directory and text without expectations.
fn hostile_case(dice: &mut Dice) -> (&'static str, &'static str, String) {
    let regions = planted_regions();
    let target = dice.below(regions.len());
    let (id, region) = (planted_id(target), regions[target]);
    let mut step = String::from("[[step]]\n");
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut params: Vec<(String, String)> = Vec::new();
    let provider = match dice.below(10) {
        0..=4 => "tencent",
        5..=7 => "tencent-legacy",
        _ => "zenlayer-bmc",
    };
    let action_dir = match provider {
        "tencent" => dice.pick(&[
            "terminate-instances",
            "run-instances",
            "describe-instances",
            "stop-instances",
        ]),
        "tencent-legacy" => dice.pick(&["terminate-instances", "return-instance"]),
        _ => dice.pick(&[
            "terminate-instance",
            "describe-instances",
            "release-instances",
        ]),
    };
    if provider == "zenlayer-bmc" {
        let bmc = planted_bmc(dice.below(ZONES.len()));
        let key = dice.pick(&["instanceId", "instanceIds", "note", "InstanceId"]);
        let value = disguise(dice, &bmc);
        if key == "instanceIds" {
            params.push((key.into(), format!("[{}]", quoted(&value))));
        } else {
            params.push((key.into(), quoted(&value)));
        }
        if dice.chance(30) {
            step.push_str(&format!(
                "action = {}\n",
                quoted(dice.pick(&[
                    "terminateinstance",
                    "TERMINATEINSTANCE",
                    "DescribeInstances",
                    "ReleaseInstances"
                ]))
            ));
        }
        if dice.chance(20) {
            headers.push(("X-ZC-Action".into(), "TerminateInstance".into()));
        }
        if dice.chance(20) {
            // A Tencent header on a Zenlayer request: the stand-in serves every provider on one host.
            headers.push(("X-TC-Region".into(), region.into()));
        }
    } else {
        // Where the region goes: the step's own region, a header, a parameter, a legacy short name.
        match dice.below(5) {
            0 => step.push_str(&format!("region = {}\n", quoted(region))),
            1 => headers.push((
                (dice.pick(&["X-TC-Region", "x-tc-region", "X-Tc-Region"])).into(),
                region.into(),
            )),
            2 => params.push((
                (dice.pick(&["Region", "region", "REGION"])).into(),
                quoted(region),
            )),
            3 => {
                let (short, long) = dice.pick(&SHORT);
                let id = planted_id(regions.iter().position(|r| *r == long).unwrap_or(0));
                step.push_str(&format!("region = {}\n", quoted(short)));
                params.push(("InstanceIds".into(), format!("[{}]", quoted(&id))));
            }
            _ => {}
        }
        if provider == "tencent" && dice.chance(40) {
            step.push_str(&format!(
                "sign = {}\n",
                quoted(dice.pick(&["hmac-sha1", "hmac-sha256", "tc3"]))
            ));
        }
        if dice.chance(20) {
            step.push_str("method = \"GET\"\n");
        }
        // Where the id goes.
        let value = disguise(dice, &id);
        match dice.below(6) {
            0 => params.push(("InstanceIds".into(), format!("[{}]", quoted(&value)))),
            1 => params.push(("\"InstanceIds.0\"".into(), quoted(&value))),
            2 => params.push(("instanceId".into(), quoted(&value))),
            3 => params.push(("InstanceName".into(), quoted(&value))),
            4 => params.push((
                "Filters".into(),
                format!(
                    "[{{ Name = \"instance-id\", Values = [{}] }}]",
                    quoted(&value)
                ),
            )),
            _ => params.push((
                "Nested".into(),
                format!("{{ deep = [{}] }}", quoted(&value)),
            )),
        }
        // The action, varied.
        match dice.below(6) {
            0 => step.push_str(&format!(
                "action = {}\n",
                quoted(dice.pick(&[
                    "terminateinstances",
                    "TERMINATEINSTANCES",
                    "TerminateInstances",
                    "ReturnInstance"
                ]))
            )),
            1 => {
                step.push_str("action = \"DescribeInstances\"\n");
                headers.push(("X-TC-Action".into(), "TerminateInstances".into()));
            }
            2 => {
                step.push_str("action = \"DescribeInstances\"\n");
                params.push(("Action".into(), quoted("TerminateInstances")));
            }
            3 if action_dir == "run-instances" => {
                params.push((
                    "DryRun".into(),
                    (dice.pick(&["false", "true", "\"false\""])).into(),
                ));
            }
            _ => {}
        }
    }
    if dice.chance(5) {
        // A header that smuggles a region of its own: refused when the case loads.
        headers.push(("X-Note".into(), format!("a\r\nX-TC-Region: {region}")));
    }
    // Duplicates by name would be a TOML error: first one wins.
    let mut seen = std::collections::BTreeSet::new();
    params.retain(|(name, _)| seen.insert(name.to_ascii_lowercase()));
    let mut seen = std::collections::BTreeSet::new();
    headers.retain(|(name, _)| seen.insert(name.to_ascii_lowercase()));
    if !params.is_empty() {
        let items: Vec<String> = params.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        step.push_str(&format!("params = {{ {} }}\n", items.join(", ")));
    }
    if !headers.is_empty() {
        let items: Vec<String> = headers
            .iter()
            .map(|(k, v)| format!("{} = {}", quoted(k), quoted(v)))
            .collect();
        step.push_str(&format!("headers = {{ {} }}\n", items.join(", ")));
    }
    (provider, action_dir, format!("{HEAD}{step}"))
}

/// The case with the expectation that lets it reach the wire: what the mock answers it with no instance at all,
/// as a live account holds none of the planted ids. (The test is about what is sent, not about the answer.)
fn calibrated(
    provider: &str,
    action: &str,
    text: &str,
    runtime: &tokio::runtime::Runtime,
) -> Option<String> {
    let relative = format!("{provider}/{action}/hostile.toml");
    let loaded = terminus::case::parse(Path::new(&relative), Path::new(&relative), text).ok()?;
    let run = runtime.block_on(terminus::harness::run_case(
        &loaded,
        &terminus::harness::Target::Mock,
    ));
    let response = run.exchanges.last()?.response.as_ref().ok()?;
    let mut text = text.to_owned();
    text.push_str(&format!("expect.status = {}\n", response.status));
    if let Ok(Err(code)) = loaded.provider.read_answer(&response.body) {
        text.push_str(&format!("expect.error = {}\n", quoted(&code)));
    }
    Some(text)
}

/// The proof (issue 19): hundreds of hostile `live = "safe"` cases, from a fixed seed, run by `terminus run --live`
/// against the stand-in (`serve --tls --cloud --tripwire --log`) whose world plants an instance in every region of
/// every provider. Not one state-changing request may name a planted instance: the log shows none, and the
/// tripwire never trips.
#[test]
fn hostile_safe_cases_never_reach_an_existing_instance() {
    const CASES: usize = 330;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    let ca = dir.path().join("ca.pem");
    let regions = planted_regions();
    let mut world = format!(
        "region = \"ap-guangzhou\"\naccounts = [{{ secret-id = {}, secret-key = {} }}]\ninstances = [\n",
        quoted(LIVE_ID),
        quoted(LIVE_KEY)
    );
    for (index, region) in regions.iter().enumerate() {
        world.push_str(&format!(
            "  {{ id = {}, region = {} }},\n",
            quoted(&planted_id(index)),
            quoted(region)
        ));
    }
    world.push_str("]\nbmc-instances = [\n");
    for (index, zone) in ZONES.iter().enumerate() {
        world.push_str(&format!(
            "  {{ id = {}, zone = {} }},\n",
            quoted(&planted_bmc(index)),
            quoted(zone)
        ));
    }
    world.push_str("]\n");
    let world = terminus::world::WorldSpec::from_toml(&world, "the planted world").unwrap();
    let authority = terminus::tls::Authority::generate().unwrap();
    authority.write_certificate(&ca).unwrap();
    let server = terminus::mock::MockServer::builder()
        .world(world)
        .cloud(true)
        .tripwire(true)
        .log(Some(log.clone()))
        .tls(authority.server_config(Arc::new(terminus::provider::is_provider_host)))
        .start()
        .unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cases = dir.path().join("cases");
    let mut dice = Dice(19);
    let (mut written, mut refused_at_load) = (0, 0);
    for number in 0..CASES {
        let (provider, action, text) = hostile_case(&mut dice);
        match calibrated(provider, action, &text, &runtime) {
            Some(text) => {
                write_case(
                    &cases,
                    provider,
                    action,
                    &format!("hostile-{number:03}"),
                    &text,
                );
                written += 1;
            }
            None => refused_at_load += 1,
        }
    }
    assert!(
        written >= 300,
        "{written} hostile cases written ({refused_at_load} refused at load)"
    );

    // The three providers' runs at once: each waits on the network most of the time.
    let runs: Vec<std::process::Child> = ["tencent", "tencent-legacy", "zenlayer-bmc"]
        .iter()
        .map(|provider| {
            Command::new(env!("CARGO_BIN_EXE_terminus"))
                .args([
                    "run",
                    "--live",
                    "--provider",
                    provider,
                    "--endpoint",
                    &server.uri(),
                    "--cases",
                ])
                .arg(&cases)
                .arg("--ca-cert")
                .arg(&ca)
                .arg("--ledger-dir")
                .arg(dir.path().join("ledger"))
                .env("TENCENTCLOUD_SECRET_ID", LIVE_ID)
                .env("TENCENTCLOUD_SECRET_KEY", LIVE_KEY)
                .env("TENCENTCLOUD_REGION", "ap-guangzhou")
                .env("ZENLAYERCLOUD_SECRET_KEY_ID", LIVE_ID)
                .env("ZENLAYERCLOUD_SECRET_KEY_PASSWORD", LIVE_KEY)
                .env_remove("TENCENTCLOUD_TOKEN")
                .env("TERMINUS_LIVE_PACE", "0s")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut outputs = String::new();
    for run in runs {
        outputs.push_str(&text(&run.wait_with_output().unwrap()));
    }
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let changing: Vec<&Value> = lines
        .iter()
        .filter(|line| {
            !line["action"].as_str().is_some_and(|a| {
                ["Describe", "Get", "Inquiry"]
                    .iter()
                    .any(|p| a.starts_with(p))
            })
        })
        .collect();
    let named: Vec<&&Value> = changing
        .iter()
        .filter(|line| {
            line["names-existing"]
                .as_array()
                .is_some_and(|ids| !ids.is_empty())
        })
        .collect();
    let sent_cases = outputs
        .lines()
        .filter(|l| l.starts_with("ok ") || l.starts_with("FAIL"))
        .count();
    let refused = outputs.matches("not sent").count();
    assert!(
        named.is_empty() && server.trips() == 0,
        "{} state-changing requests named a planted instance ({} trips); e.g. {:?}",
        named.len(),
        server.trips(),
        named.iter().take(3).collect::<Vec<_>>()
    );
    assert!(
        changing.len() >= 30 && refused >= 150,
        "the generator is not vacuous: {} state-changing requests sent, {sent_cases} cases answered, {refused} \
         refused by the guard",
        changing.len()
    );
    let after = server.snapshot();
    assert!(after.instances.iter().all(|i| i.state.name() == "RUNNING"));
}

/// The stand-in (`serve --tls --cloud`) with the live account and a world of `extra` TOML; its CA written to
/// `dir/ca.pem`.
fn cloud_stand_in(dir: &Path, extra: &str) -> terminus::mock::MockServer {
    let world = format!(
        "{extra}\naccounts = [{{ secret-id = {}, secret-key = {} }}]\n",
        quoted(LIVE_ID),
        quoted(LIVE_KEY)
    );
    let world = terminus::world::WorldSpec::from_toml(&world, "the stand-in's world").unwrap();
    let authority = terminus::tls::Authority::generate().unwrap();
    authority.write_certificate(&dir.join("ca.pem")).unwrap();
    terminus::mock::MockServer::builder()
        .world(world)
        .cloud(true)
        .tls(authority.server_config(Arc::new(terminus::provider::is_provider_host)))
        .start()
        .unwrap()
}

/// `terminus run --live --provision` of the one destructive case that creates a RUNNING instance.
fn provision_run(server: &terminus::mock::MockServer, dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_terminus"));
    command
        .args([
            "run",
            "--live",
            "--provider",
            "tencent",
            "--endpoint",
            &server.uri(),
        ])
        .args(["--cases", concat!(env!("CARGO_MANIFEST_DIR"), "/cases")])
        .args([
            "--provision",
            "--zone",
            "ap-guangzhou-3",
            "--image",
            "img-eb30mz89",
        ])
        .args([
            "--filter",
            "terminate-instances/running-instance-is-destroyed",
        ])
        .arg("--ca-cert")
        .arg(dir.join("ca.pem"))
        .arg("--ledger-dir")
        .arg(dir.join("ledger"))
        .env("TENCENTCLOUD_SECRET_ID", LIVE_ID)
        .env("TENCENTCLOUD_SECRET_KEY", LIVE_KEY)
        .env("TENCENTCLOUD_REGION", "ap-guangzhou")
        .env_remove("TENCENTCLOUD_TOKEN")
        .env("TERMINUS_LIVE_PACE", "0s");
    command
}

/// Point 9: a live run printed nothing while a case polled. Each poll says the case's number out of the total,
/// its id, what it waits for, how long, and the instances alive from this run.
#[test]
fn a_waiting_case_says_what_it_waits_for_and_what_is_alive() {
    let dir = tempfile::tempdir().unwrap();
    let server = cloud_stand_in(dir.path(), "timings = { launch = 2, terminate = 0 }");
    let output = provision_run(&server, dir.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{}", text(&output));
    let waiting = stdout
        .lines()
        .find(|line| line.contains("to be RUNNING"))
        .unwrap_or_else(|| panic!("no progress line: {stdout}"));
    assert!(
        waiting.starts_with(
            "[1/1] tencent/terminate-instances/running-instance-is-destroyed: waiting for ins-"
        ) && waiting.contains(" s so far")
            && waiting.contains("alive from this run: 1 (ins-"),
        "{waiting}"
    );
}

/// Lines of a child's standard output as they come, with a deadline on each.
struct Lines {
    received: std::sync::mpsc::Receiver<String>,
    seen: String,
}

impl Lines {
    fn of(child: &mut std::process::Child) -> Self {
        let stdout = child.stdout.take().unwrap();
        let (sender, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in
                std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok)
            {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            received,
            seen: String::new(),
        }
    }

    /// Waits for a line holding `text`.
    fn until(&mut self, text: &str) {
        loop {
            let line = self
                .received
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no line with {text:?} in time; seen:\n{}", self.seen));
            self.seen.push_str(&line);
            self.seen.push('\n');
            if line.contains(text) {
                return;
            }
        }
    }

    /// Everything until the child closes its output.
    fn rest(mut self) -> String {
        while let Ok(line) = self.received.recv_timeout(Duration::from_secs(30)) {
            self.seen.push_str(&line);
            self.seen.push('\n');
        }
        self.seen
    }
}

fn interrupt(child: &std::process::Child) {
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid, with SIGINT; no memory is involved.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
}

/// Waits for the child to exit, at most 60 seconds (killed after that, and the test fails).
fn exit_of(mut child: std::process::Child) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run did not exit after the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Point 5: Ctrl-C during `run --live --provision` died silently, leaving its instances to a sweep's 2-hour
/// window. The first signal stops new cases and tears down what the run created (with progress), and the run
/// exits non-zero saying so; a second exits at once, printing the ledger, the ids left and the sweep command.
#[test]
fn ctrl_c_tears_down_and_a_second_ctrl_c_exits_at_once_saying_what_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let server = cloud_stand_in(dir.path(), "timings = { launch = 4, terminate = 0 }");

    let mut child = provision_run(&server, dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = Lines::of(&mut child);
    lines.until("to be RUNNING");
    interrupt(&child);
    let status = exit_of(child);
    let seen = lines.rest();
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(seen.contains("stopping: no new case starts"), "{seen}");
    assert!(
        seen.contains(": tearing down ins-"),
        "the teardown is told: {seen}"
    );
    assert!(seen.contains("this run left nothing alive"), "{seen}");
    assert!(
        server.snapshot().instances.iter().all(
            |instance| instance.state.name() != "RUNNING" && instance.state.name() != "PENDING"
        ),
        "the created instance was torn down"
    );

    let dir = tempfile::tempdir().unwrap();
    let server = cloud_stand_in(dir.path(), "timings = { launch = 30, terminate = 0 }");
    let mut child = provision_run(&server, dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = Lines::of(&mut child);
    lines.until("to be RUNNING");
    interrupt(&child);
    lines.until("stopping:");
    interrupt(&child);
    let status = exit_of(child);
    let seen = lines.rest();
    assert_eq!(status.code(), Some(130), "{seen}");
    let created = &server.snapshot().instances[0].id;
    let ledger_dir = dir.path().join("ledger");
    assert!(
        seen.contains(&format!("left alive by this run: 1 ({created})"))
            && seen.contains(&format!("ledger: {}", ledger_dir.display()))
            && seen.contains(&format!(
                "remove them with: terminus sweep --endpoint {} --ca-cert {} --ledger-dir {} --older-than 0s --yes",
                server.uri(),
                dir.path().join("ca.pem").display(),
                ledger_dir.display()
            )),
        "{seen}"
    );
}

/// Zenlayer's `--provision` is refused with its reason: no documented way to read back an instance's owner.
#[test]
fn zenlayer_provision_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_terminus"))
        .args(["run", "--live", "--provider", "zenlayer-bmc", "--provision"])
        .args([
            "--zone",
            "SEL-A",
            "--image",
            "img-1",
            "--endpoint",
            "http://127.0.0.1:9",
        ])
        .arg("--ledger-dir")
        .arg(dir.path())
        .env("ZENLAYERCLOUD_SECRET_KEY_ID", LIVE_ID)
        .env("ZENLAYERCLOUD_SECRET_KEY_PASSWORD", LIVE_KEY)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("documents no tags"),
        "{}",
        text(&output)
    );
}
