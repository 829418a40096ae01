//! The instance lifecycle around termination: creating instances (`RunInstances`), starting, stopping, rebooting
//! and renaming them, and the asynchronous transitions each starts, on the world's clock.
//!
//! # Transitions
//!
//! An action that the real API carries out asynchronously puts the instance in a passing state and schedules the
//! end state ([`Transition`]); the world settles due transitions whenever it is locked ([`World::settle`]), so a
//! request sees the world as it is at the clock's time, whether the clock runs or is advanced.
//!
//! | action                | passing state | end state  | default duration |
//! |-----------------------|---------------|------------|------------------|
//! | `RunInstances`        | `PENDING`     | `RUNNING`  | 15 s |
//! | `StartInstances`      | `STARTING`    | `RUNNING`  | 15 s |
//! | `StopInstances`       | `STOPPING`    | `STOPPED`  | 15 s |
//! | `RebootInstances`     | `REBOOTING`   | `RUNNING`  | 15 s |
//! | `TerminateInstances`  | `TERMINATING` | gone       | 5 s  |
//!
//! The defaults come from recorded real traffic (`shared/reference/real-wire.md` §6.8, §6.9): 10 s after
//! `StartInstances` the instance was still `STARTING` (C7N-09), 6 s and 11 s after `StopInstances` still
//! `STOPPING` (C7N-13, C7N-06), so both take longer than 11 s: 15 s. 10 s after `TerminateInstances` of
//! pay-as-you-go instances they were no longer listed (C7N-17): the listing ends within 10 s, 5 s here. No sample
//! dates `PENDING` or `REBOOTING`: they take the start's 15 s. A world file's `timings` (or the control API's
//! `PUT /__terminus/timings`) changes them, `"immediate"` makes every transition end at once.
//!
//! A terminated instance is destroyed at once in the world's state (`TERMINATED`, so that every rule about
//! destroyed instances holds as before), and stays listed by `DescribeInstances` as `TERMINATING` until its
//! [`Instance::gone_at`]; while it is listed, a second termination is `InstanceStateTerminating`, afterwards
//! `InstanceStateTerminated`. A prepaid instance's first termination moves it to the recycle bin (`SHUTDOWN`) at
//! once, as before.
//!
//! `LatestOperation`, `LatestOperationState` and `LatestOperationRequestId` are the last action's name, `OPERATING`
//! until its transition ends then `SUCCESS`, and the action's own `RequestId` (a batch stamps the same id on every
//! instance, C7N-14). The operation has its own clock: 6 s after `StopInstances` the recording shows `STOPPING` and
//! `OPERATING` (C7N-13), 11 s after it `STOPPING` and already `SUCCESS` (C7N-06), so a stop's operation succeeds
//! after `stop-operation` seconds (default 10, within the recorded (6, 11]) while the state takes its 15 s. No
//! other action's operation is recorded ending first (10 s after `StartInstances`: `STARTING` and `OPERATING`,
//! C7N-09): theirs end with the state.
//!
//! # ActionTimer
//!
//! `RunInstances`' `ActionTimer` schedules a termination (the only `TimerAction` documented): when the world's
//! clock reaches it, the instance is terminated as `TerminateInstances` would, whatever its protection (the timer
//! was set by the owner), with `LatestOperation` `TerminateInstances` and no request id.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::rules::{BatchRefusal, Refusal, check_batch};
use super::{ChargeType, Instance, InstanceState, World, clock};

/// How long each transition takes, in seconds of the world's clock; `timings = "immediate"` is every one 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum TimingsSpec {
    /// `"immediate"`: every transition ends within the action that starts it.
    Preset(Preset),
    /// The seconds of each transition.
    Seconds(Timings),
}

/// A named set of timings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// Every transition ends at once: for tests that do not exercise the waiting.
    Immediate,
}

impl Default for TimingsSpec {
    fn default() -> Self {
        TimingsSpec::Seconds(Timings::default())
    }
}

impl TimingsSpec {
    /// The seconds of each transition.
    pub fn resolve(self) -> Timings {
        match self {
            TimingsSpec::Preset(Preset::Immediate) => Timings {
                launch: 0,
                start: 0,
                stop: 0,
                stop_operation: 0,
                reboot: 0,
                terminate: 0,
            },
            TimingsSpec::Seconds(timings) => timings,
        }
    }
}

