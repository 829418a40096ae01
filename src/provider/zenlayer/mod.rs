//! Zenlayer Cloud API 2.0, Bare Metal (`console.zenlayer.com`, `POST /api/v2/bmc`, versions 2022-11-20 and
//! 2026-02-01): `TerminateInstance` (seed 003), and `ReleaseInstances` and `DescribeInstances` to follow the
//! lifecycle. `wire` holds the envelopes, codes and their HTTP statuses, and parameter decoding; `mock` the
//! endpoint's handler; `client` requests as the official Python SDK builds them. The rules are the world's
//! ([`crate::world::bmc`]).

pub mod client;
pub mod wire;

mod create;
pub(crate) mod mock;

/// The production host.
pub const ENDPOINT: &str = "console.zenlayer.com";
/// The path every Bare Metal action is posted to (`"/api/v2/%s" % _service` in the SDKs).
pub const PATH: &str = "/api/v2/bmc";
