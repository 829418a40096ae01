//! The providers: each translates between its wire format and the world. Adding one is a folder here plus one
//! [`ProviderId`] variant and its arms below; nothing else dispatches on the provider.

pub mod tencent;
pub mod tencent_legacy;
pub mod zenlayer;

use crate::case::SignForm;
use crate::message::Request;
use crate::mock::{Reply, Shared};
use crate::signing::{Credentials, Trace, Unusable};
use crate::world::Account;
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

/// A provider's API, as served by the mock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProviderId {
    /// Tencent Cloud CVM API 3.0.
    Tencent,
    /// Tencent Cloud's legacy CVM API 2.0 gateway (`cvm.api.qcloud.com/v2/index.php`): `TerminateInstances`
    /// (Version 2017-03-12) and `ReturnInstance`.
    TencentLegacy,
    /// Zenlayer Cloud Bare Metal (`console.zenlayer.com`, `POST /api/v2/bmc`, versions 2022-11-20 and 2026-02-01).
    ZenlayerBmc,
}

impl ProviderId {
    /// Every provider.
    pub const ALL: [ProviderId; 3] = [
        ProviderId::Tencent,
        ProviderId::TencentLegacy,
        ProviderId::ZenlayerBmc,
    ];

    /// The provider with this id (`tencent`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|provider| provider.name() == name)
    }

    /// The account a case gets when it names none: the provider documentation's example credentials.
    pub fn example_account(self) -> Account {
        match self {
            // The legacy gateway serves the same world: the same accounts.
            ProviderId::Tencent | ProviderId::TencentLegacy => Account {
                secret_id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE".into(),
                secret_key: "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE".into(),
                ..Account::new_default()
            },
            // The signing document's worked example (its prose names another id, but this one signs), and the
            // personal access token of the captured Bearer vector (tests/vectors/bearer).
            ProviderId::ZenlayerBmc => Account {
                secret_id: "0D9UtpyKYcHxms5v".into(),
                secret_key: "Gu5t9xGARNpq86cd98joQYCN3".into(),
                bearer_token: Some("zlPATtokenEXAMPLE0123456789abcdef".into()),
                ..Account::new_default()
            },
        }
    }

    /// The provider a request is for, by its path.
    pub(crate) fn route(request: &Request) -> Self {
        if request.path().starts_with("/api/v2/") {
            return ProviderId::ZenlayerBmc;
        }
        if tencent_legacy::serves(request) {
            return ProviderId::TencentLegacy;
        }
        ProviderId::Tencent
    }

    /// The provider id used in case paths (`tencent`).
    pub fn name(self) -> &'static str {
        match self {
            ProviderId::Tencent => "tencent",
            ProviderId::TencentLegacy => "tencent-legacy",
            ProviderId::ZenlayerBmc => "zenlayer-bmc",
        }
    }

    /// Answers a request.
    pub(crate) fn handle(self, request: &Request, shared: &Shared) -> Reply {
        match self {
            ProviderId::Tencent => tencent::mock::handle(request, shared),
            ProviderId::TencentLegacy => tencent_legacy::mock::handle(request, shared),
            ProviderId::ZenlayerBmc => zenlayer::mock::handle(request, shared),
        }
    }

    /// The action a request names, read without verifying anything (fault filters use it).
    pub(crate) fn action_of(self, request: &Request) -> Option<String> {
        match self {
            ProviderId::Tencent => tencent::mock::action_of(request),
            ProviderId::TencentLegacy => tencent_legacy::mock::action_of(request),
            ProviderId::ZenlayerBmc => zenlayer::mock::action_of(request),
        }
    }

    /// The provider's answer for a condition met before its handler (a fault, an unreadable or oversized body),
    /// with the provider's own precedence applied first (an unsupported method is still that).
    pub(crate) fn error(self, problem: Problem, request: &Request, shared: &Shared) -> Reply {
        match self {
            ProviderId::Tencent => tencent::mock::problem_reply(problem, request, shared),
            ProviderId::TencentLegacy => {
                tencent_legacy::mock::problem_reply(problem, request, shared)
            }
            ProviderId::ZenlayerBmc => zenlayer::mock::problem_reply(problem, request, shared),
        }
    }

    /// Builds and signs the request a harness step describes, as the provider's official SDK would.
    pub fn build_request(self, call: &Call<'_>) -> Result<(Request, Option<Trace>), Unusable> {
        match self {
            ProviderId::Tencent => tencent::client::build(call),
            ProviderId::TencentLegacy => tencent_legacy::client::build(call),
            ProviderId::ZenlayerBmc => zenlayer::client::build(call),
        }
    }

    /// How a step signs when its case names no form: the provider's usual one.
    pub fn default_sign(self) -> SignForm {
        match self {
            ProviderId::Tencent => SignForm::Tc3,
            // QcloudApi's default.
            ProviderId::TencentLegacy => SignForm::HmacSha1,
            ProviderId::ZenlayerBmc => SignForm::Zc2,
        }
    }

    /// Reads an answer's envelope: `Ok(fields)` for success, `Err(code)` for an error; the outer `Err` says why
    /// the body is not the provider's envelope at all.
    #[allow(clippy::type_complexity)]
    pub fn read_answer(self, body: &[u8]) -> Result<Result<Map<String, Value>, String>, String> {
        match self {
            ProviderId::Tencent => tencent::wire::read_answer(body),
            ProviderId::TencentLegacy => tencent_legacy::wire::read_answer(body),
            ProviderId::ZenlayerBmc => zenlayer::wire::read_answer(body),
        }
    }

    /// The most body bytes the server reads for this request (it may depend on the request's form).
    pub(crate) fn body_limit(self, request: &Request) -> usize {
        match self {
            ProviderId::Tencent => tencent::mock::body_limit(request),
            ProviderId::TencentLegacy => tencent_legacy::mock::body_limit(request),
            ProviderId::ZenlayerBmc => zenlayer::mock::body_limit(request),
        }
    }
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
pub(crate) enum Problem {
    /// An injected error (`None`: the provider's internal error).
    Fault { code: Option<String> },
    /// An injected HTTP status.
    HttpFault { status: u16 },
    /// The body is larger than the server reads.
    TooLarge { limit: usize },
    /// The body could not be read (cut short, or too slow).
    Unreadable(String),
    /// The value of this header is not UTF-8.
    HeaderEncoding(String),
}