/// Seconds per transition (see the module docs for where the defaults come from).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Timings {
    /// `PENDING` → `RUNNING` after `RunInstances`.
    #[serde(default = "default_fifteen")]
    pub launch: u32,
    /// `STARTING` → `RUNNING`.
    #[serde(default = "default_fifteen")]
    pub start: u32,
    /// `STOPPING` → `STOPPED`.
    #[serde(default = "default_fifteen")]
    pub stop: u32,
    /// `StopInstances`' `LatestOperationState` `OPERATING` → `SUCCESS`, which comes before the state's end.
    #[serde(default = "default_ten")]
    pub stop_operation: u32,
    /// `REBOOTING` → `RUNNING`.
    #[serde(default = "default_fifteen")]
    pub reboot: u32,
    /// Listed as `TERMINATING` → gone.
    #[serde(default = "default_five")]
    pub terminate: u32,
}

fn default_fifteen() -> u32 {
    15
}

fn default_ten() -> u32 {
    10
}

fn default_five() -> u32 {
    5
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            launch: 15,
            start: 15,
            stop: 15,
            stop_operation: 10,
            reboot: 15,
            terminate: 5,
        }
    }
}

/// A scheduled end state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Transition {
    /// The state the instance reaches.
    pub to: InstanceState,
    /// When (Unix seconds of the world's clock).
    pub at: i64,
}

/// The last operation on an instance: `LatestOperation*`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Operation {
    // `Cow`: the mock's actions and states are constants, so stamping an operation copies none of them.
    /// The action, e.g. `StopInstances`.
    pub action: Cow<'static, str>,
    /// `OPERATING`, `SUCCESS` or `FAILED`.
    #[serde(default = "default_success")]
    pub state: Cow<'static, str>,
    /// The RequestId of the call that started it; none for a timer's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// When an `OPERATING` operation turns `SUCCESS` ahead of its instance's transition (Unix seconds of the
    /// world's clock); none: with the transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeds_at: Option<i64>,
}

fn default_success() -> Cow<'static, str> {
    "SUCCESS".into()
}

/// A tag on an instance.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Tag {
    /// `Key`.
    pub key: String,
    /// `Value`.
    #[serde(default)]
    pub value: String,
}

/// Why a lifecycle action is refused, mapped to codes by each provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LifeRefusal {
    /// A refusal shared with termination (batch, id format, not found, owner).
    Rule(Refusal),
    /// The instance's state does not allow the action.
    State(String, InstanceState),
    /// The instance is listed as terminating.
    Terminating(String),
    /// `RunInstances` would take the owner over [`INSTANCE_QUOTA`]: the instances it holds, the count asked.
    Quota(usize, u32),
    /// `RunInstances` would take the world over its cap ([`World::set_instance_cap`]): the instances it holds,
    /// the cap, the count asked.
    WorldFull(usize, usize, u32),
}

/// The most listed CVM instances one owner may hold through `RunInstances` (terminus's choice: the real quota is
/// per account, zone and charge type and not published as a number; this one keeps a client that creates in a
/// loop from growing the world without bound).
pub const INSTANCE_QUOTA: usize = 10_000;

impl From<Refusal> for LifeRefusal {
    fn from(refusal: Refusal) -> Self {
        LifeRefusal::Rule(refusal)
    }
}

/// One instance to create, as `RunInstances` describes it after its parameters are checked.
#[derive(Clone, Debug)]
pub struct Launch {
    /// `Placement.Zone`.
    pub zone: String,
    /// `ImageId`.
    pub image_id: String,
    /// `InstanceType`.
    pub instance_type: String,
    /// `InstanceChargeType`.
    pub charge: ChargeType,
    /// Months of a prepaid instance (`InstanceChargePrepaid.Period`).
    pub period_months: Option<u32>,
    /// `InstanceCount`.
    pub count: u32,
    /// `InstanceName`, with its `{R:x}` / `{R:x,F:y}` pattern unexpanded.
    pub name: Option<String>,
    /// Tags of `TagSpecification` for `ResourceType` `instance`.
    pub tags: Vec<Tag>,
    /// `DisableApiTermination`.
    pub protected: bool,
    /// `ActionTimer`'s termination time.
    pub terminate_at: Option<i64>,
    /// `ClientToken`.
    pub client_token: Option<String>,
    /// `InternetAccessible`.
    pub internet: Option<super::Internet>,
}

