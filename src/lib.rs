//! terminus: a conformance suite and request recorder for the cloud APIs that terminate instances.
//!
//! The pieces, and what flows between them:
//!
//! - [`message`]: HTTP requests exactly as sent (target, headers in order and case, body bytes). Everything
//!   else reads and writes these.
//! - [`signing`]: the three signing schemes (TC3-HMAC-SHA256, the HmacSHA1/HmacSHA256 `Signature` parameter,
//!   ZC2-HMAC-SHA256 and Bearer), as pure functions that return a trace of every step; verification reruns the
//!   same code on a received request and names the step that differs.
//! - [`cli`]: the `terminus` command line (`sign`, `verify`).
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;
pub mod message;
pub mod signing;
