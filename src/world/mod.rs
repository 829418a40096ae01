//! The mock's state, and the one TOML shape that seeds it: `terminus serve --world FILE`, the control API's
//! `PUT /__terminus/world`, and (later) a case file's `[world]`.
//!
//! [`WorldSpec`] is both the file format and the state: reading a running world back
//! (`GET /__terminus/world`) gives the same shape, with keys and tokens left out. [`World`] adds what runs: the clock,
//! the rate limiter, the fault plan's counters and the request-id sequence. The business rules that change
//! instances live in [`rules`], once, whatever the wire format of the request.
//!
//! The pieces: `account` and `instance` (the state's types, re-exported here), [`Store`] (one kind of resource,
//! in order, with its exact index by id: what the world holds CVM and Bare Metal instances in), [`bmc`] (Zenlayer's
//! bare-metal instances and their rules, [`World::bmc`]), [`clock`] (the one clock a world runs on), [`fault`] (the
//! faults still to inject: world state, seeded by the world file and read back with it), [`rules`] (the CVM
//! termination rules), [`refusal`] (the refusals every resource's rules share) and [`SharedWorld`] (the world
//! behind its lock, and the one way a provider authenticates and then decides a request on the same world).
//! Nothing here knows a wire format or the server.

mod account;
pub mod bmc;
pub mod clock;
pub mod fault;
mod index;
mod instance;
pub mod lifecycle;
pub mod refusal;
pub mod rules;
mod shared;
mod store;
pub mod stubs;

pub use account::{Account, Mfa, SessionRefusal};
pub use instance::{
    ChargeType, DataDisk, DiskState, Eip, Instance, InstanceState, Internet, Restriction,
};
pub use shared::SharedWorld;
pub use store::{Keyed, Store};

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::signing::Secret;
use crate::world::clock::{Clock, ClockSpec};
use crate::world::fault::{FaultPlan, FaultSpec};

/// The whole world, as written in a world file.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct WorldSpec {
    /// The region of instances that name none.
    #[serde(default = "default_region")]
    pub region: String,
    /// How the clock runs. Default (a world that names no clock, in a file, a `PUT` or a case): fixed at
    /// 1700000000 (2023-11-14 22:13:20 UTC, `DEFAULT_EPOCH`).
    #[serde(default = "default_clock")]
    pub clock: ClockSpec,
    /// Request limits.
    #[serde(default)]
    pub rate_limit: RateLimitSpec,
    /// Seed for request ids and for faults that strike a fraction of requests.
    #[serde(default)]
    pub seed: u64,
    /// The accounts, keyed by their credentials. Default (a world that names no accounts): the documentation's
    /// example accounts, Tencent Cloud's then Zenlayer's (a case: its provider's only).
    #[serde(default = "example_accounts")]
    pub accounts: Store<Account>,
    /// The instances.
    #[serde(default)]
    pub instances: Store<Instance>,
    /// Zenlayer Bare Metal instances (`zenlayer-bmc`): a list of their own, with their own statuses and rules
    /// (`src/world/bmc.rs`).
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub bmc_instances: Store<bmc::BmcInstance>,
    /// Faults to inject, in order.
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// How long the lifecycle's transitions take (`src/world/lifecycle.rs`): seconds per transition, or
    /// `"immediate"`. Default: the durations measured on the real API.
    #[serde(default)]
    pub timings: lifecycle::TimingsSpec,
    /// Answers for actions terminus does not serve (`src/world/stubs.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stubs: Vec<stubs::Stub>,
}

fn default_region() -> String {
    "ap-guangzhou".to_owned()
}

/// Where a world's clock stands when it names none: 2023-11-14 22:13:20 UTC, the timestamp of the official clients'
/// captured vectors. The same default for a world file (`serve --world`), a `PUT /__terminus/world` and a case's
/// `[world]`, so that one world behaves the same wherever it is loaded.
pub const DEFAULT_EPOCH: i64 = 1_700_000_000;

fn default_clock() -> ClockSpec {
    ClockSpec::Fixed { at: DEFAULT_EPOCH }
}

/// The accounts of a world that names none: the providers' documented example credentials, Tencent Cloud's (which
/// the legacy gateway shares) then Zenlayer's, the same as each provider's `example_account` (a test holds them
/// equal; the world cannot ask the providers, which sit above it).
pub fn example_accounts() -> Store<Account> {
    vec![
        Account {
            secret_id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE".into(),
            secret_key: "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE".into(),
            ..Account::new_default()
        },
        Account {
            secret_id: "0D9UtpyKYcHxms5v".into(),
            secret_key: "Gu5t9xGARNpq86cd98joQYCN3".into(),
            bearer_token: Some("zlPATtokenEXAMPLE0123456789abcdef".into()),
            ..Account::new_default()
        },
    ]
    .into()
}

