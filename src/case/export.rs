//! The cases as scenarios any client can run (`terminus scenarios --format json`): every default made explicit,
//! in a language-neutral JSON form described by `scenarios.schema.json` (kept in step by a test).
//!
//! A case file leaves much to defaults: the action comes from its directory, the version and signing form from the
//! provider, the credentials from the world's first account, the clock and account from the case defaults. An
//! export step names all of them, with the key material a client signs with (the mock's fixture keys: they open
//! nothing real). A client runs a scenario by loading its world (`PUT /__terminus/scenario/<id>`), doing each step
//! (moving the clock first when `advance-seconds` says so), checking each answer against `expect`, and asking the
//! server whether what it received matched (`GET /__terminus/scenario/<id>/verdict`).
//!
//! Times are relative to the world's clock. Loading a scenario moves its clock to the server's time (a client signs
//! with its own), so a parameter that names a time (`ActionTimer.ActionTime`) cannot be sent as the case wrote it
//! for the case's clock: the step's `relative-times` gives it in seconds after the clock at load, which the client
//! writes out from the `now` that `PUT /__terminus/scenario/<id>` answers.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{Elapsed, Expect, Live, Loaded, Method, SignForm, Source, Tamper};
use crate::world::clock::ClockSpec;

/// The version of this format; a change that breaks readers changes it.
pub const FORMAT: &str = "terminus-scenarios/1";

/// Every scenario.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Scenarios {
    /// `terminus-scenarios/1`.
    pub format: &'static str,
    /// Every scenario, sorted by id.
    pub scenarios: Vec<Scenario>,
}

/// One scenario: a case with its defaults made explicit.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Scenario {
    /// The case id, `<provider>/<action>/<scenario>`; also its id on the control API.
    pub id: String,
    /// `tencent`, `tencent-legacy` or `zenlayer-bmc`.
    pub provider: String,
    /// What the scenario shows.
    pub title: String,
    /// The documentary source.
    pub source: Source,
    /// Documented error codes it proves.
    pub covers: Vec<String>,
    /// Labels.
    pub tags: Vec<String>,
    /// What running it against a real account would do.
    pub live: Live,
    /// The world it starts from, in the world-file shape (`terminus serve --world`, `PUT /__terminus/world`),
    /// every default explicit and every account with its `secret-key` (and `token`, `bearer-token`). `PUT
    /// /__terminus/scenario/<id>` loads it with a fixed clock moved to the server's time, so that a client
    /// signing with its own clock is in time.
    pub world: Value,
    /// The steps, in order.
    pub steps: Vec<ScenarioStep>,
}

/// One step, every default explicit.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct ScenarioStep {
    /// The action (`TerminateInstances`).
    pub action: String,
    /// The API version sent; `null`: none (legacy API 2.0 actions).
    pub version: Option<String>,
    /// The region sent; `null`: none.
    pub region: Option<String>,
    /// The action's parameters, as the API names them.
    pub params: Map<String, Value>,
    /// Who signs.
    pub credentials: Credentials,
    /// How the request is signed.
    pub sign: SignForm,
    /// The HTTP method.
    pub method: Method,
    /// Extra headers, added before signing.
    pub headers: BTreeMap<String, String>,
    /// Parameters that are times (`YYYY-MM-DDThh:mm:ssZ`), by JSON pointer into `params`: seconds after the
    /// world's clock when the scenario was loaded (the `now` of `PUT /__terminus/scenario/<id>`). `params` holds
    /// them for the case's own clock (`world.clock.at`); a client against a server writes them out from `now`.
    pub relative_times: BTreeMap<String, i64>,
    /// Move the world's clock by this many seconds before the step (`POST /__terminus/clock {"advance": N}`).
    pub advance_seconds: i64,
    /// Sign at the world's time plus this many seconds (0: the world's time).
    pub skew_seconds: i64,
    /// A change made after signing, which an SDK cannot make (`null`: none).
    pub tamper: Option<Tamper>,
    /// The same request, this many times.
    pub repeat: u32,
    /// The `Nonce` to send every time (`null`: a fresh one each request).
    pub nonce: Option<u64>,
    /// What must come back.
    pub expect: ScenarioExpect,
}

/// The credentials a step signs with.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Credentials {
    /// The SecretId (`AKID…`), or Zenlayer's access key id.
    pub secret_id: String,
    /// The key it signs with (a wrong one when the step means it); for `bearer`, the token sent.
    pub secret_key: String,
    /// The session token sent (`X-TC-Token` / `Token`), if any.
    pub token: Option<String>,
    /// Whether `secret-id` is an account of the world (otherwise the step uses an unknown one on purpose).
    pub known: bool,
}

/// What must come back from a step, defaults explicit.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct ScenarioExpect {
    /// The error code; `null`: success.
    pub error: Option<String>,
    /// The HTTP status.
    pub status: u16,
    /// The server closes the connection without an answer.
    pub dropped: bool,
    /// Bounds on how long each answer takes.
    pub elapsed: Option<Elapsed>,
    /// Instance states after the step.
    pub instances: BTreeMap<String, String>,
    /// The state every instance is in after the step.
    pub every_instance: Option<String>,
    /// Data disk states after the step.
    pub disks: BTreeMap<String, String>,
    /// Elastic IPs after the step: `released` or `kept`.
    pub addresses: BTreeMap<String, String>,
    /// Response fields that must be present with these values.
    pub response: Map<String, Value>,
    /// Response fields that are times (`YYYY-MM-DDThh:mm:ssZ`), by their name in `response`: seconds after the
    /// world's clock when the scenario was loaded (the `now` of `PUT /__terminus/scenario/<id>`). `response` holds
    /// them for the case's own clock; a client against a server compares them with `now` plus these seconds.
    pub response_relative_times: BTreeMap<String, i64>,
}

