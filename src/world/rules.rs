//! The business rules of instance termination, once, whatever the wire format of the request.
//!
//! Rules answer with domain outcomes ([`Refusal`], whose batch refusals are the ones every resource shares:
//! [`BatchRefusal`]); each provider maps them to its own error codes and envelopes. A terminate is all or
//! nothing: every rule is checked for the whole batch before anything changes, and the world is locked for the
//! whole call, so concurrent calls behave as some sequential order.
//!
//! # Precedence
//!
//! The provider checks, in this order: authentication; action and version; the rate limit; parameters
//! (presence, types, unknown names); region. Then [`World::terminate`], in this order, each rule over the whole batch
//! (the first instance that breaks the first broken rule is the one named):
//!
//! 1. batch: at least one id, at most 100, no id twice;
//! 2. id format, per id: `ins-` and 8 characters; a wrong length or prefix is [`Refusal::MalformedId`], the
//!    right length with a character outside `[a-z0-9]` is [`Refusal::IdCharacters`];
//! 3. existence in the request's region ([`BatchRefusal::NotFound`]), then ownership ([`Refusal::NotOwned`]);
//! 4. one charge type for the whole batch ([`Refusal::MixedCharge`]);
//! 5. per instance: destroyed or being destroyed, restrictions, refusing states, an operation in progress,
//!    termination protection, application role, special type, unsupported, unreturnable, Red Hat, charge
//!    type, the prepaid return policy, and with `ReleaseAddress` the address type;
//! 6. account: unpaid orders, AppId, MFA, a revoked token, the prepaid return quota, the operation quota.
//!
//! # Lifecycle
//!
//! Pay-as-you-go, spot and every instance already in the recycle bin (`SHUTDOWN`) are destroyed (state
//! `TERMINATED`, kept as a tombstone). A prepaid instance goes to the recycle bin on the first call (`SHUTDOWN`),
//! with its prepaid data disks when `ReleasePrepaidDataDisks` is set, and is destroyed by a second call.
//! `ReleaseAddress` releases the instance's elastic IP.

pub use super::refusal::BatchRefusal;
use super::{Account, ChargeType, DiskState, Instance, InstanceState, Restriction, World};

/// The most instances one call may name.
pub const MAX_BATCH: usize = 100;

/// The address types `ReleaseAddress` can release (EIP 2.0).
pub const RELEASABLE_ADDRESS_TYPES: [&str; 4] =
    ["HighQualityEIP", "AntiDDoSEIP", "EIPv6", "HighQualityEIPv6"];

/// A termination request, as the rules see it.
#[derive(Clone, Debug)]
pub struct Terminate<'a> {
    /// The caller's SecretId (authenticated by the provider).
    pub secret_id: &'a str,
    /// The region the call is addressed to.
    pub region: &'a str,
    /// The ids, as given.
    pub instance_ids: &'a [&'a str],
    /// Release the elastic IP too.
    pub release_address: bool,
    /// Move prepaid data disks to the recycle bin with a prepaid instance.
    pub release_prepaid_data_disks: bool,
}

/// Why a termination is refused: the domain reason, mapped to codes by each provider.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// No ids, more than [`MAX_BATCH`], an id twice, or an id not found in the region.
    Batch(BatchRefusal),
    /// An id of the wrong length or without the `ins-` prefix.
    MalformedId(String),
    /// An id of the right shape with a character outside `[a-z0-9]`.
    IdCharacters(String),
    /// Another owner's instance.
    NotOwned(String),
    /// Instances of different charge types in one call.
    MixedCharge,
    /// Destroyed already.
    Terminated(String),
    /// In a state that refuses termination.
    State(String, InstanceState),
    /// Under a restriction.
    Restricted(String, Restriction),
    /// The same operation is already running on it.
    SameOperationRunning(String),
    /// Another operation is running on it.
    OperationInProgress(String, String),
    /// Termination protection is on.
    Protected(String),
    /// It serves another product: the role, e.g. `EMR`.
    ApplicationRole(String, String),
    /// A special instance type.
    SpecialType(String),
    /// Of a kind this API does not support.
    Unsupported(String),
    /// Cannot be returned.
    Unreturnable(String),
    /// Prepaid with a commercial (Red Hat) operating system: cannot be returned.
    RedHatReturn(String),
    /// Red Hat on a charge type that does not support it.
    RedHat(String),
    /// A charge type this API does not terminate.
    ChargeType(String, ChargeType),
    /// Prepaid, outside the return policy.
    PrepaidPolicy(String),
    /// `ReleaseAddress` on an address type it cannot release.
    AddressType(String, String),
    /// The account has unpaid orders.
    UnpaidOrders,
    /// The account's AppId is broken.
    AppIdFormat,
    /// The account has no MFA device.
    MfaNotFound,
    /// The account's MFA session expired.
    MfaExpired,
    /// The session token was revoked.
    TokenRevoked,
    /// No prepaid returns left.
    ReturnQuota,
    /// No limited operations left.
    OperationQuota,
    /// The caller's SecretId is no account of this world (providers authenticate against the same world first,
    /// so only a caller of [`World::terminate`] that did not can meet it).
    UnknownCaller(String),
}

