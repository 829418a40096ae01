//! Tencent Cloud CVM API 3.0 (`cvm.tencentcloudapi.com`, Version 2017-03-12): `TerminateInstances`, and
//! `DescribeInstances` to observe state. `wire` holds the envelope, codes and parameter decoding; `mock` the
//! endpoint's handler.

pub mod client;
pub mod wire;

mod lifecycle;
pub(crate) mod mock;

/// The production endpoint.
pub const ENDPOINT: &str = "cvm.tencentcloudapi.com";
