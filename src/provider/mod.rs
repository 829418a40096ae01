//! The providers: each translates between its wire format and the world. A provider is a folder here whose
//! `mod.rs` implements [`Provider`], plus its line in [`ProviderId::ALL`]; nothing else dispatches on the
//! provider (the server routes through the list, the harness builds and reads through the trait).

pub mod tencent;
pub mod tencent_legacy;
pub mod zenlayer;

use crate::message::{Reply, Request};
use crate::signing::{Credentials, Trace, Unusable};
use crate::world::{Account, SharedWorld};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The domains the providers' official clients send to, failover roots included: Tencent API 3.0
/// (`tencentcloudapi.com`, the SDKs' failover roots `tencentcloudapi.com.cn` and `tencentcloudapi.cn`, and
/// `intl.tencentcloudapi.com` under the first), the legacy 2.0 gateway (`api.qcloud.com`), Zenlayer
/// (`console.zenlayer.com`). Sources: `reference/recorder.md` §1.2, §5.
pub const PROVIDER_DOMAINS: [&str; 5] = [
    "tencentcloudapi.com",
    "tencentcloudapi.com.cn",
    "tencentcloudapi.cn",
    "api.qcloud.com",
    "console.zenlayer.com",
];

/// Whether `host` (a name, no port) is one of [`PROVIDER_DOMAINS`] or a name under one, compared without case.
pub fn is_provider_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    PROVIDER_DOMAINS.iter().any(|domain| {
        host == *domain
            || host
                .strip_suffix(domain)
                .is_some_and(|head| head.ends_with('.') && head.len() > 1)
    })
}

/// What a provider implements, once, in its folder: its wire as the mock serves it (route, body limit, parse,
/// verify, decide, encode) and as a client sends it (build and sign a request, read an answer). Everything that
/// depends on the provider goes through this; registering one is a line in [`ProviderId::ALL`].
pub trait Provider: Sync + std::fmt::Debug {
    /// The provider's id in case paths and reports (`tencent`).
    fn name(&self) -> &'static str;
    /// Whether a request is for this provider (by its path or host). The first provider of [`ProviderId::ALL`]
    /// answers whatever no other one serves.
    fn serves(&self, request: &Request) -> bool;
    /// The account a case gets when it names none: the provider documentation's example credentials.
    fn example_account(&self) -> Account;
    /// How a step signs when its case names no form: the provider's usual one.
    fn default_sign(&self) -> SignForm;
    /// The version a request of this action carries when its caller names none (`None`, the default: it carries
    /// none); `terminus scenarios` writes it out.
    fn default_version(&self, _action: &str) -> Option<&'static str> {
        None
    }
    /// The most body bytes the server reads for this request (it may depend on the request's form).
    fn body_limit(&self, request: &Request) -> usize;
    /// The action a request names, read without verifying anything (fault filters use it).
    fn action_of(&self, request: &Request) -> Option<String>;
    /// Answers a request: authenticates it and decides it on one world ([`SharedWorld::authenticate`]).
    fn handle(&self, request: &Request, world: &SharedWorld) -> Reply;
    /// The provider's answer for a condition met before its handler (a fault, an unreadable or oversized body),
    /// with the provider's own precedence applied first (an unsupported method is still that).
    fn problem_reply(&self, problem: Problem, request: &Request, world: &SharedWorld) -> Reply;
    /// Builds and signs the request a harness step describes, as the provider's official SDK would.
    fn build_request(&self, call: &Call<'_>) -> Result<(Request, Option<Trace>), Unusable>;
    /// Reads an answer's envelope: `Ok(fields)` for success, `Err(code)` for an error; the outer `Err` says why
    /// the body is not the provider's envelope at all.
    #[allow(clippy::type_complexity)]
    fn read_answer(&self, body: &[u8]) -> Result<Result<Map<String, Value>, String>, String>;
}

