//! Replay: re-send each recorded request to the mock (or any server with the control API) and compare each answer
//! with the recorded one.
//!
//! The stored requests are fixture-signed ([`super::redact`]), so the mock verifies them as they are: replay seeds
//! a world whose accounts are the fixture accounts and, before each request, sets the world's clock to the time the
//! request was signed at, so neither the signature nor its timestamp needs to change: the request sent is the
//! request stored (through the recorder's upstream client, reqwest: header names in lower case, which no
//! scheme's signature sees; answers chunked or not).
//!
//! The world comes from `--world` (plus the fixture accounts, when it lacks them: the stored requests are signed
//! with the fixture key, which a recording-time world does not know), or is derived from the recording: the region
//! of the first request, the fixture accounts (with `[TOKEN]` as the session token when the recording carried
//! one), and every Tencent instance as it was first seen: listed by a recorded `DescribeInstances` (its
//! `InstanceState`, `DisableApiTermination` as the protection, `InstanceChargeType`), or `RUNNING` when first seen
//! terminated successfully, and `RUNNING` and protected when first seen refused as
//! `UnsupportedOperation.InstancesProtected`, and every Zenlayer Bare Metal instance a recorded `DescribeInstances` listed
//! (`response.dataSet[]`: its status, zone and charge type, owned by the Zenlayer fixture account). What cannot be derived (refusals that depend on an instance's protection,
//! charge type, owner…) needs `--world`.
//!
//! Compared per exchange: the status, the error code (`Response.Error.Code`, Zenlayer's `code`, the 2.0 gateway's
//! `codeDesc`), and the answer's shape: the set of JSON field paths (`Response.InstanceSet[].InstanceId`), which is
//! what a success's fields and an envelope's layout are. Values are not compared (ids, times and request ids
//! differ by nature), nor messages (the mock's wording is its own).

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::cassette::Recorded;
use super::redact::{FIXTURE_TENCENT, FIXTURE_ZENLAYER, TOKEN};
use super::upstream;
use crate::exchange::Response;
use crate::mock::MockServer;
use crate::signing;
use crate::world::WorldSpec;

/// How long one replayed exchange may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(20);

/// The verdict on one exchange.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// The exchange's name in the cassette (`0002-TerminateInstances`).
    pub name: String,
    /// Its action.
    pub action: Option<String>,
    /// Whether the answer is the recorded one in every compared respect.
    pub same: bool,
    /// How it differs, one sentence each.
    pub differences: Vec<String>,
}

