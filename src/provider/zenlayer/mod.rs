//! Zenlayer Cloud API 2.0, Bare Metal (`console.zenlayer.com`, `POST /api/v2/bmc`, versions 2022-11-20 and
//! 2026-02-01): `TerminateInstance` (seed 003), and `ReleaseInstances` and `DescribeInstances` to follow the
//! lifecycle. `wire` holds the envelopes, codes and their HTTP statuses, and parameter decoding; `mock` the
//! endpoint's handler; `client` requests as the official Python SDK builds them. The rules are the world's
//! ([`crate::world::bmc`]).

use crate::message::Request;
use crate::provider::{Provider, SignForm};
use crate::world::Account;

pub mod client;
pub mod wire;

mod create;
pub(crate) mod mock;

/// The production host.
pub const ENDPOINT: &str = "console.zenlayer.com";
/// The path every Bare Metal action is posted to (`"/api/v2/%s" % _service` in the SDKs).
pub const PATH: &str = "/api/v2/bmc";

/// Zenlayer Cloud Bare Metal (`console.zenlayer.com`, `POST /api/v2/bmc`).
/// Registered in [`crate::provider::ProviderId::ALL`].
#[derive(Debug)]
pub struct ZenlayerBmc;

impl Provider for ZenlayerBmc {
    fn name(&self) -> &'static str {
        "zenlayer-bmc"
    }

    fn serves(&self, request: &Request) -> bool {
        request.path().starts_with("/api/v2/")
    }

    fn example_account(&self) -> Account {
        // The signing document's worked example (its prose names another id, but this one signs), and the
        // personal access token of the captured Bearer vector (tests/vectors/bearer).
        Account {
            secret_id: "0D9UtpyKYcHxms5v".into(),
            secret_key: "Gu5t9xGARNpq86cd98joQYCN3".into(),
            bearer_token: Some("zlPATtokenEXAMPLE0123456789abcdef".into()),
            ..Account::new_default()
        }
    }

    fn default_version(&self, _action: &str) -> Option<&'static str> {
        Some(wire::DEFAULT_VERSION)
    }

    fn default_sign(&self) -> SignForm {
        SignForm::Zc2
    }

    super::served_by_its_modules!();
}
