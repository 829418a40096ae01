//! Zenlayer Bare Metal (`zenlayer-bmc`): its instances, a list of their own in the world file
//! (`[[bmc-instances]]`), and the rules of `TerminateInstance`, `ReleaseInstances` and `DescribeInstances`, once,
//! whatever the wire. Nothing here touches the CVM instances or their rules ([`super::rules`]).
//!
//! # Statuses
//!
//! `instanceStatus` as DescribeInstances documents it (`shared/reference/zenlayer-api.md` §4): `PENDING`,
//! `CREATING`, `CREATE_FAILED`, `INSTALLING`, `INSTALL_FAILED`, `RUNNING`, `STOPPED`, `BOOTING`, `STOPPING`,
//! `RECYCLE` (the recycle bin; the value is `RECYCLE`, not `RECYCLED`) and `RECYCLING` (named only by the
//! Terraform provider; treated like `RECYCLE`). `RELEASED` is terminus's own: a released or deleted instance,
//! kept as a tombstone so a test can see what happened; the API knows no such status, so it is never listed and
//! every action answers as for an unknown id.
//!
//! # Precedence
//!
//! The provider checks authentication, action and version, the rate limit and the parameters first. Then
//! [`BareMetal::terminate`], for the one instance named (the order `zenlayer-api.md` §4 suggests; none is
//! documented):
//!
//! 1. existence, for the caller's owner: another owner's instance is as unknown as a missing one
//!    ([`BatchRefusal::NotFound`]; an undocumented choice: the API answers only for its caller's resources);
//! 2. the recycle bin, `RECYCLE` or `RECYCLING` ([`Refusal::Recycled`]);
//! 3. `CREATING`, and `PENDING` (inferred from "any operations are not allowed while creating")
//!    ([`Refusal::Creating`]);
//! 4. `INSTALLING` ([`Refusal::Installing`]);
//! 5. `CREATE_FAILED`: deleted at once, whatever the charge type ("For prepaid instances, all payment amounts
//!    will be refunded");
//! 6. a subscription (`PREPAID`) instance ([`Refusal::Subscription`]): seed 003's documented
//!    `403 OPERATION_DENIED_INSTANCE_SUBSCRIPTION`. The documents conflict here: the same page's prose (and the
//!    newer page, which Terraform follows) says the call cancels the subscription and the instance is returned
//!    when it expires. terminus models the documented error row, the only behaviour with a code;
//! 7. a pay-as-you-go instance in its commitment period ([`Refusal::Commitment`]).
//!
//! [`BareMetal::release`]: at least one id and at most 100, none twice; every id exists for the caller
//! ([`BatchRefusal::NotFound`]); every instance is in the recycle bin ([`Refusal::NotRecycled`]). All or nothing.
//!
//! # Lifecycle
//!
//! `TerminateInstance` moves an instance to `RECYCLE` and notes when (`recycled-at`); 24 hours of the world's
//! clock later it is released (`RELEASED`), unless `ReleaseInstances` releases it first. Release is checked
//! whenever the world is read ([`BareMetal::settle`] before every Zenlayer call, and in the world's snapshot), so
//! `advance`-ing the clock is enough. A `RECYCLE` instance seeded without `recycled-at` stays in the bin until it
//! is released by a call. `CREATE_FAILED` instances are deleted (`RELEASED`) by `TerminateInstance` at once.

use serde::{Deserialize, Serialize};

pub use super::refusal::BatchRefusal;
use super::{World, clock};

/// How long an instance stays in the recycle bin before it is released: "released in 24 hours" (seed 003).
pub const RECYCLE_SECONDS: i64 = 24 * 60 * 60;

/// The most ids one `ReleaseInstances` or `DescribeInstances` call may name (`zenlayer-api.md` §4).
pub const MAX_IDS: usize = 100;