impl Default for WorldSpec {
    /// An empty world in `ap-guangzhou` on the real clock, with no accounts: for code that builds a world field by
    /// field. A world read from text (a file, a `PUT`, a case) gets the defaults of its fields instead: a fixed
    /// clock at [`DEFAULT_EPOCH`] and the example accounts.
    fn default() -> Self {
        Self {
            region: default_region(),
            clock: ClockSpec::default(),
            rate_limit: RateLimitSpec::default(),
            seed: 0,
            accounts: Store::default(),
            instances: Store::default(),
            bmc_instances: Store::default(),
            faults: Vec::new(),
            timings: lifecycle::TimingsSpec::default(),
            stubs: Vec::new(),
        }
    }
}

/// `[rate-limit]`: how many calls an account may make per second of the world's clock.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RateLimitSpec {
    /// `TerminateInstances` calls per account per second; `0` switches the limit off. Documented: 10. Zenlayer
    /// Bare Metal's `TerminateInstance` is held to the same number (its limit is not documented).
    #[serde(default = "default_terminate_per_second")]
    pub terminate_per_second: u32,
}

fn default_terminate_per_second() -> u32 {
    10
}

impl Default for RateLimitSpec {
    fn default() -> Self {
        Self {
            terminate_per_second: default_terminate_per_second(),
        }
    }
}

/// Serde: leave a `false` flag out of a written world.
fn is_false(value: &bool) -> bool {
    !value
}

/// Serde: leave a `true` flag (the default) out of a written world.
fn is_true(value: &bool) -> bool {
    *value
}

/// Why a world file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorldError {
    /// The TOML does not have the world's shape.
    #[error("{origin}: {location}")]
    Syntax {
        /// The file, or `request body`.
        origin: String,
        /// Line, column and what is wrong, without quoting the source (it may hold a key).
        location: String,
    },
    /// A value the TOML shape allows but the world cannot use (a fault's status, fraction…).
    #[error("{origin}: {field}: {why}")]
    Invalid {
        /// The file, or `request body`.
        origin: String,
        /// The field, as a path (`faults[2].status`).
        field: String,
        /// What is wrong.
        why: String,
    },
    /// Two accounts share a SecretId, or two instances an id.
    #[error("{origin}: {what} {id} appears twice")]
    Duplicate {
        /// The file, or `request body`.
        origin: String,
        /// `account` or `instance`.
        what: &'static str,
        /// The repeated id.
        id: String,
    },
}

impl WorldSpec {
    /// Reads a world file's text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, WorldError> {
        let spec: WorldSpec = toml::from_str(text).map_err(|error| WorldError::Syntax {
            origin: origin.to_owned(),
            location: toml_error(text, &error),
        })?;
        spec.check(origin)?;
        Ok(spec)
    }

    /// The world `terminus serve` starts with when given none: documented in docs/src/mock.md.
    pub fn default_world() -> Self {
        Self::from_toml(include_str!("default.toml"), "the default world")
            .expect("the default world is valid")
    }

    /// Every key and token of the world's accounts.
    pub fn secrets(&self) -> impl Iterator<Item = &Secret> {
        self.accounts.iter().flat_map(|account| {
            std::iter::once(&account.secret_key)
                .chain(&account.token)
                .chain(&account.bearer_token)
        })
    }

    /// Checks what the TOML shape cannot: no SecretId or instance id twice, every fault usable.
    pub fn check(&self, origin: &str) -> Result<(), WorldError> {
        for (index, fault) in self.faults.iter().enumerate() {
            fault.check().map_err(|why| WorldError::Invalid {
                origin: origin.to_owned(),
                field: format!("faults[{index}]"),
                why,
            })?;
        }
        let duplicate = |what: &'static str, id: Option<&str>| {
            id.map(|id| WorldError::Duplicate {
                origin: origin.to_owned(),
                what,
                id: id.to_owned(),
            })
        };
        if let Some(error) = duplicate(
            "account",
            first_repeated(self.accounts.iter().map(|a| a.secret_id.as_str())),
        ) {
            return Err(error);
        }
        if let Some(error) = duplicate(
            "BMC instance",
            first_repeated(self.bmc_instances.iter().map(|i| i.id.as_str())),
        ) {
            return Err(error);
        }
        match duplicate(
            "instance",
            first_repeated(self.instances.iter().map(|i| i.id.as_str())),
        ) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// The first id that `ids` gives a second time. The set is sized up front: a world of a million instances would
