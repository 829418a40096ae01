//! Tencent Cloud CVM API 3.0 (`cvm.tencentcloudapi.com`, Version 2017-03-12): `TerminateInstances`, and
//! `DescribeInstances` to observe state. `wire` holds the envelope, codes and parameter decoding; `codes` the answers the legacy gateway shares; `mock` the
//! endpoint's handler.

use crate::message::Request;
use crate::provider::{Provider, SignForm};
use crate::world::Account;

pub mod client;
pub mod wire;

pub(crate) mod codes;
mod lifecycle;
pub(crate) mod mock;
mod tag;
pub(crate) mod terminate;

/// The production endpoint.
pub const ENDPOINT: &str = "cvm.tencentcloudapi.com";

/// Tencent Cloud CVM API 3.0.
/// Registered in [`crate::provider::ProviderId::ALL`].
#[derive(Debug)]
pub struct Tencent;

impl Provider for Tencent {
    fn name(&self) -> &'static str {
        "tencent"
    }

    /// The first of the list: whatever no other provider serves.
    fn serves(&self, _request: &Request) -> bool {
        true
    }

    fn example_account(&self) -> Account {
        Account {
            secret_id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE".into(),
            secret_key: "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE".into(),
            ..Account::new_default()
        }
    }

    fn default_version(&self, _action: &str) -> Option<&'static str> {
        Some(wire::VERSION)
    }

    fn default_sign(&self) -> SignForm {
        SignForm::Tc3
    }

    super::served_by_its_modules!();
}
