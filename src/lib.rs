//! terminus: a conformance suite and request recorder for the cloud APIs that terminate instances.
//!
//! The pieces, and what flows between them:
//!
//! - [`message`]: HTTP requests exactly as sent (target, headers in order and case, body bytes). Everything
//!   else reads and writes these.
//! - [`signing`]: the three signing schemes (TC3-HMAC-SHA256, the HmacSHA1/HmacSHA256 `Signature` parameter,
//!   ZC2-HMAC-SHA256 and Bearer), as pure functions that return a trace of every step; verification reruns the
//!   same code on a received request and names the step that differs.
//! - [`world`]: the mock's state (accounts, instances, clock, rate limit, faults) in the one TOML shape that
//!   seeds it, and the business rules of termination, once, as domain refusals.
//! - [`provider`]: each provider's wire format: parse and authenticate a request, call the rules, answer in
//!   the provider's envelope.
//! - [`mock`]: the HTTP server on loopback ([`mock::MockServer`]) with its control API and injected faults.
//! - [`clock`]: the one clock a world runs on.
//! - [`harness`]: runs cases against a target (the embedded mock or a URL) and keeps every [`exchange::Exchange`].
//! - [`coverage`]: documented error codes joined with the cases that prove them.
//! - [`case`]: declarative case files (`cases/<provider>/<action>/<scenario>.toml`): model, discovery, schema.
//! - [`http1`]: the raw HTTP/1.1 client the harness and the load driver send exact bytes with.
//! - [`live`]: live mode: the cases against a real account, each request proven unable to name an existing
//!   instance first; the run ledger, the sweep's rule, the validation record.
//! - [`load`]: the load driver behind `terminus bench`: signed requests over raw keep-alive connections.
//! - [`tls`]: the generated certificate authority, per-host leaves and client trust (`serve --tls`, `record`).
//! - [`cli`]: the `terminus` command line (`bench`, `serve`, `sign`, `verify`).
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
pub mod clock;
pub mod coverage;
pub mod exchange;
pub mod harness;
pub mod http1;
pub mod live;
pub mod load;
pub mod message;
pub mod mock;
pub mod provider;
pub mod report;
pub mod signing;
pub mod tls;
pub mod world;