/// The world a recording implies (see the module documentation).
pub fn derive_world(recorded: &[Recorded]) -> Result<WorldSpec, String> {
    let region = recorded
        .iter()
        .find_map(|exchange| exchange.request.header("x-tc-region").map(str::to_owned))
        .unwrap_or_else(|| "ap-guangzhou".to_owned());
    // Tencent instances as the recording first shows them.
    let mut seen: Vec<SeenInstance> = Vec::new();
    // Zenlayer Bare Metal instances listed by a recorded DescribeInstances (`response.dataSet[]`), owned by the
    // Zenlayer fixture account: (id, status, zone, charge type).
    let mut bmc_seen: Vec<(String, String, Option<String>, Option<String>)> = Vec::new();
    for exchange in recorded {
        let Some(response) = &exchange.response else {
            continue;
        };
        let Ok(json) = serde_json::from_slice::<Value>(&response.body) else {
            continue;
        };
        if exchange.entry.action.as_deref() == Some("DescribeInstances") {
            for instance in json["response"]["dataSet"].as_array().into_iter().flatten() {
                if let (Some(id), Some(status)) = (
                    instance["instanceId"].as_str(),
                    instance["instanceStatus"].as_str(),
                ) && !bmc_seen.iter().any(|(known, ..)| known == id)
                {
                    bmc_seen.push((
                        id.to_owned(),
                        status.to_owned(),
                        instance["zoneId"].as_str().map(str::to_owned),
                        instance["instanceChargeType"].as_str().map(str::to_owned),
                    ));
                }
            }
        }
        let answer = &json["Response"];
        let code = answer["Error"]["Code"].as_str();
        match (exchange.entry.action.as_deref(), code) {
            (Some("DescribeInstances"), None) => {
                for instance in answer["InstanceSet"].as_array().into_iter().flatten() {
                    if let (Some(id), Some(state)) = (
                        instance["InstanceId"].as_str(),
                        instance["InstanceState"].as_str(),
                    ) && !seen.iter().any(|known| known.id == id)
                    {
                        seen.push(SeenInstance {
                            id: id.to_owned(),
                            state: state.to_owned(),
                            protected: instance["DisableApiTermination"].as_bool().unwrap_or(false),
                            // Only the charge types a world knows (another would not load).
                            charge: instance["InstanceChargeType"]
                                .as_str()
                                .filter(|charge| CHARGE_TYPES.contains(charge))
                                .map(str::to_owned),
                        });
                    }
                }
            }
            // A terminate that succeeded saw its instances running; one refused for protection saw them
            // protected.
            (
                Some("TerminateInstances"),
                None | Some("UnsupportedOperation.InstancesProtected"),
            ) => {
                for id in requested_instances(&exchange.request) {
                    if !seen.iter().any(|known| known.id == id) {
                        seen.push(SeenInstance {
                            id,
                            state: "RUNNING".to_owned(),
                            protected: code.is_some(),
                            charge: None,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    let quote = |text: &str| Value::from(text).to_string();
    let mut toml = format!(
        "region = {}\nclock = {{ mode = \"real\" }}\n\n{}",
        quote(&region),
        fixture_accounts_toml(recorded_a_token(recorded))
    );
    for instance in seen {
        toml.push_str(&format!(
            "\n[[instances]]\nid = {}\nstate = {}\n",
            quote(&instance.id),
            quote(&instance.state)
        ));
        if instance.protected {
            toml.push_str("protected = true\n");
        }
        if let Some(charge) = instance.charge {
            toml.push_str(&format!("charge = {}\n", quote(&charge)));
        }
    }
    for (id, status, zone, charge) in bmc_seen {
        toml.push_str(&format!(
            "\n[[bmc-instances]]\nid = {}\nstatus = {}\nowner = \"200000000001\"\n",
            quote(&id),
            quote(&status)
        ));
        if let Some(zone) = zone {
            toml.push_str(&format!("zone = {}\n", quote(&zone)));
        }
        if let Some(charge) = charge {
            toml.push_str(&format!("charge = {}\n", quote(&charge)));
        }
    }
    WorldSpec::from_toml(&toml, "the world derived from the recording").map_err(|e| e.to_string())
}

/// The `InstanceChargeType` values a world file takes.
const CHARGE_TYPES: [&str; 5] = [
    "PREPAID",
    "POSTPAID_BY_HOUR",
    "CDHPAID",
    "SPOTPAID",
    "CDCPAID",
];

/// A Tencent instance as the recording first shows it.
struct SeenInstance {
    id: String,
    state: String,
    protected: bool,
    charge: Option<String>,
}

/// The fixture accounts replay's requests are signed with, as world TOML (the owners are the derived world's).
fn fixture_accounts_toml(token: bool) -> String {
    let quote = |text: &str| Value::from(text).to_string();
    let mut toml = format!(
        "[[accounts]]\nsecret-id = {}\nsecret-key = {}\nowner = \"100000000001\"\n",
        quote(FIXTURE_TENCENT.0),
        quote(FIXTURE_TENCENT.1)
    );
    if token {
        toml.push_str(&format!("token = {}\n", quote(TOKEN)));
    }
    toml.push_str(&format!(
        "\n[[accounts]]\nsecret-id = {}\nsecret-key = {}\nowner = \"200000000001\"\n",
        quote(FIXTURE_ZENLAYER.0),
        quote(FIXTURE_ZENLAYER.1)
    ));
    toml
}

/// `world` (given with `--world`) plus the fixture accounts the stored requests are signed with, unless it has
/// them already: a recording-time world knows the real account, which redaction replaced.
pub fn with_fixture_accounts(
    mut world: WorldSpec,
    recorded: &[Recorded],
) -> Result<WorldSpec, String> {
    let fixtures = WorldSpec::from_toml(
        &fixture_accounts_toml(recorded_a_token(recorded)),
        "the fixture accounts",
    )
    .map_err(|error| error.to_string())?;
    for account in fixtures.accounts.iter() {
        if world.accounts.get(&account.secret_id).is_none() {
            world.accounts.push(account.clone());
        }
    }
    Ok(world)
}

/// Whether a recorded request carried the `[TOKEN]` placeholder: in a header, or as the v1 `Token` parameter in
/// the body or the query, percent-encoded or as the client sent it (QcloudApi does not encode a token made of
/// unreserved characters, so the redactor's `[TOKEN]` stands there bare).
fn recorded_a_token(recorded: &[Recorded]) -> bool {
    recorded.iter().any(|exchange| {
        let request = &exchange.request;
        let body = String::from_utf8_lossy(&request.body);
        request.header("x-tc-token") == Some(TOKEN)
            || [body.as_ref(), request.target.as_str()]
                .iter()
                .any(|text| text.contains("Token=%5BTOKEN%5D") || text.contains("Token=[TOKEN]"))
    })
}

/// The instance ids a recorded `TerminateInstances` names (TC3 JSON body, or `InstanceIds.N` parameters).
fn requested_instances(request: &crate::message::Request) -> Vec<String> {
    if let Ok(json) = serde_json::from_slice::<Value>(&request.body) {
        return json["InstanceIds"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|id| id.as_str().map(str::to_owned))
            .collect();
    }
    signing::hmac_param::Params::read(request)
        .map(|params| {
            params
                .pairs()
                .filter(|(key, _)| key.starts_with("InstanceIds."))
                .map(|(_, value)| value.to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Replays every exchange against a fresh embedded mock seeded with `world`.
pub async fn replay_on_mock(
    recorded: &[Recorded],
    world: WorldSpec,
) -> Result<Vec<Verdict>, String> {
    let server = MockServer::builder()
        .world(world)
        .workers(1)
        .start()
        .map_err(|error| format!("cannot start the embedded mock: {error}"))?;
    let upstream = upstream::Client::new(&crate::tls::Trust::public_roots())?;
    let base = format!("http://{}", server.address());
    let mut verdicts = Vec::with_capacity(recorded.len());
    for exchange in recorded {
        if let Some(at) = signed_at(exchange) {
            server.with_world(|world| world.clock.set(at));
        }
        let answer = send(&upstream, &base, &exchange.request).await;
        verdicts.push(judge(exchange, answer));
    }
    Ok(verdicts)
}

/// Replays every exchange against a running server (`http://host:port`) through its control API.
pub async fn replay_on_url(
    recorded: &[Recorded],
    world: WorldSpec,
    base: &str,
) -> Result<Vec<Verdict>, String> {
    let base = base.trim_end_matches('/');
    let authority = base
        .strip_prefix("http://")
        .ok_or_else(|| format!("--target {base}: only http:// targets are replayed to"))?;
    if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
        return Err(format!("--target {base}: expected http://host:port"));
    }
    let upstream = upstream::Client::new(&crate::tls::Trust::public_roots())?;
    let client = crate::tls::http_client(&crate::tls::Trust::public_roots())
        .map_err(|error| error.to_string())?
        .timeout(EXCHANGE_TIMEOUT)
        .build()
        .map_err(|error| error.to_string())?;
    let world_toml = crate::harness::world_toml_with_keys(&world)?;
    control(
        &client,
        reqwest::Method::PUT,
        &format!("{base}/__terminus/world"),
        world_toml,
        "application/toml",
    )
    .await?;
    let mut verdicts = Vec::with_capacity(recorded.len());
    for exchange in recorded {
        if let Some(at) = signed_at(exchange) {
            control(
                &client,
                reqwest::Method::POST,
                &format!("{base}/__terminus/clock"),
                serde_json::json!({ "set": at }).to_string(),
                "application/json",
            )
            .await?;
        }
        let answer = send(&upstream, base, &exchange.request).await;
        verdicts.push(judge(exchange, answer));
    }
    Ok(verdicts)
}

async fn control(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: String,
    content_type: &str,
) -> Result<(), String> {
    let mut request = client
        .request(method, url)
        .header("Content-Type", content_type)
        .body(body);
    if let Ok(token) = std::env::var("TERMINUS_CONTROL_TOKEN") {
        request = request.header("X-Terminus-Token", token);
    }
    let answer = request
        .send()
        .await
        .map_err(|error| format!("{url}: {error}"))?;
    if answer.status().is_success() {
        Ok(())
    } else {
        Err(format!("{url}: answered {}", answer.status()))
    }
}

/// When the stored request was signed (its timestamp), if it says.
fn signed_at(exchange: &Recorded) -> Option<i64> {
    signing::inspect(&exchange.request).ok()?.timestamp
}

/// Sends one stored request as stored (through the recorder's upstream client: an answer may come chunked) and
/// reads the answer.
async fn send(
    upstream: &upstream::Client,
    base: &str,
    request: &crate::message::Request,
) -> Result<Response, String> {
    tokio::time::timeout(EXCHANGE_TIMEOUT, upstream.exchange(base, request))
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {}s", EXCHANGE_TIMEOUT.as_secs())))
}

/// Compares one replayed answer with the recorded one.
pub fn judge(exchange: &Recorded, answer: Result<Response, String>) -> Verdict {
    let mut differences = Vec::new();
    match (&exchange.response, &answer) {
        (None, Err(_)) => {}
        (None, Ok(response)) => differences.push(format!(
            "recorded no answer, replay answered {}",
            response.status
        )),
        (Some(recorded), Err(error)) => differences.push(format!(
            "recorded {}, replay got no answer: {error}",
            recorded.status
        )),
        (Some(recorded), Ok(response)) => {
            if recorded.status != response.status {
                differences.push(format!(
                    "status: recorded {}, replay {}",
                    recorded.status, response.status
                ));
            }
            let (before, after) = (json_of(recorded), json_of(response));
            let (code_before, code_after) = (error_code(&before), error_code(&after));
            if code_before != code_after {
                differences.push(format!(
                    "error code: recorded {}, replay {}",
                    code_before.as_deref().unwrap_or("none (success)"),
                    code_after.as_deref().unwrap_or("none (success)")
                ));
            }
            let (shape_before, shape_after) = (shape(&before), shape(&after));
            let missing: Vec<_> = shape_before.difference(&shape_after).cloned().collect();
            let extra: Vec<_> = shape_after.difference(&shape_before).cloned().collect();
            if !missing.is_empty() {
                differences.push(format!("fields missing in replay: {}", missing.join(", ")));
            }
            if !extra.is_empty() {
                differences.push(format!("fields only in replay: {}", extra.join(", ")));
            }
        }
    }
    Verdict {
        name: exchange.entry.name.clone(),
        action: exchange.entry.action.clone(),
        same: differences.is_empty(),
        differences,
    }
}

fn json_of(response: &Response) -> Value {
    serde_json::from_slice(&response.body).unwrap_or(Value::Null)
}

/// The provider's error code: Tencent API 3.0 `Response.Error.Code`; Zenlayer `code`; the 2.0 gateway's
/// `codeDesc` when `code` is not 0.
pub(super) fn error_code(json: &Value) -> Option<String> {
    if let Some(code) = json["Response"]["Error"]["Code"].as_str() {
        return Some(code.to_owned());
    }
    if let Some(code) = json["code"].as_str() {
        return Some(code.to_owned());
    }
    if json["code"].as_i64().is_some_and(|code| code != 0) {
        return Some(json["codeDesc"].as_str().unwrap_or("?").to_owned());
    }
    None
}

/// Every field path of a JSON value (`Response.InstanceSet[].InstanceId`).
fn shape(json: &Value) -> BTreeSet<String> {
    fn walk(value: &Value, path: &str, out: &mut BTreeSet<String>, depth: usize) {
        if depth > 32 {
            return;
        }
        match value {
            Value::Object(map) => {
                for (key, item) in map {
                    let here = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    out.insert(here.clone());
                    walk(item, &here, out, depth + 1);
                }
            }
            Value::Array(items) => {
                for item in items {
                    walk(item, &format!("{path}[]"), out, depth + 1);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(json, "", &mut out, 0);
    out
}