/// The state-changing actions on existing instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// `StartInstances`.
    Start,
    /// `StopInstances`; `stop_charging` for `StoppedMode` `STOP_CHARGING`.
    Stop {
        /// `StoppedMode=STOP_CHARGING`.
        stop_charging: bool,
    },
    /// `RebootInstances`.
    Reboot,
}

impl Change {
    fn action(self) -> &'static str {
        match self {
            Change::Start => "StartInstances",
            Change::Stop { .. } => "StopInstances",
            Change::Reboot => "RebootInstances",
        }
    }
}

/// Idempotency records: `ClientToken` → the ids its first call created, per owner.
#[derive(Debug, Default)]
pub(super) struct ClientTokens {
    by_owner: HashMap<(String, String), Vec<String>>,
}

/// The instance's name by the documented pattern: `{R:x}` numbers the `n`th of a batch `x + n`, `{R:x,F:y}` pads
/// it to `y` digits; a name without a pattern is the same for every instance.
pub fn expand_name(pattern: &str, n: u32) -> String {
    let Some(start) = pattern.find("{R:") else {
        return pattern.to_owned();
    };
    let Some(end) = pattern[start..].find('}').map(|at| start + at) else {
        return pattern.to_owned();
    };
    let inner = &pattern[start + 3..end];
    let (first, width) = match inner.split_once(",F:") {
        Some((first, width)) => (first, width.parse::<usize>().ok()),
        None => (inner, Some(0)),
    };
    let (Ok(first), Some(width)) = (first.parse::<u64>(), width.filter(|w| *w <= 8)) else {
        return pattern.to_owned();
    };
    let number = first.saturating_add(u64::from(n));
    format!(
        "{}{number:0width$}{}",
        &pattern[..start],
        &pattern[end + 1..]
    )
}

impl World {
    /// Changes the timings, for transitions started from now on (those under way keep their end).
    pub fn set_timings(&mut self, timings: TimingsSpec) {
        self.spec.timings = timings;
    }

    /// The timings in force.
    pub fn timings(&self) -> Timings {
        self.spec.timings.resolve()
    }

    /// Ends every transition, listing and timer due at the clock's time. Cheap when nothing is due: the earliest
    /// due time is kept.
    pub fn settle(&mut self) {
        let now = self.clock.now();
        self.drop_destroyed(now);
        // Nothing scheduled, or nothing due yet: no instance is looked at (this runs on every request).
        match self.next_due {
            None => return,
            Some(due) if !clock::is_due(due, now) => return,
            Some(_) => {}
        }
        let mut next: Option<i64> = None;
        let mut later = |at: i64| next = Some(next.map_or(at, |n| n.min(at)));
        let terminate_seconds = i64::from(self.timings().terminate);
        let mut destroyed = Vec::new();
        for instance in self.spec.instances.items_mut() {
            if let Some(at) = instance.terminate_at {
                if clock::is_due(at, now) {
                    instance.terminate_at = None;
                    if !matches!(
                        instance.state,
                        InstanceState::Terminated | InstanceState::LaunchFailed
                    ) {
                        destroy(instance, at, terminate_seconds, None);
                        destroyed.push((instance.gone_at.unwrap_or(at), instance.id.clone()));
                    }
                } else {
                    later(at);
                }
            }
            if let Some(operation) = &mut instance.latest_operation
                && let Some(at) = operation.succeeds_at
            {
                if at <= now {
                    operation.state = "SUCCESS".into();
                    operation.succeeds_at = None;
                } else {
                    later(at);
                }
            }
            if let Some(transition) = instance.transition {
                if clock::is_due(transition.at, now) {
                    instance.state = transition.to;
                    instance.transition = None;
                    if let Some(operation) = &mut instance.latest_operation {
                        operation.state = "SUCCESS".into();
                        operation.succeeds_at = None;
                    }
                } else {
                    later(transition.at);
                }
            }
            if let Some(at) = instance.gone_at {
                if clock::is_due(at, now) {
                    instance.gone_at = None;
                    if let Some(operation) = &mut instance.latest_operation {
                        operation.state = "SUCCESS".into();
                    }
                } else {
                    later(at);
                }
            }
        }
        for instance in self.spec.bmc_instances.items_mut() {
            match instance.ready_at {
                Some(at)
                    if clock::is_due(at, now)
                        && instance.status == super::bmc::BmcStatus::Creating =>
                {
                    instance.status = super::bmc::BmcStatus::Running;
                    instance.ready_at = None;
                }
                Some(at) if !clock::is_due(at, now) => later(at),
                _ => {}
            }
        }
        self.next_due = next;
        self.dropping.extend(destroyed);
    }