/// otherwise rehash every id some twenty times as the set grows, a quarter of a large world's load time.
fn first_repeated<'a>(mut ids: impl ExactSizeIterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    ids.find(|id| !seen.insert(*id))
}

/// A TOML error as `line L, column C: message`, without the source excerpt toml prints and without the value
/// serde quotes (a world or case file may hold keys, and a key pasted into the wrong field is still a key: errors
/// never show one).
pub fn toml_error(text: &str, error: &toml::de::Error) -> String {
    let message = without_values(error.message().trim_end_matches('\n'));
    match error.span() {
        Some(span) => {
            let before = text.get(..span.start.min(text.len())).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |at| at + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// A serde error message without the value it quotes: `invalid type: string "…", expected u32` becomes
/// `invalid type: a string, expected u32`, `unknown variant `…`, expected one of …` becomes `unknown variant,
/// expected one of …` (the field is named by the line and column, or by the path serde gives). Field names
/// (`unknown field `x``) stay: they are the file's structure, not its values.
pub fn without_values(message: &str) -> String {
    let mut message = message.to_owned();
    for (opening, ends, replacement) in [
        ("string \"", &["\", expected", "\" at line"][..], "a string"),
        (
            "character `",
            &["`, expected", "` at line"][..],
            "a character",
        ),
        (
            "unknown variant `",
            &["`, expected", "`, there are no variants", "` at line"][..],
            "unknown variant",
        ),
    ] {
        let Some(start) = message.find(opening) else {
            continue;
        };
        let end = ends
            .iter()
            .filter_map(|end| message.rfind(end).filter(|at| *at >= start + opening.len()))
            .max()
            // No known end: drop everything after the opening rather than risk quoting a value.
            .map_or(message.len(), |at| at + 1);
        message.replace_range(start..end, replacement);
    }
    message
}

#[cfg(test)]
mod redaction_tests {
    use super::without_values;

    #[test]
    fn serde_messages_lose_the_values_they_quote_and_keep_field_names() {
        for (message, expected) in [
            (
                r#"invalid type: string "key \" quoted", expected u32"#,
                "invalid type: a string, expected u32",
            ),
            (
                "unknown variant `key`, expected one of `ok`, `failure`",
                "unknown variant, expected one of `ok`, `failure`",
            ),
            (
                r#"invalid type: string "key", expected a boolean at line 1 column 9"#,
                "invalid type: a string, expected a boolean at line 1 column 9",
            ),
            (r#"invalid value: string "key"#, "invalid value: a string"),
            (
                "invalid type: character `k`, expected u8",
                "invalid type: a character, expected u8",
            ),
            (
                "unknown field `mfaa`, expected `mfa`",
                "unknown field `mfaa`, expected `mfa`",
            ),
        ] {
            assert_eq!(without_values(message), expected, "{message}");
        }
    }
}

/// A running world: the spec's state plus the clock, rate limiter, fault plan, request ids and the nonces seen.
#[derive(Debug)]
pub struct World {
    /// Current state: private, so that the indexes below stay exact (read it with [`World::spec`]).
    spec: WorldSpec,
    /// The world's clock.
    pub clock: Clock,
    /// Faults still to strike.
    pub faults: FaultPlan,
    /// Calls per (account, action) in the current clock second.
    window: HashMap<(String, &'static str), (i64, u32)>,
    requests: u64,
    /// `(entered the recycle bin, position)` of the Bare Metal instances in the bin, earliest first.
    bmc_recycling: std::collections::BTreeSet<(i64, usize)>,
    /// Destroyed CVM instances and the end of their listing window: each is dropped from the world once the
    /// clock has passed it, so a client that creates and terminates in a loop does not grow the world.
    dropping: std::collections::BTreeSet<(i64, String)>,
    /// The most CVM instances the world holds ([`World::set_instance_cap`]).
    instance_cap: usize,
    /// Nonces of authenticated requests whose window is still open (the legacy gateway's replay check).
    nonces: NonceLog,
    /// Which world this is, for a request that verified outside the lock (see [`World::generation`]).
    generation: u64,
    /// The earliest time a lifecycle transition, listing or timer falls due (`lifecycle`); `None`: nothing.
    next_due: Option<i64>,
    /// Instances created so far, for fresh ids.
    launched: u64,
    /// `RunInstances`' `ClientToken`s and what they created.
    client_tokens: lifecycle::ClientTokens,
}

/// The most CVM instances a world holds by default: far more than any test creates, few enough that a client
/// creating in a loop cannot take the server's memory (about 1 KB each).
pub const INSTANCE_CAP: usize = 1_000_000;

impl World {
    /// Starts a world from its spec.
    pub fn new(mut spec: WorldSpec) -> Self {
        let clock = Clock::new(spec.clock);
        let started = clock.now();
        for instance in spec.instances.items_mut() {
            instance.created.get_or_insert(started);
        }
        let faults = FaultPlan::new(spec.faults.clone(), spec.seed);
        Self {
            bmc_recycling: bmc::recycle_queue(&spec.bmc_instances),
            dropping: std::collections::BTreeSet::new(),
            instance_cap: INSTANCE_CAP,
            spec,
            clock,
            faults,
            window: HashMap::new(),
            requests: 0,
            nonces: NonceLog::default(),
            generation: 0,
            // Anything a world file schedules is settled at the first lock.
            next_due: Some(i64::MIN),
            launched: 0,
            client_tokens: lifecycle::ClientTokens::default(),
        }
    }

    /// Which world this is: changes whenever the world is replaced ([`World::replace`]) or its accounts or clock
    /// change under the control API ([`World::mark_changed`]). A request that verified its signature against a key
    /// and a clock read in an earlier lock takes its decisions only if the generation is still the one it read.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Replaces this world by a new one started from `spec`, under a new generation.
    pub fn replace(&mut self, spec: WorldSpec) {
        let generation = self.generation.wrapping_add(1);
        let instance_cap = self.instance_cap;
        *self = World::new(spec);
        self.generation = generation;
        self.instance_cap = instance_cap;
    }

    /// Caps the CVM instances the world holds (default [`INSTANCE_CAP`], at least 1): a `RunInstances` that would
    /// pass it is `LimitExceeded.InstanceQuota`, as one past an owner's quota is.
    pub fn set_instance_cap(&mut self, cap: usize) {
        self.instance_cap = cap.max(1);
    }

    /// The cap on the world's CVM instances.
    pub fn instance_cap(&self) -> usize {
        self.instance_cap
    }

    /// Starts a new generation: what a request verified against (keys, clock) may have changed.
    pub fn mark_changed(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    /// The state in the world-file shape, the clock as it is now (keys and tokens are never serialised).
    pub fn snapshot(&self) -> WorldSpec {
        let mut spec = self.spec.clone();
        bmc::settle(spec.bmc_instances.items_mut(), self.clock.now());
        spec.clock = self.clock.spec_now();
        spec.faults = self.faults.remaining();
        spec
    }

    /// The account with this SecretId.
    pub fn account(&self, secret_id: &str) -> Option<&Account> {
        self.spec.accounts.get(secret_id)
    }

    /// The account with this SecretId, to change (its quotas).
    fn account_mut(&mut self, secret_id: &str) -> Option<&mut Account> {
        let at = self.spec.accounts.position(secret_id)?;
        // Its quotas change, never its SecretId.
        Some(self.spec.accounts.at_mut(at))
    }

    /// The state as it is: accounts, instances, settings. Read-only: the world changes only through its rules,
    /// which keep its indexes exact.
    pub fn spec(&self) -> &WorldSpec {
        &self.spec
    }

    /// The CVM instance with this id, in constant time.
    pub fn instance(&self, id: &str) -> Option<&Instance> {
        self.spec.instances.get(id)
    }

    /// Adds a CVM instance (indexed at once); `false`, changing nothing, when the world has one with its id.
    pub fn add_instance(&mut self, instance: Instance) -> bool {
        let added = self.spec.instances.insert(instance);
        // Whatever it schedules is settled at the next lock.
        self.next_due = Some(i64::MIN);
        added
    }

    /// The next request id in the real gateways' format, a random-looking lowercase UUID version 4
    /// (`shared/reference/real-wire.md` §6.4), yet deterministic: the `n`th id of a world is the same for the
    /// same `seed`.
    pub fn next_request_id(&mut self) -> String {
        self.requests += 1;
        request_id(self.spec.seed, self.requests)
    }

    /// Counts a call to `action` by `secret_id` against its per-second limit; `false` when over it.
    pub fn admit(&mut self, secret_id: &str, action: &'static str, per_second: u32) -> bool {
        if per_second == 0 {
            return true;
        }
        let now = self.clock.now();
        let entry = self
            .window
            .entry((secret_id.to_owned(), action))
            .or_insert((now, 0));
        if entry.0 != now {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= per_second
    }

    /// Records the `(secret_id, nonce)` pair of an authenticated request whose replay window closes at `until`
    /// (Unix seconds of the world's clock); `false` when the pair was already recorded and its window is still
    /// open: a replay. Pairs whose window has closed are forgotten as the clock passes them.
    pub fn first_use_of_nonce(&mut self, secret_id: &str, nonce: &str, until: i64) -> bool {
        let now = self.clock.now();
        self.nonces.forget_before(now);
        let key = (secret_id.to_owned(), nonce.to_owned());
        if self.nonces.seen.get(&key).is_some_and(|&open| open >= now) {
            return false;
        }
        self.nonces.seen.insert(key, until);
        self.nonces.earliest = Some(self.nonces.earliest.map_or(until, |e| e.min(until)));
        true
    }
}

/// The `n`th request id under `seed`: 122 bits of SplitMix64 output over (seed, n), with the version (4) and
/// variant (RFC 9562 `10`) bits set.
fn request_id(seed: u64, n: u64) -> String {
    fn splitmix64(x: u64) -> u64 {
        let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    let high = splitmix64(seed ^ splitmix64(n));
    let low = splitmix64(high ^ n.rotate_left(32));
    let bits = (u128::from(high) << 64 | u128::from(low))
        & !(0xF000_u128 << 64 | 0xC000_u128 << 48)
        | 0x4000_u128 << 64
        | 0x8000_u128 << 48;
    // uuid's encoder, not `format!` of five fields (which showed in `perf` under load).
    let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
    uuid::Uuid::from_u128(bits)
        .hyphenated()
        .encode_lower(&mut text)
        .to_owned()
}

/// `(SecretId, Nonce)` pairs and when each one's window closes.
#[derive(Debug, Default)]
struct NonceLog {
    seen: HashMap<(String, String), i64>,
    /// The earliest closing time among `seen`: nothing needs forgetting before the clock passes it.
    earliest: Option<i64>,
}

impl NonceLog {
    fn forget_before(&mut self, now: i64) {
        if self.earliest.is_some_and(|earliest| earliest < now) {
            self.seen.retain(|_, until| *until >= now);
            self.earliest = self.seen.values().min().copied();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real format (real-wire.md §6.4: every recorded RequestId): lowercase hex `8-4-4-4-12`, version `4`,
    /// variant `8`–`b`.
    fn is_uuid_v4(id: &str) -> bool {
        let groups: Vec<&str> = id.split('-').collect();
        groups.iter().map(|group| group.len()).eq([8, 4, 4, 4, 12])
            && id
                .bytes()
                .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && groups[2].starts_with('4')
            && groups[3].starts_with(['8', '9', 'a', 'b'])
    }

    /// `request_id(0, 1)`, computed independently (Python, from the SplitMix64 definition) and by every earlier
    /// version of terminus.
    const FIRST_ID_OF_SEED_0: &str = "5e41ab08-7439-411e-af44-608c27fc27af";

    #[test]
    fn a_request_id_is_its_128_bits_in_hex_grouped_8_4_4_4_12() {
        for (seed, n) in [(0, 1), (7, 2), (u64::MAX, 1_000_000)] {
            let id = request_id(seed, n);
            let hex: String = id.chars().filter(|c| *c != '-').collect();
            assert_eq!(hex.len(), 32, "{id}");
            let regrouped = format!(
                "{}-{}-{}-{}-{}",
                &hex[..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..]
            );
            assert_eq!(id, regrouped);
        }
        // The first id of seed 0, as every earlier version of terminus gave it.
        assert_eq!(request_id(0, 1), FIRST_ID_OF_SEED_0);
    }

    #[test]
    fn request_ids_are_random_looking_uuid_v4_and_the_same_under_the_same_seed() {
        let ids = |seed| {
            let mut world = World::new(WorldSpec {
                seed,
                ..WorldSpec::default()
            });
            (0..64).map(|_| world.next_request_id()).collect::<Vec<_>>()
        };
        let first = ids(0);
        assert!(first.iter().all(|id| is_uuid_v4(id)), "{first:?}");
        assert_eq!(first, ids(0));
        assert_ne!(first, ids(1));
        let distinct: std::collections::HashSet<_> = first.iter().collect();
        assert_eq!(distinct.len(), first.len());
        // Not a counter: consecutive ids share no long prefix.
        assert_ne!(first[0][..8], first[1][..8]);
    }
}
