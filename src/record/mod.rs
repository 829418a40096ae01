//! The recorder: capture what a real client sends to a provider and what the provider answers, redacted so it
//! still verifies, and ask of it later whether the mock answers the same (`terminus replay`) or play it back as a
//! server (`terminus serve --cassette`).
//!
//! - [`proxy`]: the recording forward proxy (`terminus record`): plain HTTP upgraded to HTTPS, and `CONNECT`
//!   intercepted with a generated CA; only the providers' hosts are forwarded.
//! - [`redact`]: the only way to a cassette: fixture id and re-signing, tokens, account ids, trace ids, extras.
//! - [`cassette`]: the directory format, written and read.
//! - [`playback`]: a cassette as a server (`terminus serve --cassette`).
//! - [`to_case`]: a recorded exchange as a case file skeleton (`terminus record --to-case`).
//! - [`replay`]: re-sending a cassette to the mock (or a URL) and reporting drift.
//! - `upstream` (private): the recorder's HTTP/1.1 client to the providers (reqwest, keep-alive, TLS).
//!
//! This module depends on the core (signing, providers, the mock, the TLS module); nothing in the core depends
//! on it.

pub mod cassette;
pub mod playback;
pub mod proxy;
pub mod redact;
pub mod replay;
pub mod to_case;
mod upstream;

pub use playback::Playback;
pub use proxy::{Counts, Log, Recorder, RecorderConfig};