impl From<BatchRefusal> for Refusal {
    fn from(refusal: BatchRefusal) -> Self {
        Refusal::Batch(refusal)
    }
}

/// Whether `id` is `ins-` and 8 of `[a-z0-9]`; the refusal for it if not.
pub fn check_instance_id(id: &str) -> Result<(), Refusal> {
    let Some(suffix) = id
        .strip_prefix("ins-")
        .filter(|suffix| suffix.chars().count() == 8)
    else {
        return Err(Refusal::MalformedId(id.to_owned()));
    };
    if suffix
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(Refusal::IdCharacters(id.to_owned()))
    }
}

/// Checks a batch of ids: count, duplicates, format.
pub fn check_batch(ids: &[impl AsRef<str>]) -> Result<(), Refusal> {
    super::refusal::check_batch(ids, MAX_BATCH)?;
    ids.iter().try_for_each(|id| check_instance_id(id.as_ref()))
}

impl World {
    /// The instance's owner: its own, or the first account's.
    fn owner_of<'a>(&'a self, instance: &'a Instance) -> &'a str {
        self.owner_or_first(instance.owner.as_deref())
    }

    /// An owner as given, or when none is, the first account's: the owner of resources that name none.
    pub(super) fn owner_or_first<'a>(&'a self, owner: Option<&'a str>) -> &'a str {
        owner
            .or_else(|| {
                self.spec
                    .accounts
                    .first()
                    .map(|account| account.owner.as_str())
            })
            .unwrap_or_default()
    }

    /// The instance's region: its own, or the world's.
    pub fn region_of<'a>(&'a self, instance: &'a Instance) -> &'a str {
        instance.region.as_deref().unwrap_or(&self.spec.region)
    }

    /// Indexes of the instances named, in the request's region; refuses unknown ids. Constant time per id,
    /// whatever the world's size (the world's index is exact: see `store.rs`).
    pub(super) fn find(
        &self,
        region: &str,
        ids: &[impl AsRef<str>],
    ) -> Result<Vec<usize>, Refusal> {
        ids.iter()
            .map(AsRef::as_ref)
            .map(|id| {
                self.spec
                    .instances
                    .position(id)
                    .filter(|&at| self.region_of(&self.spec.instances[at]) == region)
                    .ok_or_else(|| BatchRefusal::NotFound(id.to_owned()).into())
            })
            .collect()
    }

    /// Terminates a batch of instances, all or nothing (see the module docs for the order of the rules); a
    /// SecretId that is no account of this world is [`Refusal::UnknownCaller`].
    pub fn terminate(&mut self, request: &Terminate<'_>) -> Result<(), Refusal> {
        let account = self
            .account(request.secret_id)
            .ok_or_else(|| Refusal::UnknownCaller(request.secret_id.to_owned()))?;
        check_batch(request.instance_ids)?;
        let found = self.find(request.region, request.instance_ids)?;
        // Walked again for each rule rather than collected: no allocation for the usual batch of one.
        let instances = || found.iter().map(|&index| &self.spec.instances[index]);
        if let Some(instance) = instances().find(|i| self.owner_of(i) != account.owner) {
            return Err(Refusal::NotOwned(instance.id.clone()));
        }
        let mut charges = instances().map(|instance| instance.charge);
        let first = charges.next();
        if charges.any(|charge| Some(charge) != first) {
            return Err(Refusal::MixedCharge);
        }
        for instance in instances() {
            check_instance(instance, request)?;
        }
        check_account(account, instances())?;

        let returns = prepaid_returns(instances());
        for index in found {
            apply(self.spec.instances.at_mut(index), request);
        }
        // Found above, under the same borrow of the world: the account is still there.
        if let Some(account) = self.account_mut(request.secret_id) {
            if let Some(quota) = &mut account.return_quota {
                *quota = quota.saturating_sub(returns);
            }
            if let Some(quota) = &mut account.operation_quota {
                *quota = quota.saturating_sub(1);
            }
        }
        Ok(())
    }

