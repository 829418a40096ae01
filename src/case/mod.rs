//! Declarative cases: one scenario per TOML file under `cases/<provider>/<action>/<scenario>.toml`.
//!
//! The path is the case's identity (`tencent/terminate-instances/protected-instance-is-refused`), so provider and
//! action are not repeated inside the file. A case names its documentary source and the codes it proves, seeds a
//! [`WorldSpec`] (the same shape `terminus serve --world` reads) and lists steps: what to send, how to sign and
//! tamper with it, and what must come back. Everything here is data: adding a scenario is adding a file.
//! `schema.json` at the repository root is the JSON schema of this format, kept in step by a test.

pub mod export;
mod load;
mod source;
mod states;

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use load::{
    CASE_EPOCH, LoadError, Loaded, MAX_ADVANCE, MAX_CASE_BYTES, MAX_DEPTH, MAX_REPEAT, discover,
    load, parse, pascal_case, read_bounded, regular_file, walk,
};
pub use source::{CaseSource, Found};

pub use crate::provider::SignForm;
use crate::signing::Secret;
use crate::world::WorldSpec;

/// One scenario.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Case {
    /// What the scenario shows, as a sentence.
    pub title: String,
    /// Where the documented behaviour comes from.
    pub source: Source,
    /// Documented error codes this case proves.
    #[serde(default)]
    pub covers: Vec<String>,
    /// Free labels for `--tag` (`state`, `signing`, `batch`, …).
    #[serde(default)]
    pub tags: Vec<String>,
    /// What running it against a real account would do.
    pub live: Live,
    /// The world the case starts from. A case that sets no clock gets a fixed one at 1700000000 (2023-11-14
    /// 22:13:20 UTC); one without accounts gets the documentation's example account.
    #[serde(default)]
    pub world: WorldSpec,
    /// The steps, in order.
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
}

/// A documentary source: a seed file (or reference section) and the line quoted from it.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Source {
    /// The document, e.g. `001_708a1ee6f76f4ff2.txt` or `reference/tencent-api.md §1.2`.
    pub doc: String,
    /// The line that documents the behaviour, quoted.
    pub quote: String,
}

/// Live safety.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Live {
    /// Changes nothing on a real account (it is refused before anything happens).
    Safe,
    /// Terminates something: runs live only when destructive cases are allowed, on instances handed over.
    Destructive,
    /// Needs the mock (a seeded state, the control API, an injected fault): never runs live.
    MockOnly,
}

/// One request and what must come back.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Step {
    /// The action; default: the case's action directory in PascalCase (`terminate-instances` →
    /// `TerminateInstances`).
    pub action: Option<String>,
    /// The action's parameters, as the API names them (`InstanceIds = ["ins-…"]`).
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// The region; default: the world's. An empty string sends none.
    pub region: Option<String>,
    /// The API version; default: the provider's.
    pub version: Option<String>,
    /// The SecretId to sign with; default: the world's first account.
    pub credentials: Option<String>,
    /// Sign with this key instead of the account's (a wrong key).
    #[serde(skip_serializing)]
    pub secret_key: Option<Secret>,
    /// Send this session token; default: the account's.
    #[serde(skip_serializing)]
    pub token: Option<Secret>,
    /// Advance the world's clock by this much before the step (`"1s"`, `"5m"`; at most 100 years).
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub advance: Option<Duration>,
    /// Sign at the world's time plus this many seconds (negative: in the past).
    pub skew: Option<i64>,
    /// How to sign; default: the provider's usual form (`tc3` for `tencent`, `zc2` for `zenlayer-bmc`).
    pub sign: Option<SignForm>,
    /// HTTP method; default POST (GET for nothing but explicit choice).
    #[serde(default)]
    pub method: Method,
    /// Extra headers, added before signing (only the signed ones, `content-type` and `host`, change the signature).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A change made after signing.
    pub tamper: Option<Tamper>,
    /// Send the same request this many times; every answer must meet `expect` (default 1, at most 1000).
    #[schemars(range(min = 1, max = 1000))]
    pub repeat: Option<u32>,
    /// How long the client waits for each answer before giving up (`"200ms"`); default 20 s.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Duration>,
    /// The `Nonce` to send (`Signature`-parameter forms), every time; default: a new one for every request of the
    /// case (11886 for the first, then 11887, …). Giving an earlier request's replays it.
    pub nonce: Option<u64>,
    /// What must come back.
    #[serde(default)]
    pub expect: Expect,
}

/// HTTP methods a step can use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// POST (the SDKs' default).
    #[default]
    Post,
    /// GET.
    Get,
    /// PUT (refused by the API).
    Put,
    /// DELETE (refused by the API).
    Delete,
}