/// The methods of [`Provider`] every built-in provider implements the same way, by the functions of the same
/// names in its `mock`, `client` and `wire` modules; invoked inside `impl Provider for …` in its `mod.rs`.
macro_rules! served_by_its_modules {
    () => {
        fn body_limit(&self, request: &$crate::message::Request) -> usize {
            mock::body_limit(request)
        }

        fn action_of(&self, request: &$crate::message::Request) -> Option<String> {
            mock::action_of(request)
        }

        fn handle(
            &self,
            request: &$crate::message::Request,
            world: &$crate::world::SharedWorld,
        ) -> $crate::message::Reply {
            mock::handle(request, world)
        }

        fn problem_reply(
            &self,
            problem: $crate::provider::Problem,
            request: &$crate::message::Request,
            world: &$crate::world::SharedWorld,
        ) -> $crate::message::Reply {
            mock::problem_reply(problem, request, world)
        }

        fn build_request(
            &self,
            call: &$crate::provider::Call<'_>,
        ) -> Result<
            ($crate::message::Request, Option<$crate::signing::Trace>),
            $crate::signing::Unusable,
        > {
            client::build(call)
        }

        fn read_answer(
            &self,
            body: &[u8],
        ) -> Result<Result<serde_json::Map<String, serde_json::Value>, String>, String> {
            wire::read_answer(body)
        }
    };
}
pub(crate) use served_by_its_modules;

/// A provider's API, as served by the mock: a handle on its [`Provider`], compared by name.
#[derive(Clone, Copy)]
pub struct ProviderId(&'static dyn Provider);

#[allow(non_upper_case_globals)]
impl ProviderId {
    /// Tencent Cloud CVM API 3.0.
    pub const Tencent: ProviderId = ProviderId(&tencent::Tencent);
    /// Tencent Cloud's legacy CVM API 2.0 gateway (`cvm.api.qcloud.com/v2/index.php`): `TerminateInstances`
    /// (Version 2017-03-12) and `ReturnInstance`.
    pub const TencentLegacy: ProviderId = ProviderId(&tencent_legacy::TencentLegacy);
    /// Zenlayer Cloud Bare Metal (`console.zenlayer.com`, `POST /api/v2/bmc`, versions 2022-11-20 and 2026-02-01).
    pub const ZenlayerBmc: ProviderId = ProviderId(&zenlayer::ZenlayerBmc);
}

impl ProviderId {
    /// Every provider, the registration list: the first answers requests no other one serves.
    pub const ALL: &'static [ProviderId] = &[
        ProviderId::Tencent,
        ProviderId::TencentLegacy,
        ProviderId::ZenlayerBmc,
    ];

    /// A handle on a provider defined outside this list (a test's, an embedder's).
    pub const fn new(provider: &'static dyn Provider) -> Self {
        ProviderId(provider)
    }

    /// The provider with this id (`tencent`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|provider| provider.name() == name)
    }

    /// The provider a request is for, among `providers` (the first answers what no other one serves).
    pub(crate) fn route(providers: &[ProviderId], request: &Request) -> Self {
        providers
            .iter()
            .skip(1)
            .find(|provider| provider.0.serves(request))
            .or(providers.first())
            .copied()
            .unwrap_or(ProviderId::Tencent)
    }

    /// The provider id used in case paths (`tencent`).
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// The account a case gets when it names none: the provider documentation's example credentials.
    pub fn example_account(self) -> Account {
        self.0.example_account()
    }

    /// Answers a request.
    pub(crate) fn handle(self, request: &Request, world: &SharedWorld) -> Reply {
        self.0.handle(request, world)
    }

    /// The action a request names, read without verifying anything (fault filters use it).
    pub(crate) fn action_of(self, request: &Request) -> Option<String> {
        self.0.action_of(request)
    }

    /// The provider's answer for a condition met before its handler.
    pub(crate) fn error(self, problem: Problem, request: &Request, world: &SharedWorld) -> Reply {
        self.0.problem_reply(problem, request, world)
    }

    /// Builds and signs the request a harness step describes, as the provider's official SDK would.
    pub fn build_request(self, call: &Call<'_>) -> Result<(Request, Option<Trace>), Unusable> {
        self.0.build_request(call)
    }

    /// The version a request of this action carries when its caller names none (`None`: it carries none).
    pub fn default_version(self, action: &str) -> Option<&'static str> {
        self.0.default_version(action)
    }

    /// How a step signs when its case names no form: the provider's usual one.
    pub fn default_sign(self) -> SignForm {
        self.0.default_sign()
    }

    /// Reads an answer's envelope: `Ok(fields)` for success, `Err(code)` for an error; the outer `Err` says why
    /// the body is not the provider's envelope at all.
    #[allow(clippy::type_complexity)]
    pub fn read_answer(self, body: &[u8]) -> Result<Result<Map<String, Value>, String>, String> {
        self.0.read_answer(body)
    }

    /// The most body bytes the server reads for this request (it may depend on the request's form).
    pub(crate) fn body_limit(self, request: &Request) -> usize {
        self.0.body_limit(request)
    }
}