/// A Zenlayer Bare Metal instance and what its termination depends on.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BmcInstance {
    /// The instance id: an opaque string (the format is not documented; examples are numeric, e.g.
    /// `564212148932313088`).
    pub id: String,
    /// The zone id (`zoneId`), e.g. `HKG-A`, `SEL-A`. Default `HKG-A`.
    #[serde(default = "default_zone")]
    pub zone: String,
    /// `instanceStatus`; `RELEASED` for released and deleted instances (terminus's tombstone).
    #[serde(default)]
    pub status: BmcStatus,
    /// `instanceChargeType`: `POSTPAID` (pay as you go, the default) or `PREPAID` (subscription).
    #[serde(default)]
    pub charge: BmcCharge,
    /// The owner; default: the first account's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// A pay-as-you-go instance still in its commitment ("promise") period: `OPERATION_DENIED_POSTPAID_PROMISE`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub commitment: bool,
    /// `instanceName`; default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When it entered the recycle bin, Unix seconds of the world's clock: released 24 hours later. A `RECYCLE`
    /// instance without it stays in the bin until `ReleaseInstances`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recycled_at: Option<i64>,
    /// A `CREATING` instance of `CreateInstances`: when it is `RUNNING` (the lifecycle's launch timing,
    /// `src/world/lifecycle.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_at: Option<i64>,
    /// `instanceTypeId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// `imageId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
}

fn default_zone() -> String {
    "HKG-A".to_owned()
}

fn is_false(value: &bool) -> bool {
    !value
}

impl BmcInstance {
    /// A running pay-as-you-go instance with every default.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            zone: default_zone(),
            status: BmcStatus::default(),
            charge: BmcCharge::default(),
            owner: None,
            commitment: false,
            name: None,
            recycled_at: None,
            ready_at: None,
            instance_type: None,
            image_id: None,
        }
    }
}

/// `instanceStatus` values, plus `RELEASED` (terminus's tombstone for released and deleted instances).
#[allow(missing_docs)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BmcStatus {
    /// To be created.
    Pending,
    Creating,
    /// Creation failed: `TerminateInstance` deletes it at once.
    CreateFailed,
    /// The operating system is being installed.
    Installing,
    InstallFailed,
    #[default]
    Running,
    Stopped,
    Booting,
    Stopping,
    /// In the recycle bin.
    Recycle,
    /// Being recycled (Terraform's name only): treated as `RECYCLE`.
    Recycling,
    /// Released or deleted: not an API status, never listed.
    Released,
}

impl BmcStatus {
    /// The name on the wire (`RUNNING`).
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    fn in_recycle_bin(self) -> bool {
        matches!(self, BmcStatus::Recycle | BmcStatus::Recycling)
    }
}

/// `instanceChargeType` values.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BmcCharge {
    /// Monthly subscription.
    Prepaid,
    /// Pay as you go.
    #[default]
    Postpaid,
}

impl BmcCharge {
    /// The name on the wire (`POSTPAID`).
    pub fn name(self) -> &'static str {
        match self {
            BmcCharge::Prepaid => "PREPAID",
            BmcCharge::Postpaid => "POSTPAID",
        }
    }
}

/// Why a Zenlayer Bare Metal call is refused: the domain reason, mapped to its code by the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// No ids, more than [`MAX_IDS`], an id twice, or an id that is no instance of the caller's (unknown,
    /// released, deleted, or another owner's).
    Batch(BatchRefusal),
    /// In the recycle bin already.
    Recycled(String),
    /// Being created: `CREATING`, or `PENDING` (the status is given).
    Creating(String, BmcStatus),
    /// Its operating system is being installed.
    Installing(String),
    /// A subscription (`PREPAID`) instance.
    Subscription(String),
    /// A pay-as-you-go instance in its commitment period.
    Commitment(String),
    /// `ReleaseInstances` on an instance that is not in the recycle bin.
    NotRecycled(String),
}

impl From<BatchRefusal> for Refusal {
    fn from(refusal: BatchRefusal) -> Self {
        Refusal::Batch(refusal)
    }
}

/// What `DescribeInstances` filters by; `None` filters nothing.
#[derive(Clone, Debug, Default)]
pub struct Describe<'a> {
    /// Only these ids.
    pub instance_ids: Option<&'a [String]>,
    /// Only this zone.
    pub zone: Option<&'a str>,
    /// Only this status (`RUNNING`).
    pub status: Option<&'a str>,
    /// Only this name; a trailing `*` matches any name that starts with what precedes it.
    pub name: Option<&'a str>,
}

/// The recycle queue of a world's instances: `(entered the bin, position)` of every instance in the bin that will
/// be released when its time is over.
pub(super) fn recycle_queue(instances: &[BmcInstance]) -> std::collections::BTreeSet<(i64, usize)> {
    instances
        .iter()
        .enumerate()
        .filter(|(_, instance)| instance.status.in_recycle_bin())
        .filter_map(|(at, instance)| Some((instance.recycled_at?, at)))
        .collect()
}