    /// Drops the destroyed instances whose listing window the clock has passed (strictly: at its last second an
    /// instance is still there to be read). Constant work when none is: the earliest end is looked at.
    fn drop_destroyed(&mut self, now: i64) {
        let mut gone = std::collections::HashSet::new();
        while let Some((end, _)) = self.dropping.first()
            && *end < now
        {
            if let Some((_, id)) = self.dropping.pop_first() {
                gone.insert(id);
            }
        }
        if gone.is_empty() {
            return;
        }
        // Only what is still destroyed and unlisted: the set outlives a world replaced under it by no means, but
        // an id could be seeded again by a world file of the same world.
        self.spec.instances.retain(|instance| {
            !(gone.contains(instance.id.as_str())
                && instance.state == InstanceState::Terminated
                && instance.gone_at.is_none())
        });
    }

    /// Notes that something falls due at `at`.
    fn due_at(&mut self, at: i64) {
        self.next_due = Some(self.next_due.map_or(at, |due| due.min(at)));
    }

    /// Stamps a successful `TerminateInstances` on the instances it named: `LatestOperation*`, and for destroyed
    /// ones the time they stop being listed.
    pub fn record_termination(&mut self, region: &str, ids: &[impl AsRef<str>], request_id: &str) {
        let now = self.clock.now();
        let seconds = i64::from(self.timings().terminate);
        // The call was just accepted for these ids in this region: they are found (through the index).
        let found = self.find(region, ids).unwrap_or_default();
        let mut due = None;
        let mut destroyed = Vec::new();
        for at in found {
            let instance = self.spec.instances.at_mut(at);
            instance.transition = None;
            instance.terminate_at = None;
            if instance.state == InstanceState::Terminated {
                destroy(instance, now, seconds, Some(request_id));
                due = instance.gone_at;
                destroyed.push((instance.gone_at.unwrap_or(now), instance.id.clone()));
            } else {
                instance.latest_operation = Some(Box::new(Operation {
                    action: "TerminateInstances".into(),
                    state: "SUCCESS".into(),
                    request_id: Some(request_id.to_owned()),
                    succeeds_at: None,
                }));
            }
        }
        if let Some(at) = due {
            self.due_at(at);
        }
        self.dropping.extend(destroyed);
    }

    /// Whether the instance is listed: not destroyed, or destroyed and still `TERMINATING`.
    pub fn listed(instance: &Instance) -> bool {
        instance.state != InstanceState::Terminated || instance.gone_at.is_some()
    }

    /// The state `DescribeInstances` shows.
    pub fn shown_state(instance: &Instance) -> InstanceState {
        if instance.state == InstanceState::Terminated && instance.gone_at.is_some() {
            InstanceState::Terminating
        } else {
            instance.state
        }
    }

