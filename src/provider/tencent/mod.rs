//! Tencent Cloud CVM API 3.0 (`cvm.tencentcloudapi.com`, Version 2017-03-12): `TerminateInstances`, and
//! `DescribeInstances` to observe state. `wire` holds the envelope, codes and parameter decoding; `codes` the answers the legacy gateway shares; `mock` the
//! endpoint's handler.

use serde_json::{Map, Value};

use crate::message::{Reply, Request};
use crate::provider::{Call, Problem, Provider, SignForm};
use crate::signing::{Trace, Unusable};
use crate::world::{Account, SharedWorld};

pub mod client;
pub mod wire;

pub(crate) mod codes;
mod lifecycle;
pub(crate) mod mock;

/// The production endpoint.
pub const ENDPOINT: &str = "cvm.tencentcloudapi.com";

/// Tencent Cloud CVM API 3.0. Registered in [`crate::provider::ProviderId::ALL`].
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

    fn body_limit(&self, request: &Request) -> usize {
        mock::body_limit(request)
    }

    fn action_of(&self, request: &Request) -> Option<String> {
        mock::action_of(request)
    }

    fn handle(&self, request: &Request, world: &SharedWorld) -> Reply {
        mock::handle(request, world)
    }

    fn problem_reply(&self, problem: Problem, request: &Request, world: &SharedWorld) -> Reply {
        mock::problem_reply(problem, request, world)
    }

    fn build_request(&self, call: &Call<'_>) -> Result<(Request, Option<Trace>), Unusable> {
        client::build(call)
    }

    fn read_answer(&self, body: &[u8]) -> Result<Result<Map<String, Value>, String>, String> {
        wire::read_answer(body)
    }
}