    /// The caller's instances in a region, optionally only those named, without the destroyed ones.
    pub fn describe<'a>(
        &'a self,
        account: &'a Account,
        region: &'a str,
        ids: Option<&'a [String]>,
    ) -> Result<Vec<&'a Instance>, Refusal> {
        if let Some(ids) = ids {
            super::refusal::check_size(ids, MAX_BATCH)?;
            ids.iter().try_for_each(|id| check_instance_id(id))?;
        }
        Ok(self
            .spec
            .instances
            .iter()
            .filter(|instance| {
                self.region_of(instance) == region && self.owner_of(instance) == account.owner
            })
            .filter(|instance| World::listed(instance))
            .filter(|instance| ids.is_none_or(|ids| ids.contains(&instance.id)))
            .collect())
    }
}

/// How many of these instances a call returns to the recycle bin (prepaid, not there yet).
fn prepaid_returns<'a>(instances: impl Iterator<Item = &'a Instance>) -> u32 {
    instances
        .filter(|instance| {
            instance.charge == ChargeType::Prepaid && instance.state != InstanceState::Shutdown
        })
        .count() as u32
}

/// What a successful termination does to one instance.
fn apply(instance: &mut Instance, request: &Terminate<'_>) {
    let with_prepaid_disks = request.release_prepaid_data_disks;
    if instance.charge == ChargeType::Prepaid && instance.state != InstanceState::Shutdown {
        // First call on a prepaid instance: to the recycle bin, with its prepaid data disks if asked.
        instance.state = InstanceState::Shutdown;
        for disk in &mut instance.data_disks {
            if disk.charge == ChargeType::Prepaid && with_prepaid_disks {
                disk.state = DiskState::Recycled;
            }
        }
    } else {
        // Destroyed. Pay-as-you-go disks and recycled ones go with it; prepaid ones only when asked.
        instance.state = InstanceState::Terminated;
        for disk in &mut instance.data_disks {
            if disk.charge != ChargeType::Prepaid
                || disk.state == DiskState::Recycled
                || with_prepaid_disks
            {
                disk.state = DiskState::Released;
            }
        }
    }
    if request.release_address
        && let Some(eip) = &mut instance.eip
    {
        eip.released = true;
    }
}

/// The per-instance rules, in precedence order.
fn check_instance(instance: &Instance, request: &Terminate<'_>) -> Result<(), Refusal> {
    let id = || instance.id.clone();
    match instance.state {
        // Destroyed, and still listed as terminating (`super::lifecycle`).
        InstanceState::Terminated if instance.gone_at.is_some() => {
            return Err(Refusal::State(id(), InstanceState::Terminating));
        }
        InstanceState::Terminated => return Err(Refusal::Terminated(id())),
        InstanceState::Running | InstanceState::Stopped | InstanceState::Shutdown => {}
        refusing => {
            if let Some(restriction) = instance.restriction {
                return Err(Refusal::Restricted(id(), restriction));
            }
            return Err(Refusal::State(id(), refusing));
        }
    }
    if let Some(restriction) = instance.restriction {
        return Err(Refusal::Restricted(id(), restriction));
    }
    if let Some(operation) = &instance.operation_in_progress {
        return Err(if &**operation == "TerminateInstances" {
            Refusal::SameOperationRunning(id())
        } else {
            Refusal::OperationInProgress(id(), operation.to_string())
        });
    }
    if instance.protected {
        return Err(Refusal::Protected(id()));
    }
    if let Some(role) = &instance.application_role {
        return Err(Refusal::ApplicationRole(id(), role.to_string()));
    }
    if instance.special_type.is_some() {
        return Err(Refusal::SpecialType(id()));
    }
    if instance.unsupported {
        return Err(Refusal::Unsupported(id()));
    }
    if instance.unreturnable {
        return Err(Refusal::Unreturnable(id()));
    }
    if instance.is_red_hat() {
        match instance.charge {
            ChargeType::Prepaid => return Err(Refusal::RedHatReturn(id())),
            ChargeType::Spotpaid => return Err(Refusal::RedHat(id())),
            _ => {}
        }
    }
    match instance.charge {
        ChargeType::Cdhpaid | ChargeType::Cdcpaid => {
            return Err(Refusal::ChargeType(id(), instance.charge));
        }
        ChargeType::Prepaid
            if instance.state != InstanceState::Shutdown && !instance.return_policy =>
        {
            return Err(Refusal::PrepaidPolicy(id()));
        }
        _ => {}
    }
    if request.release_address
        && let Some(eip) = &instance.eip
        && !RELEASABLE_ADDRESS_TYPES.contains(&eip.kind.as_str())
    {
        return Err(Refusal::AddressType(id(), eip.kind.clone()));
    }
    Ok(())
}

