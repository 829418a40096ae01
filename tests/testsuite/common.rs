//! Helpers shared by the test modules.

use std::path::Path;

use terminus::message::Request;

/// The example SecretKey of Tencent's documentation, used by the captured vectors.
pub const TENCENT_KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
/// The example SecretId of Tencent's documentation.
pub const TENCENT_ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
/// The timestamp the captured vectors were signed at (2023-11-14 22:13:20 UTC; 2023-11-15 in Beijing).
pub const SIGNED_AT: i64 = 1_700_000_000;

/// A vector's signed request as the official client sent it (`tests/vectors/<name>/request.http`).
pub fn captured(name: &str) -> Request {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name)
        .join("request.http");
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("failed to load vector {}: {e}", path.display()));
    Request::parse(&bytes).unwrap_or_else(|e| panic!("vector {} is not HTTP: {e}", path.display()))
}