    /// Creates the instances of a `RunInstances` call (or with `dry_run`, only checks that it could); the ids
    /// created, or for a `ClientToken` already used by this owner, the ids its first call created.
    pub fn run_instances(
        &mut self,
        owner: &str,
        region: &str,
        launch: &Launch,
        dry_run: bool,
        request_id: &str,
    ) -> Result<Vec<String>, LifeRefusal> {
        let token_key = launch
            .client_token
            .as_ref()
            .map(|token| (owner.to_owned(), token.clone()));
        if let Some(ids) = token_key
            .as_ref()
            .and_then(|key| self.client_tokens.by_owner.get(key))
        {
            return Ok(ids.clone());
        }
        let held = self
            .spec
            .instances
            .iter()
            .filter(|instance| {
                World::listed(instance) && self.owner_or_first(instance.owner.as_deref()) == owner
            })
            .count();
        if held + launch.count as usize > INSTANCE_QUOTA {
            return Err(LifeRefusal::Quota(held, launch.count));
        }
        let total = self.spec.instances.len();
        if total.saturating_add(launch.count as usize) > self.instance_cap() {
            return Err(LifeRefusal::WorldFull(
                total,
                self.instance_cap(),
                launch.count,
            ));
        }
        if dry_run {
            return Ok(Vec::new());
        }
        let now = self.clock.now();
        let timings = self.timings();
        let mut ids = Vec::with_capacity(launch.count as usize);
        for n in 0..launch.count {
            let id = self.fresh_instance_id();
            let mut instance = Instance::new(id.clone());
            instance.region = (region != self.spec.region).then(|| region.into());
            instance.owner = Some(owner.into());
            instance.charge = launch.charge;
            instance.protected = launch.protected;
            instance.zone = Some(launch.zone.as_str().into());
            instance.image_id = Some(launch.image_id.as_str().into());
            instance.instance_type = Some(launch.instance_type.as_str().into());
            instance.name = launch
                .name
                .as_deref()
                .map(|name| expand_name(name, n).into());
            instance.tags = launch.tags.clone();
            instance.created = Some(now);
            instance.expires = launch
                .period_months
                .map(|months| clock::after(now, i64::from(months).saturating_mul(30 * 86_400)));
            instance.terminate_at = launch.terminate_at;
            instance.internet = launch.internet.clone().map(Box::new);
            instance.latest_operation = Some(Box::new(Operation {
                action: "RunInstances".into(),
                state: "OPERATING".into(),
                request_id: Some(request_id.to_owned()),
                succeeds_at: None,
            }));
            instance.state = InstanceState::Pending;
            instance.transition = Some(Transition {
                to: InstanceState::Running,
                at: clock::after(now, i64::from(timings.launch)),
            });
            // A fresh id: always added (and indexed).
            self.add_instance(instance);
            ids.push(id);
        }
        self.due_at(clock::after(now, i64::from(timings.launch)));
        if let Some(at) = launch.terminate_at {
            self.due_at(at);
        }
        if let Some(key) = token_key {
            self.client_tokens.by_owner.insert(key, ids.clone());
        }
        // Settle at once what is already due (immediate timings).
        self.next_due = Some(i64::MIN);
        self.settle();
        Ok(ids)
    }

    /// An id no instance has: `ins-` and 8 of `[a-z0-9]`, the same sequence for the same seed.
    fn fresh_instance_id(&mut self) -> String {
        loop {
            self.launched += 1;
            let uuid = super::request_id(self.spec.seed ^ 0x1a57_cafe, self.launched);
            let id = format!("ins-{}", &uuid[..8]);
            if self.spec.instances.position(&id).is_none() {
                return id;
            }
        }
    }