/// The account rules, in precedence order.
fn check_account<'a>(
    account: &Account,
    instances: impl Iterator<Item = &'a Instance>,
) -> Result<(), Refusal> {
    if account.unpaid_orders {
        return Err(Refusal::UnpaidOrders);
    }
    if account.app_id.is_empty() || !account.app_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::AppIdFormat);
    }
    match account.mfa {
        super::Mfa::NotFound => return Err(Refusal::MfaNotFound),
        super::Mfa::Expired => return Err(Refusal::MfaExpired),
        super::Mfa::Ok | super::Mfa::Failure => {}
    }
    if account.token_revoked {
        return Err(Refusal::TokenRevoked);
    }
    if account
        .return_quota
        .is_some_and(|quota| quota < prepaid_returns(instances))
    {
        return Err(Refusal::ReturnQuota);
    }
    if account.operation_quota == Some(0) {
        return Err(Refusal::OperationQuota);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_no_account_of_the_world_is_refused_not_a_panic() {
        // A world replaced between a request's authentication and its decision used to panic here.
        let mut world = World::new(crate::world::WorldSpec::default_world());
        let call = Terminate {
            secret_id: "AKIDnot-in-this-world",
            region: "ap-guangzhou",
            instance_ids: &["ins-aaaaaaaa"],
            release_address: false,
            release_prepaid_data_disks: false,
        };
        assert_eq!(
            world.terminate(&call),
            Err(Refusal::UnknownCaller("AKIDnot-in-this-world".into()))
        );
    }

    #[test]
    fn an_instance_is_found_by_id_in_its_region_only_and_an_added_one_at_once() {
        let spec = crate::world::WorldSpec::from_toml(
            "[[instances]]\nid = \"ins-aaaaaaaa\"\n\n[[instances]]\nid = \"ins-bbbbbbbb\"\nregion = \"ap-shanghai\"\n",
            "test",
        )
        .unwrap();
        let mut world = World::new(spec);
        let ids = |id: &str| vec![id.to_owned()];
        let gz = "ap-guangzhou";
        assert_eq!(world.find(gz, &ids("ins-aaaaaaaa")), Ok(vec![0]));
        assert_eq!(world.find("ap-shanghai", &ids("ins-bbbbbbbb")), Ok(vec![1]));
        assert_eq!(
            world.find(gz, &ids("ins-bbbbbbbb")),
            Err(BatchRefusal::NotFound("ins-bbbbbbbb".into()).into())
        );
        assert_eq!(
            world.find(gz, &ids("ins-cccccccc")),
            Err(BatchRefusal::NotFound("ins-cccccccc".into()).into())
        );
        assert!(world.add_instance(Instance::new("ins-cccccccc")));
        assert!(
            !world.add_instance(Instance::new("ins-aaaaaaaa")),
            "an id twice"
        );
        assert_eq!(world.spec().instances.len(), 3);
        assert_eq!(world.find(gz, &ids("ins-cccccccc")), Ok(vec![2]));
    }

    #[test]
    fn the_documented_malformed_example_is_a_length_error() {
        // Seed 001: "For example, ins-1122 has an invalid ID length."
        assert_eq!(
            check_instance_id("ins-1122"),
            Err(Refusal::MalformedId("ins-1122".into()))
        );
        assert_eq!(
            check_instance_id("ins-ABCD1234"),
            Err(Refusal::IdCharacters("ins-ABCD1234".into()))
        );
        assert_eq!(
            check_instance_id("i-12345678"),
            Err(Refusal::MalformedId("i-12345678".into()))
        );
        assert_eq!(check_instance_id("ins-3jaw1j8m"), Ok(()));
    }
}