/// Releases every instance whose 24 hours in the recycle bin are over by `now` (a scan: for a copy of the state).
pub(super) fn settle(instances: &mut [BmcInstance], now: i64) {
    for instance in instances {
        if instance.status == BmcStatus::Creating
            && instance.ready_at.is_some_and(|at| clock::is_due(at, now))
        {
            instance.status = BmcStatus::Running;
            instance.ready_at = None;
        }
        if instance.status.in_recycle_bin()
            && instance
                .recycled_at
                .is_some_and(|at| clock::is_due(clock::after(at, RECYCLE_SECONDS), now))
        {
            instance.status = BmcStatus::Released;
        }
    }
}

/// Zenlayer Bare Metal in a world: the rules of its instances, on the world's clock and accounts. Got from
/// [`World::bmc`]; each action first releases what the recycle bin holds past its time.
#[derive(Debug)]
pub struct BareMetal<'w> {
    pub(super) world: &'w mut World,
}

impl World {
    /// Zenlayer Bare Metal: its instances (in [`super::WorldSpec::bmc_instances`]) and the rules of
    /// `TerminateInstance`, `ReleaseInstances`, `DescribeInstances` and `CreateInstances`.
    pub fn bmc(&mut self) -> BareMetal<'_> {
        BareMetal { world: self }
    }
}

impl<'w> BareMetal<'w> {
    /// Releases the instances whose time in the recycle bin is over (see the module docs).
    /// Constant work but for the instances it releases: it pops only the due entries of the world's recycle queue
    /// (when each instance entered the bin, in order), so a large world costs nothing per request here.
    pub fn settle(&mut self) {
        let world = &mut *self.world;
        let now = world.clock.now();
        while let Some(&(entered, at)) = world.bmc_recycling.first() {
            if !clock::is_due(clock::after(entered, RECYCLE_SECONDS), now) {
                break;
            }
            world.bmc_recycling.pop_first();
            // An entry outlives its instance's stay in the bin when `ReleaseInstances` released it first.
            let instance = world.spec.bmc_instances.at_mut(at);
            if instance.status.in_recycle_bin() && instance.recycled_at == Some(entered) {
                instance.status = BmcStatus::Released;
            }
        }
    }

