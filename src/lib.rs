//! terminus: a conformance suite and request recorder for the cloud APIs that terminate instances.
//!
//! The pieces, bottom layer first; each uses only those before it (`tests/testsuite/layers.rs` checks it):
//!
//! - [`message`]: HTTP requests exactly as sent (target, headers in order and case, body bytes), and replies.
//!   Everything else reads and writes these.
//! - [`file`]: (beside `message`, using no other module) the one way every file is read (a regular file, bounded)
//!   and written (whole, never through a planted link).
//! - [`tls`]: (beside `message`, using no other module) the generated certificate authority, per-host leaves and
//!   client trust (`serve --tls`, `record`).
//! - [`signing`]: the three signing schemes (TC3-HMAC-SHA256, the HmacSHA1/HmacSHA256 `Signature` parameter,
//!   ZC2-HMAC-SHA256 and Bearer), as pure functions that return a trace of every step; verification reruns the
//!   same code on a received request and names the step that differs.
//! - [`world`]: the mock's state (accounts, instances, clock, rate limit, faults) in the one TOML shape that
//!   seeds it, the business rules of termination, once, as domain refusals, and the lock requests share it
//!   behind ([`world::SharedWorld`]).
//! - [`exchange`]: a request and the answer it got, as the harness keeps them.
//! - [`provider`]: each provider's wire format behind the [`provider::Provider`] trait: parse and authenticate a
//!   request, call the rules, answer in the provider's envelope; build requests as its official client does.
//! - [`case`]: declarative case files (`cases/<provider>/<action>/<scenario>.toml`): model, discovery, schema.
//! - [`coverage`]: documented error codes joined with the cases that prove them.
//! - [`mock`]: the HTTP server on loopback ([`mock::MockServer`]) with its control API.
//! - [`harness`]: runs cases against a target (the embedded mock or a URL) and keeps every
//!   [`exchange::Exchange`]; its raw HTTP/1.1 client ([`harness::http1`]) and the load driver behind
//!   `terminus bench` ([`harness::load`]).
//! - [`live`]: live mode: the cases against a real account, each request proven unable to name an existing
//!   instance first; the run ledger, the sweep's rule, the validation record.
//! - [`record`]: the recording proxy, its cassettes and redaction, replay with a drift report, playback.
//! - [`cli`]: the `terminus` command line (`run` and `run --live`, `bench`,
//!   `serve`, `sign`, `verify`, `coverage`, `diff`, `scenarios`, `record`, `replay`, `sweep`).
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod case;
pub mod cli;
pub mod coverage;
pub mod exchange;
pub mod file;
pub mod harness;
pub mod live;
pub mod message;
pub mod mock;
pub mod provider;
pub mod record;
pub mod signing;
pub mod tls;
pub mod world;