    /// The caller's instances named, in a request's region, for an action on existing instances: batch, format,
    /// existence (gone instances are not found), ownership.
    fn find_own(
        &mut self,
        owner: &str,
        region: &str,
        ids: &[String],
    ) -> Result<Vec<usize>, LifeRefusal> {
        check_batch(ids)?;
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let at = self
                .spec
                .instances
                .position(id)
                .filter(|&at| {
                    let instance = &self.spec.instances[at];
                    self.region_of(instance) == region && World::listed(instance)
                })
                .ok_or_else(|| Refusal::Batch(BatchRefusal::NotFound(id.clone())))?;
            if self.owner_or_first(self.spec.instances[at].owner.as_deref()) != owner {
                return Err(Refusal::NotOwned(id.clone()).into());
            }
            found.push(at);
        }
        Ok(found)
    }

    /// Starts, stops or reboots a batch, all or nothing.
    pub fn change_state(
        &mut self,
        owner: &str,
        region: &str,
        ids: &[String],
        change: Change,
        request_id: &str,
    ) -> Result<(), LifeRefusal> {
        let found = self.find_own(owner, region, ids)?;
        let (from, passing, to) = match change {
            Change::Start => (
                InstanceState::Stopped,
                InstanceState::Starting,
                InstanceState::Running,
            ),
            Change::Stop { .. } => (
                InstanceState::Running,
                InstanceState::Stopping,
                InstanceState::Stopped,
            ),
            Change::Reboot => (
                InstanceState::Running,
                InstanceState::Rebooting,
                InstanceState::Running,
            ),
        };
        for &at in &found {
            let instance = &self.spec.instances[at];
            if instance.state == InstanceState::Terminated {
                return Err(LifeRefusal::Terminating(instance.id.clone()));
            }
            if instance.state != from {
                return Err(LifeRefusal::State(instance.id.clone(), instance.state));
            }
        }
        let timings = self.timings();
        let seconds = match change {
            Change::Start => timings.start,
            Change::Stop { .. } => timings.stop,
            Change::Reboot => timings.reboot,
        };
        let now = self.clock.now();
        // The operation's own clock: only a stop's is recorded ending before its state (real-wire.md C7N-06).
        let succeeds_at = match change {
            Change::Stop { .. } if timings.stop_operation < timings.stop => {
                Some(now + i64::from(timings.stop_operation))
            }
            _ => None,
        };
        for at in found {
            let instance = self.spec.instances.at_mut(at);
            instance.state = passing;
            instance.transition = Some(Transition {
                to,
                at: clock::after(now, i64::from(seconds)),
            });
            instance.stop_charging = match change {
                Change::Stop { stop_charging } => stop_charging,
                _ => false,
            };
            instance.latest_operation = Some(Box::new(Operation {
                action: change.action().into(),
                state: "OPERATING".into(),
                request_id: Some(request_id.to_owned()),
                succeeds_at,
            }));
        }
        self.next_due = Some(i64::MIN);
        self.settle();
        Ok(())
    }

    /// The Tag API's view: `owner`'s instances in every region that are listed and not destroyed, in the world's
    /// order.
    pub fn tagged_resources<'a>(
        &'a self,
        owner: &'a str,
    ) -> impl Iterator<Item = &'a Instance> + 'a {
        self.spec.instances.iter().filter(move |instance| {
            instance.state != InstanceState::Terminated
                && self.owner_or_first(instance.owner.as_deref()) == owner
        })
    }

    /// The tags of `owner`'s instance `id` in `region`, to change through the Tag API; `None` when it has no such
    /// instance there (or it is destroyed). The same tags `DescribeInstances` shows and filters on.
    pub fn instance_tags_mut(
        &mut self,
        owner: &str,
        region: &str,
        id: &str,
    ) -> Option<&mut Vec<Tag>> {
        let at = self.spec.instances.position(id)?;
        let instance = &self.spec.instances[at];
        let mine = instance.state != InstanceState::Terminated
            && self.region_of(instance) == region
            && self.owner_or_first(instance.owner.as_deref()) == owner;
        mine.then(|| &mut self.spec.instances.at_mut(at).tags)
    }

    /// `ModifyInstancesAttribute`: a new name and/or termination protection for a batch, all or nothing.
    pub fn modify_attributes(
        &mut self,
        owner: &str,
        region: &str,
        ids: &[String],
        name: Option<&str>,
        protected: Option<bool>,
        request_id: &str,
    ) -> Result<(), LifeRefusal> {
        let found = self.find_own(owner, region, ids)?;
        for &at in &found {
            let instance = &self.spec.instances[at];
            if instance.state == InstanceState::Terminated {
                return Err(LifeRefusal::Terminating(instance.id.clone()));
            }
        }
        for at in found {
            let instance = self.spec.instances.at_mut(at);
            if let Some(name) = name {
                instance.name = Some(name.into());
            }
            if let Some(protected) = protected {
                instance.protected = protected;
            }
            // Only a change that nothing waits for: the state's own operation, if any, stays the latest one.
            if instance.transition.is_none() {
                instance.latest_operation = Some(Box::new(Operation {
                    action: "ModifyInstancesAttribute".into(),
                    state: "SUCCESS".into(),
                    request_id: Some(request_id.to_owned()),
                    succeeds_at: None,
                }));
            }
        }
        Ok(())
    }
}

/// One Zenlayer Bare Metal `CreateInstances` call, as the world sees it after its parameters are checked.
#[derive(Clone, Debug)]
pub struct BmcLaunch {
    /// `zoneId`.
    pub zone: String,
    /// `instanceTypeId`.
    pub instance_type: String,
    /// `imageId`.
    pub image_id: Option<String>,
    /// `instanceChargeType`.
    pub charge: super::bmc::BmcCharge,
    /// `instanceName`.
    pub name: Option<String>,
    /// `amount`.
    pub count: u32,
}

impl super::bmc::BareMetal<'_> {
    /// Creates Zenlayer Bare Metal instances: `CREATING` until the launch timing has passed, then `RUNNING`. Ids
    /// are 18 digits, as the recorded ones (`564212148932313088`), drawn from the seed.
    pub fn create(&mut self, owner: &str, launch: &BmcLaunch) -> Vec<String> {
        let world = &mut *self.world;
        let now = world.clock.now();
        let ready = clock::after(now, i64::from(world.timings().launch));
        let mut ids = Vec::with_capacity(launch.count as usize);
        for _ in 0..launch.count {
            let id = loop {
                world.launched += 1;
                let uuid = super::request_id(world.spec.seed ^ 0x2e41_a7e5, world.launched);
                let bits =
                    u64::from_str_radix(&uuid[..16].replace('-', ""), 16).unwrap_or_default();
                let id = format!(
                    "{}",
                    500_000_000_000_000_000 + bits % 100_000_000_000_000_000
                );
                if world.spec.bmc_instances.position(&id).is_none() {
                    break id;
                }
            };
            let mut instance = super::bmc::BmcInstance::new(id.clone());
            instance.zone = launch.zone.clone();
            instance.charge = launch.charge;
            instance.owner = Some(owner.into());
            instance.name = launch.name.clone();
            instance.instance_type = Some(launch.instance_type.as_str().into());
            instance.image_id = launch.image_id.clone();
            instance.status = super::bmc::BmcStatus::Creating;
            instance.ready_at = Some(ready);
            world.spec.bmc_instances.push(instance);
            ids.push(id);
        }
        world.due_at(ready);
        world.settle();
        ids
    }
}