    /// The instance with this id, whoever owns it and released or not (terminus's tombstones), as the world's
    /// snapshot sees it: for the control API, not for a caller of the API.
    pub fn get(mut self, id: &str) -> Option<&'w BmcInstance> {
        self.settle();
        self.world.spec.bmc_instances.get(id)
    }

    /// Where the instance of the caller's `owner` with this id is, if it exists (released ones do not).
    fn find(&self, owner: &str, id: &str) -> Result<usize, Refusal> {
        let world = &*self.world;
        world
            .spec
            .bmc_instances
            .position(id)
            .filter(|&at| {
                let instance = &world.spec.bmc_instances[at];
                instance.status != BmcStatus::Released
                    && world.owner_or_first(instance.owner.as_deref()) == owner
            })
            .ok_or_else(|| BatchRefusal::NotFound(id.to_owned()).into())
    }

    /// `TerminateInstance` by a caller of `owner`: to the recycle bin, or deleted at once when creation failed (module docs: order).
    pub fn terminate(&mut self, owner: &str, id: &str) -> Result<(), Refusal> {
        self.settle();
        let at = self.find(owner, id)?;
        let world = &mut *self.world;
        let now = world.clock.now();
        let instance = world.spec.bmc_instances.at_mut(at);
        let id = || id.to_owned();
        match instance.status {
            status if status.in_recycle_bin() => return Err(Refusal::Recycled(id())),
            status @ (BmcStatus::Creating | BmcStatus::Pending) => {
                return Err(Refusal::Creating(id(), status));
            }
            BmcStatus::Installing => return Err(Refusal::Installing(id())),
            BmcStatus::CreateFailed => {
                instance.status = BmcStatus::Released;
                return Ok(());
            }
            _ => {}
        }
        if instance.charge == BmcCharge::Prepaid {
            return Err(Refusal::Subscription(id()));
        }
        if instance.commitment {
            return Err(Refusal::Commitment(id()));
        }
        instance.status = BmcStatus::Recycle;
        instance.recycled_at = Some(now);
        world.bmc_recycling.insert((now, at));
        Ok(())
    }

    /// `ReleaseInstances`: releases instances in the recycle bin at once, all or nothing.
    pub fn release(&mut self, owner: &str, ids: &[String]) -> Result<(), Refusal> {
        self.settle();
        super::refusal::check_batch(ids, MAX_IDS)?;
        let found = ids
            .iter()
            .map(|id| self.find(owner, id))
            .collect::<Result<Vec<_>, _>>()?;
        let instances = &mut self.world.spec.bmc_instances;
        if let Some(&at) = found
            .iter()
            .find(|&&at| !instances[at].status.in_recycle_bin())
        {
            return Err(Refusal::NotRecycled(instances[at].id.clone()));
        }
        for at in found {
            instances.at_mut(at).status = BmcStatus::Released;
        }
        Ok(())
    }

    /// `DescribeInstances`: the caller's instances that match, in world order, without released ones. Unknown
    /// ids are simply not listed (whether the API answers 404 is not documented).
    pub fn describe(
        mut self,
        owner: &str,
        filter: &Describe<'_>,
    ) -> Result<Vec<&'w BmcInstance>, Refusal> {
        self.settle();
        if let Some(ids) = filter.instance_ids {
            super::refusal::check_size(ids, MAX_IDS)?;
        }
        let name_matches = |name: Option<&str>| match filter.name {
            None => true,
            Some(pattern) => match pattern.strip_suffix('*') {
                Some(prefix) => name.is_some_and(|name| name.starts_with(prefix)),
                None => name == Some(pattern),
            },
        };
        let world: &'w World = self.world;
        Ok(world
            .spec
            .bmc_instances
            .iter()
            .filter(|instance| {
                instance.status != BmcStatus::Released
                    && world.owner_or_first(instance.owner.as_deref()) == owner
            })
            .filter(|instance| {
                filter
                    .instance_ids
                    .is_none_or(|ids| ids.contains(&instance.id))
            })
            .filter(|instance| filter.zone.is_none_or(|zone| instance.zone == zone))
            .filter(|instance| {
                filter
                    .status
                    .is_none_or(|status| instance.status.name() == status)
            })
            .filter(|instance| name_matches(instance.name.as_deref()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::clock::ClockSpec;
    use crate::world::{Account, WorldSpec};

    fn world(instances: Vec<BmcInstance>) -> (World, Account) {
        let account = Account {
            secret_id: "ZLAKIDEXAMPLE0001".into(),
            secret_key: "password".into(),
            ..Account::new_default()
        };
        let spec = WorldSpec {
            clock: ClockSpec::Fixed { at: 1_700_000_000 },
            accounts: vec![account.clone()].into(),
            bmc_instances: instances.into(),
            ..WorldSpec::default()
        };
        (World::new(spec), account)
    }

    fn status(world: &World, id: &str) -> BmcStatus {
        world
            .spec
            .bmc_instances
            .iter()
            .find(|instance| instance.id == id)
            .unwrap()
            .status
    }

    #[test]
    fn terminate_recycles_and_the_bin_releases_after_24_hours() {
        let (mut world, account) = world(vec![BmcInstance::new("1001")]);
        world.bmc().terminate(&account.owner, "1001").unwrap();
        assert_eq!(status(&world, "1001"), BmcStatus::Recycle);
        assert_eq!(
            world.bmc().terminate(&account.owner, "1001"),
            Err(Refusal::Recycled("1001".into()))
        );
        world.clock.advance(RECYCLE_SECONDS - 1);
        world.bmc().settle();
        assert_eq!(status(&world, "1001"), BmcStatus::Recycle);
        assert_eq!(world.snapshot().bmc_instances[0].status, BmcStatus::Recycle);
        world.clock.advance(1);
        // The snapshot sees the release before any call settles the world.
        assert_eq!(
            world.snapshot().bmc_instances[0].status,
            BmcStatus::Released
        );
        assert_eq!(
            world.bmc().terminate(&account.owner, "1001"),
            Err(BatchRefusal::NotFound("1001".into()).into())
        );
        assert_eq!(status(&world, "1001"), BmcStatus::Released);
    }

    #[test]
    fn refusals_follow_the_documented_order_and_change_nothing() {
        let instance =
            |id: &str, status: BmcStatus, charge: BmcCharge, commitment: bool| BmcInstance {
                status,
                charge,
                commitment,
                ..BmcInstance::new(id)
            };
        let (mut world, account) = world(vec![
            instance("creating", BmcStatus::Creating, BmcCharge::Prepaid, true),
            instance("pending", BmcStatus::Pending, BmcCharge::Postpaid, false),
            instance(
                "installing",
                BmcStatus::Installing,
                BmcCharge::Prepaid,
                false,
            ),
            instance("prepaid", BmcStatus::Running, BmcCharge::Prepaid, true),
            instance("promise", BmcStatus::Stopped, BmcCharge::Postpaid, true),
            instance("failed", BmcStatus::CreateFailed, BmcCharge::Prepaid, true),
            BmcInstance {
                owner: Some("100000000002".into()),
                ..BmcInstance::new("others")
            },
        ]);
        let before = world.spec.clone();
        let refuse =
            |world: &mut World, id: &str| world.bmc().terminate(&account.owner, id).unwrap_err();
        assert_eq!(
            refuse(&mut world, "creating"),
            Refusal::Creating("creating".into(), BmcStatus::Creating)
        );
        assert_eq!(
            refuse(&mut world, "pending"),
            Refusal::Creating("pending".into(), BmcStatus::Pending)
        );
        assert_eq!(
            refuse(&mut world, "installing"),
            Refusal::Installing("installing".into())
        );
        assert_eq!(
            refuse(&mut world, "prepaid"),
            Refusal::Subscription("prepaid".into())
        );
        assert_eq!(
            refuse(&mut world, "promise"),
            Refusal::Commitment("promise".into())
        );
        assert_eq!(
            refuse(&mut world, "others"),
            BatchRefusal::NotFound("others".into()).into()
        );
        assert_eq!(
            refuse(&mut world, "nothing"),
            BatchRefusal::NotFound("nothing".into()).into()
        );
        assert_eq!(world.spec, before);
        // Creation failed: deleted at once, even prepaid and in a commitment period.
        world.bmc().terminate(&account.owner, "failed").unwrap();
        assert_eq!(status(&world, "failed"), BmcStatus::Released);
    }

    #[test]
    fn release_is_all_or_nothing_and_only_from_the_recycle_bin() {
        let (mut world, account) = world(vec![
            BmcInstance {
                status: BmcStatus::Recycle,
                ..BmcInstance::new("bin")
            },
            BmcInstance::new("running"),
        ]);
        let ids = |ids: &[&str]| ids.iter().map(|id| id.to_string()).collect::<Vec<_>>();
        assert_eq!(
            world
                .bmc()
                .release(&account.owner, &ids(&["bin", "running"])),
            Err(Refusal::NotRecycled("running".into()))
        );
        assert_eq!(status(&world, "bin"), BmcStatus::Recycle);
        assert_eq!(
            world.bmc().release(&account.owner, &ids(&["bin", "bin"])),
            Err(BatchRefusal::DuplicateId("bin".into()).into())
        );
        assert_eq!(
            world.bmc().release(&account.owner, &[]),
            Err(BatchRefusal::Empty.into())
        );
        world.bmc().release(&account.owner, &ids(&["bin"])).unwrap();
        assert_eq!(status(&world, "bin"), BmcStatus::Released);
        assert_eq!(
            world.bmc().release(&account.owner, &ids(&["bin"])),
            Err(BatchRefusal::NotFound("bin".into()).into())
        );
    }

    #[test]
    fn describe_lists_the_callers_instances_by_filter() {
        let (mut world, account) = world(vec![
            BmcInstance {
                name: Some("web-1".into()),
                ..BmcInstance::new("a")
            },
            BmcInstance {
                name: Some("db-1".into()),
                zone: "SEL-A".into(),
                status: BmcStatus::Stopped,
                ..BmcInstance::new("b")
            },
            BmcInstance {
                status: BmcStatus::Released,
                ..BmcInstance::new("gone")
            },
            BmcInstance {
                owner: Some("100000000002".into()),
                ..BmcInstance::new("others")
            },
        ]);
        let ids = |filter: Describe<'_>, world: &mut World| {
            world
                .bmc()
                .describe(&account.owner, &filter)
                .unwrap()
                .iter()
                .map(|instance| instance.id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(Describe::default(), &mut world), ["a", "b"]);
        let zone = Describe {
            zone: Some("SEL-A"),
            ..Describe::default()
        };
        assert_eq!(ids(zone, &mut world), ["b"]);
        let status = Describe {
            status: Some("RUNNING"),
            ..Describe::default()
        };
        assert_eq!(ids(status, &mut world), ["a"]);
        let name = Describe {
            name: Some("web*"),
            ..Describe::default()
        };
        assert_eq!(ids(name, &mut world), ["a"]);
        let named = ["gone".to_owned(), "others".to_owned(), "b".to_owned()];
        let by_id = Describe {
            instance_ids: Some(&named),
            ..Describe::default()
        };
        assert_eq!(ids(by_id, &mut world), ["b"]);
    }
}