impl PartialEq for ProviderId {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for ProviderId {}

impl std::hash::Hash for ProviderId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl std::fmt::Debug for ProviderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The first parameter of `values` that is not in `known`: an action's unknown parameter, whatever the provider
/// calls it.
pub(crate) fn unknown_parameter<'v>(
    values: &'v Map<String, Value>,
    known: &[&str],
) -> Option<&'v str> {
    values
        .keys()
        .map(String::as_str)
        .find(|name| !known.contains(name))
}

/// Everything the harness builds a provider request from; each provider turns it into its wire format.
#[derive(Clone, Debug)]
pub struct Call<'a> {
    /// The action, e.g. `TerminateInstances`.
    pub action: &'a str,
    /// Action parameters, as the API names them.
    pub params: &'a Map<String, Value>,
    /// `None` sends no region.
    pub region: Option<&'a str>,
    /// `None`: the API's version.
    pub version: Option<&'a str>,
    /// Signing credentials.
    pub credentials: &'a Credentials,
    /// A session token.
    pub token: Option<&'a str>,
    /// Signing time, Unix seconds.
    pub timestamp: i64,
    /// Nonce, for schemes that carry one.
    pub nonce: u64,
    /// How to sign.
    pub sign: SignForm,
    /// HTTP method.
    pub method: &'a str,
    /// Headers added before signing.
    pub headers: &'a [(String, String)],
}

/// A condition met before a provider's handler runs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Problem {
    /// An injected error (`None`: the provider's internal error, its code and message).
    Fault {
        /// The code to answer.
        code: Option<String>,
        /// The message to answer.
        message: Option<String>,
    },
    /// An injected HTTP status (with this message, when given).
    HttpFault {
        /// The status to answer.
        status: u16,
        /// The message to answer.
        message: Option<String>,
    },
    /// The body is larger than the server reads.
    TooLarge {
        /// The most bytes read.
        limit: usize,
    },
    /// The body could not be read (cut short, or too slow).
    Unreadable(String),
    /// The value of this header is not UTF-8.
    HeaderEncoding(String),
}

/// The signing forms a step can use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SignForm {
    /// TC3-HMAC-SHA256, `content-type;host` signed, as the SDKs do.
    #[default]
    Tc3,
    /// TC3 with `X-TC-Content-SHA256: UNSIGNED-PAYLOAD`.
    Tc3UnsignedPayload,
    /// TC3 signing `content-type;host;x-tc-action`, as the current documentation example does.
    Tc3SignAction,
    /// The `Signature` parameter with HmacSHA1.
    HmacSha1,
    /// The `Signature` parameter with HmacSHA256.
    HmacSha256,
    /// Zenlayer ZC2-HMAC-SHA256, `content-type;host` signed, as the SDKs do.
    Zc2,
    /// Zenlayer `Authorization: Bearer` with the account's `bearer-token` (`secret-key` gives another token).
    Bearer,
    /// Not signed at all.
    None,
}