/// A case as a scenario.
pub fn scenario(loaded: &Loaded) -> Scenario {
    let case = &loaded.case;
    let world = &case.world;
    let steps = case
        .steps
        .iter()
        .map(|step| {
            let resolved = loaded.resolve(step);
            let expect: &Expect = &step.expect;
            ScenarioStep {
                version: step.version.clone().or_else(|| {
                    loaded
                        .provider
                        .default_version(&resolved.action)
                        .map(str::to_owned)
                }),
                region: resolved.region,
                params: step.params.clone(),
                credentials: Credentials {
                    secret_id: resolved.secret_id,
                    secret_key: resolved.secret_key.expose().to_owned(),
                    token: resolved.token.map(|token| token.expose().to_owned()),
                    known: resolved.known,
                },
                sign: resolved.sign,
                method: step.method,
                headers: step.headers.clone(),
                relative_times: relative_times(&step.params, world.clock),
                advance_seconds: step.advance.map_or(0, |advance| {
                    i64::try_from(advance.as_secs()).unwrap_or(i64::MAX)
                }),
                skew_seconds: step.skew.unwrap_or(0),
                tamper: step.tamper.clone(),
                repeat: step.repeat.unwrap_or(1),
                nonce: step.nonce,
                expect: ScenarioExpect {
                    error: expect.error.clone(),
                    status: expect.status.unwrap_or(200),
                    dropped: expect.dropped,
                    elapsed: expect.elapsed,
                    instances: expect.instances.clone(),
                    every_instance: expect.every_instance.clone(),
                    disks: expect.disks.clone(),
                    addresses: expect.addresses.clone(),
                    response: expect.response.clone(),
                    response_relative_times: response_relative_times(&expect.response, world.clock),
                },
                action: resolved.action,
            }
        })
        .collect();
    Scenario {
        id: loaded.id.clone(),
        provider: loaded.provider.name().to_owned(),
        title: case.title.clone(),
        source: case.source.clone(),
        covers: case.covers.clone(),
        tags: case.tags.clone(),
        live: case.live,
        world: world_with_keys(world),
        steps,
    }
}

/// The parameters that are times, as seconds after the world's clock started (`relative-times`); none for a world
/// on the machine's clock, whose times are the machine's.
fn relative_times(params: &Map<String, Value>, clock: ClockSpec) -> BTreeMap<String, i64> {
    let (ClockSpec::Fixed { at } | ClockSpec::Virtual { at }) = clock else {
        return BTreeMap::new();
    };
    let mut times = BTreeMap::new();
    let mut pending: Vec<(String, &Value)> = params
        .iter()
        .map(|(name, value)| (format!("/{}", pointer_token(name)), value))
        .collect();
    while let Some((pointer, value)) = pending.pop() {
        match value {
            Value::String(text) => {
                if let Some(time) = utc_time(text) {
                    times.insert(pointer, time.saturating_sub(at));
                }
            }
            Value::Array(items) => pending.extend(
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| (format!("{pointer}/{index}"), item)),
            ),
            Value::Object(fields) => pending.extend(
                fields
                    .iter()
                    .map(|(name, item)| (format!("{pointer}/{}", pointer_token(name)), item)),
            ),
            _ => {}
        }
    }
    times
}

/// The expected response fields that are times, as seconds after the world's clock started; none for a world on
/// the machine's clock.
fn response_relative_times(
    response: &Map<String, Value>,
    clock: ClockSpec,
) -> BTreeMap<String, i64> {
    let (ClockSpec::Fixed { at } | ClockSpec::Virtual { at }) = clock else {
        return BTreeMap::new();
    };
    response
        .iter()
        .filter_map(|(name, value)| {
            let time = utc_time(value.as_str()?)?;
            Some((name.clone(), time.saturating_sub(at)))
        })
        .collect()
}

/// A name as a JSON pointer token (RFC 6901: `~` and `/` escaped).
fn pointer_token(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// `YYYY-MM-DDThh:mm:ssZ`, the form the APIs' time parameters take, in Unix seconds.
fn utc_time(text: &str) -> Option<i64> {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::PrimitiveDateTime::parse(text, FORMAT)
        .ok()
        .map(|at| at.assume_utc().unix_timestamp())
}

/// The world in the world-file shape, with the keys the control API never writes back: these are the mock's
/// fixture keys, which a client needs to sign, and which open nothing real.
fn world_with_keys(world: &crate::world::WorldSpec) -> Value {
    let mut value = serde_json::to_value(world).unwrap_or_default();
    if let Some(accounts) = value.get_mut("accounts").and_then(Value::as_array_mut) {
        for (json, account) in accounts.iter_mut().zip(&world.accounts) {
            if let Some(json) = json.as_object_mut() {
                json.insert("secret-key".into(), account.secret_key.expose().into());
                if let Some(token) = &account.token {
                    json.insert("token".into(), token.expose().into());
                }
                if let Some(token) = &account.bearer_token {
                    json.insert("bearer-token".into(), token.expose().into());
                }
            }
        }
    }
    value
}

/// Every case of a source as a scenario; the ones that cannot be read, with why.
pub fn scenarios(cases: Vec<Loaded>) -> Scenarios {
    Scenarios {
        format: FORMAT,
        scenarios: cases.iter().map(scenario).collect(),
    }
}

/// The JSON schema of the export.
pub fn schema() -> Value {
    serde_json::to_value(schemars::schema_for!(Scenarios)).expect("a schema serialises")
}
