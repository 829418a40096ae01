//! Tencent Cloud's legacy CVM API 2.0 gateway (`cvm.api.qcloud.com/v2/index.php`): `TerminateInstances` with
//! `Version=2017-03-12` (seed 000), answering in the API 3.0 envelope, and the older `ReturnInstance` (seed 004),
//! answering `{"code":0,"message":"ok"}` or a numeric `code` with `codeDesc`. Only the `Signature` parameter
//! scheme (HmacSHA1, HmacSHA256; GET and POST form). The world is API 3.0's: same accounts, instances and rules.
//! `wire` holds the two envelopes, the codes and the decisions where the documents are silent; `mock` the
//! endpoint's handler; `client` requests as the legacy QcloudApi client builds them.

use crate::message::Request;
use crate::provider::{Provider, SignForm};
use crate::world::Account;

pub mod client;
pub mod wire;

pub(crate) mod mock;

/// The production host.
pub const ENDPOINT: &str = "cvm.api.qcloud.com";

/// The gateway's one path.
pub const PATH: &str = "/v2/index.php";

/// Whether a request is the gateway's: anything addressed to its host, and `/v2/index.php` on any host but API 3.0's
/// (`*.tencentcloudapi.com` has no such path: there it stays API 3.0's `InvalidAction`). A client pointed at the
/// mock directly (`Host: 127.0.0.1:PORT`) reaches the gateway by its path.
pub(crate) fn serves(request: &Request) -> bool {
    let host = request.host().unwrap_or_default();
    let hostname = host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(name, _)| name);
    // Compared without case and without a lowercase copy: every request is routed through here.
    const API_3: &[u8] = b"tencentcloudapi.com";
    let api_3 = hostname
        .len()
        .checked_sub(API_3.len())
        .is_some_and(|at| hostname.as_bytes()[at..].eq_ignore_ascii_case(API_3));
    hostname.eq_ignore_ascii_case(ENDPOINT) || (request.path() == PATH && !api_3)
}

/// Tencent Cloud's legacy CVM API 2.0 gateway (`cvm.api.qcloud.com/v2/index.php`).
/// Registered in [`crate::provider::ProviderId::ALL`].
#[derive(Debug)]
pub struct TencentLegacy;

impl Provider for TencentLegacy {
    fn name(&self) -> &'static str {
        "tencent-legacy"
    }

    fn serves(&self, request: &Request) -> bool {
        serves(request)
    }

    fn example_account(&self) -> Account {
        // The legacy gateway serves API 3.0's world: the same accounts.
        super::tencent::Tencent.example_account()
    }

    fn default_version(&self, action: &str) -> Option<&'static str> {
        wire::default_version(action)
    }

    fn default_sign(&self) -> SignForm {
        // QcloudApi's default.
        SignForm::HmacSha1
    }

    super::served_by_its_modules!();
}
