//! Live mode (`terminus run --live`): the cases against a real account, safe by construction.
//!
//! The real API is the ground truth the mock is measured against, and `TerminateInstances` destroys machines and
//! data, so nothing here relies on advice. Three things keep a live run from touching what it did not make:
//!
//! 1. [`plan`] decides, from the case's data alone, whether a case can run live at all, and in which tier
//!    (`safe`; `--provision`; rate-limit opt-in); a case whose world cannot be made on a real account is reported
//!    `not live-verifiable: <reason>`, never passed.
//! 2. [`guard`] proves, before every request that is not a read, that it cannot name an existing instance. It
//!    works on the request as built ([`served`]: every action, region and candidate id a gateway could read in
//!    its bytes), takes each action's tier from a table ([`tiers`]; the safe tier sends `RunInstances` only with
//!    `DryRun=true` and no other creating action), and looks every candidate up with `DescribeInstances` in every
//!    region the request names and the run's own; it must be found nowhere (or be refused by the API as no
//!    instance id at all). A request whose proof fails or errs is not sent.
//! 3. [`ledger`] records every instance a run creates before its creation call returns; a terminate naming
//!    anything else is refused, and `terminus sweep` destroys only instances that carry terminus's run tag, are
//!    older than its window and are in a ledger terminus wrote — never by name, never by the absence of a tag.
//!
//! Around the cases: [`preflight`] makes one read before any (endpoint, TLS, credentials, region, clock), and
//! [`progress`] tells what a waiting case waits for and carries the operator's Ctrl-C stop to the runner.
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