/// Destroys an instance at `at`: `TERMINATED`, listed as `TERMINATING` for `seconds`.
fn destroy(instance: &mut Instance, at: i64, seconds: i64, request_id: Option<&str>) {
    instance.state = InstanceState::Terminated;
    instance.transition = None;
    instance.gone_at = (seconds > 0).then_some(clock::after(at, seconds));
    instance.latest_operation = Some(Box::new(Operation {
        action: "TerminateInstances".into(),
        state: if seconds > 0 { "OPERATING" } else { "SUCCESS" }.into(),
        request_id: request_id.map(str::to_owned),
        succeeds_at: None,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::WorldSpec;
    use crate::world::clock::ClockSpec;

    fn world(timings: TimingsSpec) -> World {
        World::new(WorldSpec {
            clock: ClockSpec::Fixed { at: 1_700_000_000 },
            timings,
            ..WorldSpec::default_world()
        })
    }

    fn launch() -> Launch {
        Launch {
            zone: "ap-guangzhou-3".into(),
            image_id: "img-eb30mz89".into(),
            instance_type: "S5.MEDIUM4".into(),
            charge: ChargeType::PostpaidByHour,
            period_months: None,
            count: 2,
            name: Some("web-{R:8,F:2}".into()),
            tags: Vec::new(),
            protected: false,
            terminate_at: None,
            client_token: None,
            internet: None,
        }
    }

    fn state(world: &World, id: &str) -> InstanceState {
        let instance = world.spec.instances.iter().find(|i| i.id == id).unwrap();
        World::shown_state(instance)
    }

    #[test]
    fn names_follow_the_documented_patterns() {
        // RunInstances' InstanceName: "server_{R:3}" → server_3, server_4; "server_{R:3,F:3}" → server_003.
        assert_eq!(expand_name("server_{R:3}", 0), "server_3");
        assert_eq!(expand_name("server_{R:3}", 1), "server_4");
        assert_eq!(expand_name("server_{R:3,F:3}", 1), "server_004");
        assert_eq!(expand_name("app_{R:99,F:2}", 1), "app_100");
        assert_eq!(expand_name("plain", 5), "plain");
        assert_eq!(expand_name("broken_{R:x}", 0), "broken_{R:x}");
    }

    #[test]
    fn a_launch_is_pending_until_its_time_then_running() {
        let mut world = world(TimingsSpec::default());
        let ids = world
            .run_instances("100000000001", "ap-guangzhou", &launch(), false, "r-1")
            .unwrap();
        assert_eq!(ids.len(), 2);
        assert_eq!(state(&world, &ids[0]), InstanceState::Pending);
        world.clock.advance(14);
        world.settle();
        assert_eq!(state(&world, &ids[0]), InstanceState::Pending);
        world.clock.advance(1);
        world.settle();
        assert_eq!(state(&world, &ids[1]), InstanceState::Running);
        let names: Vec<_> = world
            .spec
            .instances
            .iter()
            .rev()
            .take(2)
            .map(|i| i.name.as_deref().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["web-09", "web-08"]);
    }

    #[test]
    fn immediate_timings_end_every_transition_within_the_call() {
        let mut world = world(TimingsSpec::Preset(Preset::Immediate));
        let ids = world
            .run_instances("100000000001", "ap-guangzhou", &launch(), false, "r-1")
            .unwrap();
        assert_eq!(state(&world, &ids[0]), InstanceState::Running);
        world
            .change_state(
                "100000000001",
                "ap-guangzhou",
                &ids,
                Change::Stop {
                    stop_charging: true,
                },
                "r-2",
            )
            .unwrap();
        assert_eq!(state(&world, &ids[1]), InstanceState::Stopped);
    }

    #[test]
    fn a_public_address_is_held_from_running_until_a_stop_charging_stop() {
        // real-wire.md C7N-06/07: none while STOPPING/STOPPED without charging; C7N-09: one again while STARTING.
        let mut world = world(TimingsSpec::default());
        let with_internet = Launch {
            count: 1,
            internet: Some(crate::world::Internet {
                charge_type: "TRAFFIC_POSTPAID_BY_HOUR".into(),
                max_bandwidth_out: 5,
                public_ip: true,
            }),
            ..launch()
        };
        let ids = world
            .run_instances("100000000001", "ap-guangzhou", &with_internet, false, "r-1")
            .unwrap();
        let address = |world: &World| {
            let instance = world
                .spec
                .instances
                .iter()
                .find(|i| i.id == ids[0])
                .unwrap();
            instance.public_address()
        };
        assert_eq!(address(&world), None, "PENDING");
        world.clock.advance(15);
        world.settle();
        let held = address(&world).expect("RUNNING holds an address");
        assert!(
            held.starts_with("198.51.100.") || held.starts_with("203.0.113."),
            "{held}"
        );
        let stop = |stop_charging| Change::Stop { stop_charging };
        world
            .change_state("100000000001", "ap-guangzhou", &ids, stop(true), "r-2")
            .unwrap();
        assert_eq!(address(&world), None, "STOPPING without charging");
        world.clock.advance(15);
        world.settle();
        assert_eq!(address(&world), None, "STOPPED without charging");
        world
            .change_state("100000000001", "ap-guangzhou", &ids, Change::Start, "r-3")
            .unwrap();
        assert_eq!(address(&world), Some(held.clone()), "STARTING");
        world.clock.advance(15);
        world.settle();
        world
            .change_state("100000000001", "ap-guangzhou", &ids, stop(false), "r-4")
            .unwrap();
        world.clock.advance(15);
        world.settle();
        assert_eq!(address(&world), Some(held), "STOPPED, still charged");
    }

    #[test]
    fn a_client_token_creates_once() {
        let mut world = world(TimingsSpec::default());
        let with_token = Launch {
            client_token: Some("token-1".into()),
            ..launch()
        };
        let first = world
            .run_instances("100000000001", "ap-guangzhou", &with_token, false, "r-1")
            .unwrap();
        let count = world.spec.instances.len();
        let second = world
            .run_instances("100000000001", "ap-guangzhou", &with_token, false, "r-2")
            .unwrap();
        assert_eq!(first, second);
        assert_eq!(world.spec.instances.len(), count);
    }

    #[test]
    fn an_action_timer_terminates_on_the_clock() {
        let mut world = world(TimingsSpec::default());
        let timed = Launch {
            terminate_at: Some(1_700_000_000 + 600),
            protected: true,
            count: 1,
            ..launch()
        };
        let ids = world
            .run_instances("100000000001", "ap-guangzhou", &timed, false, "r-1")
            .unwrap();
        world.clock.advance(599);
        world.settle();
        assert_eq!(state(&world, &ids[0]), InstanceState::Running);
        world.clock.advance(1);
        world.settle();
        assert_eq!(state(&world, &ids[0]), InstanceState::Terminating);
        world.clock.advance(5);
        world.settle();
        let instance = world
            .spec
            .instances
            .iter()
            .find(|i| i.id == ids[0])
            .unwrap();
        assert!(!World::listed(instance));
    }

    #[test]
    fn an_owner_cannot_create_past_the_quota() {
        let mut world = world(TimingsSpec::default());
        let many = Launch {
            count: 500,
            name: None,
            ..launch()
        };
        let owner = "100000000001";
        // The default world's owner already holds 6 instances in the region.
        let held = world
            .spec
            .instances
            .iter()
            .filter(|i| world.owner_or_first(i.owner.as_deref()) == owner)
            .count();
        for _ in 0..(INSTANCE_QUOTA - held) / 500 {
            world
                .run_instances(owner, "ap-guangzhou", &many, false, "r")
                .unwrap();
        }
        let refused = world.run_instances(owner, "ap-guangzhou", &many, false, "r");
        assert!(
            matches!(refused, Err(LifeRefusal::Quota(_, 500))),
            "{refused:?}"
        );
        assert!(world.spec.instances.len() <= INSTANCE_QUOTA + 10);
    }
}