/// A change made to a signed request before it is sent.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Tamper {
    /// Flip one byte of the body (or, without a body, of the query).
    Body,
    /// Flip one character of the signature.
    Signature,
    /// Remove this header.
    DropHeader(String),
}

/// What must come back from a step.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Expect {
    /// The error code; absent means success.
    pub error: Option<String>,
    /// The server closes the connection without an answer (an injected `drop` fault). A client that stops waiting
    /// (its timeout) does not count: that is a server that did not answer in time, not one that hung up.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dropped: bool,
    /// How long each answer of the step takes, as the client measures it from sending to the whole answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed: Option<Elapsed>,
    /// The HTTP status (default 200).
    pub status: Option<u16>,
    /// Instance states after the step (`TERMINATED` for destroyed ones).
    #[serde(default)]
    pub instances: BTreeMap<String, String>,
    /// The state every instance of the world is in after the step (`TERMINATED`: the whole batch went).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_instance: Option<String>,
    /// Data disk states after the step (`ATTACHED`, `RECYCLED`, `RELEASED`).
    #[serde(default)]
    pub disks: BTreeMap<String, String>,
    /// Elastic IPs after the step: `released` or `kept`.
    #[serde(default)]
    pub addresses: BTreeMap<String, String>,
    /// Response fields that must be present with these values (`TotalCount = 2`); a name with a leading `/` is a
    /// JSON pointer into the answer (`"/InstanceSet/0/InstanceState" = "RUNNING"`).
    #[serde(default)]
    pub response: serde_json::Map<String, serde_json::Value>,
    /// The signed request's stages, copied from an outside source (official examples, `tests/vectors`).
    #[serde(default)]
    pub signed: BTreeMap<String, String>,
}

/// Bounds on how long an answer takes (`{ at-least = "200ms", at-most = "5s" }`): an injected latency shows as an
/// answer that takes at least that long, and one that still comes well before the client's timeout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Elapsed {
    /// The answer takes at least this long.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>")]
    pub at_least: Option<Duration>,
    /// The answer takes at most this long.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>")]
    pub at_most: Option<Duration>,
}

impl Case {
    /// Every key and token the case holds: its world's and its steps' (for redacting what its run prints).
    pub fn secrets(&self) -> impl Iterator<Item = &Secret> {
        self.world.secrets().chain(
            self.steps
                .iter()
                .flat_map(|step| step.secret_key.iter().chain(&step.token)),
        )
    }
}

/// A step with its case's defaults filled in: who signs, with what, for which action and region. The harness
/// builds its request from this and `scenarios` exports it, so both read a step the same way.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The SecretId: the step's, else the world's first account's.
    pub secret_id: String,
    /// The key of the sign form: a Bearer request carries the account's token, the others sign with its key.
    pub secret_key: Secret,
    /// The session token to send: the step's, else the account's.
    pub token: Option<Secret>,
    /// Whether the credentials are an account of the world.
    pub known: bool,
    /// How to sign: the step's, else the provider's usual form.
    pub sign: SignForm,
    /// The action: the step's, else the case's action directory in PascalCase.
    pub action: String,
    /// The region: the step's, else the world's; none for an empty string.
    pub region: Option<String>,
}

impl Loaded {
    /// `step` of this case with the case's defaults filled in.
    pub fn resolve(&self, step: &Step) -> Resolved {
        let world = &self.case.world;
        let account = match &step.credentials {
            Some(id) => world
                .accounts
                .iter()
                .find(|account| &account.secret_id == id),
            None => world.accounts.first(),
        };
        let sign = step.sign.unwrap_or(self.provider.default_sign());
        Resolved {
            secret_id: step
                .credentials
                .clone()
                .or_else(|| account.map(|a| a.secret_id.clone()))
                .unwrap_or_default(),
            secret_key: step
                .secret_key
                .clone()
                .or_else(|| match sign {
                    SignForm::Bearer => account.and_then(|a| a.bearer_token.clone()),
                    _ => account.map(|a| a.secret_key.clone()),
                })
                .unwrap_or_default(),
            token: step
                .token
                .clone()
                .or_else(|| account.and_then(|a| a.token.clone())),
            known: account.is_some(),
            sign,
            action: step
                .action
                .clone()
                .unwrap_or_else(|| pascal_case(&self.action)),
            region: match step.region.as_deref() {
                Some("") => None,
                Some(region) => Some(region.to_owned()),
                None => Some(world.region.clone()),
            },
        }
    }
}

/// The JSON schema of the case format.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Case)).expect("a schema serialises")
}
