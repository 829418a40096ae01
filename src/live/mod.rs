//! Live mode (`terminus run --live`): the cases against a real account, safe by construction.
//!
//! The real API is the ground truth the mock is measured against, and `TerminateInstances` destroys machines and
//! data, so nothing here relies on advice. Three things keep a live run from touching what it did not make:
//!
//! 1. [`plan`] decides, from the case's data alone, whether a case can run live at all, and in which tier
//!    (`safe`; `--provision`; rate-limit opt-in); a case whose world cannot be made on a real account is reported
//!    `not live-verifiable: <reason>`, never passed.
//! 2. [`guard`] proves, before every request that is not a read, that it cannot name an existing instance: every
//!    string of the step's parameters is looked up with the provider's `DescribeInstances` and must be found in
//!    no account the credentials can see (or be refused by the API as no instance id at all). A request whose
//!    proof fails is not sent.
//! 3. [`ledger`] records every instance a run creates before its creation call returns; a terminate naming
//!    anything else is refused, and `terminus sweep` destroys only instances that carry terminus's run tag, are
//!    older than its window and are in a ledger terminus wrote — never by name, never by the absence of a tag.
//!
//! Credentials come from each provider's usual environment variables only ([`credentials`]), never from a flag
//! that `ps` shows. Answers are compared on what the real API keeps stable ([`outcome`]: status, error code,
//! envelope shape), messages and request ids normalised, so that `terminus diff` can put a live run beside the
//! mock's snapshots.

pub mod cloud;
pub mod credentials;
pub mod guard;
pub mod ledger;
pub mod outcome;
pub mod plan;
pub mod preflight;
pub mod progress;
pub mod provision;
pub mod runner;
pub mod served;
pub mod tiers;
pub mod validation;

pub use credentials::LiveCredentials;
pub use plan::{Plan, Tiers};
pub use runner::{LiveConfig, LiveResult, run_live};
