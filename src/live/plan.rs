//! Which cases run live, in which tier, and why the others cannot: decided from the case's data alone, before
//! anything is sent.
//!
//! The case file's `live` field is the author's claim; the audit here checks it against what the case needs. A
//! `safe` case runs live only if its every expectation can be observed on a real account with nothing in it: no
//! injected fault, no moved clock, no instance states read back (they need the mock's control API), no second
//! identity, no account state (MFA, disabled key, unpaid orders…) that a sandbox account cannot be put in. What
//! fails the audit is reported `not live-verifiable: <reason>`, never passed. A `mock-only` case says why in its
//! world: the reason given is the first thing in it that a real account cannot have.

use crate::case::{Case, Live, SignForm};
use crate::world::bmc::BmcCharge;
use crate::world::{ChargeType, Mfa, Restriction};

/// The tiers a run opted into, beyond the safe default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tiers {
    /// `--provision`: cases whose world terminus creates (and destroys) itself.
    pub provision: bool,
    /// `--rate-limit`: cases that throttle the whole account.
    pub rate_limit: bool,
}

/// What live mode does with one case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Runs in the safe tier: every request proven unable to name an existing instance first.
    Safe,
    /// Runs only with `--provision`, on instances the run creates.
    Provision,
    /// Needs an opt-in the run did not give (`--provision`, `--rate-limit`); the text names it.
    OptIn(String),
    /// Its world cannot be made on a real account; the reason.
    NotLiveVerifiable(String),
}

/// Plans a case for a run with these tiers.
pub fn plan(case: &Case, tiers: Tiers) -> Plan {
    if let Some(reason) = unmakeable(case) {
        return Plan::NotLiveVerifiable(reason);
    }
    if case.tags.iter().any(|tag| tag == "rate-limit") && !tiers.rate_limit {
        return Plan::OptIn(
            "rate-limit case: it throttles the whole account; opt in with --rate-limit".into(),
        );
    }
    match case.live {
        Live::Safe => Plan::Safe,
        Live::Destructive if tiers.provision => Plan::Provision,
        Live::Destructive => Plan::OptIn(
            "destructive: runs only with --provision, on instances the run creates".into(),
        ),
        Live::MockOnly => Plan::NotLiveVerifiable(
            "marked mock-only: its world is a state terminus cannot create on a real account"
                .into(),
        ),
    }
}

/// The first thing the case needs that a real account cannot be made to have, if any.
fn unmakeable(case: &Case) -> Option<String> {
    let world = &case.world;
    if !world.faults.is_empty() {
        return Some(
            "needs an injected fault: the real API cannot be made to fail on demand".into(),
        );
    }
    if let Some(step) = case.steps.iter().position(|step| step.advance.is_some()) {
        return Some(format!(
            "step {} moves the world's clock: a real account's clock cannot be moved",
            step + 1
        ));
    }
    if world.accounts.len() > 1 {
        return Some("needs a second identity (another account or sub-user)".into());
    }
    if let Some(account) = world.accounts.first() {
        let state = [
            (account.disabled, "a disabled key"),
            (
                account.token.is_some(),
                "temporary credentials with a known session token",
            ),
            (account.token_revoked, "a revoked session token"),
            (account.unpaid_orders, "unpaid orders"),
            (account.mfa != Mfa::default(), "an MFA state"),
            (account.return_quota.is_some(), "a prepaid return quota"),
            (account.operation_quota.is_some(), "an operation quota"),
            (
                !account.app_id.chars().all(|c| c.is_ascii_digit()),
                "a broken AppId",
            ),
        ];
        if let Some((_, what)) = state.iter().find(|(has, _)| *has) {
            return Some(format!("needs an account with {what}"));
        }
    }
    for instance in &world.instances {
        let special = [
            (
                instance.charge == ChargeType::Prepaid,
                "a prepaid (monthly) instance",
            ),
            (instance.is_red_hat(), "a Red Hat instance"),
            (
                instance.application_role.is_some(),
                "an instance of another product (EMR, TKE…)",
            ),
            (instance.special_type.is_some(), "a special instance type"),
            (
                instance.restriction.is_some(),
                restriction(instance.restriction),
            ),
            (
                instance.unreturnable || instance.unsupported,
                "an instance the API refuses by kind",
            ),
            (instance.owner.is_some(), "an instance of another owner"),
        ];
        if let Some((_, what)) = special.iter().find(|(has, _)| *has) {
            return Some(format!("needs {what}"));
        }
    }
    if world
        .bmc_instances
        .iter()
        .any(|instance| instance.charge == BmcCharge::Prepaid)
    {
        return Some("needs a prepaid bare-metal instance".into());
    }
    for (index, step) in case.steps.iter().enumerate() {
        if let Some(region) = step.region.as_deref().filter(|region| !region.is_empty())
            && !proof_regions(region)
        {
            return Some(format!(
                "step {} is served in {region:?}, a region no DescribeInstances answers in, so no id of it can be \
                 proven absent there",
                index + 1
            ));
        }
        let expect = &step.expect;
        if case.live == Live::Safe && !only_unchanged(case, expect) {
            return Some(format!(
                "step {} expects an instance state to change, read back through the mock's control API",
                index + 1
            ));
        }
        if step.sign == Some(SignForm::Bearer) {
            return Some(format!(
                "step {} signs with a Zenlayer personal access token, which live mode does not read",
                index + 1
            ));
        }
        if expect.dropped {
            return Some(format!(
                "step {} expects a dropped connection, which only an injected fault produces",
                index + 1
            ));
        }
    }
    None
}

/// Whether a step's state expectations only say that nothing changed (each instance still in its seeded state):
/// vacuous live, where the proof before the request showed that none of its ids exists. Disks and addresses
/// cannot be read back live at all.
fn only_unchanged(case: &Case, expect: &crate::case::Expect) -> bool {
    let seeded = |id: &str| {
        let world = &case.world;
        world
            .instances
            .iter()
            .find(|instance| instance.id == id)
            .map(|instance| instance.state.name())
            .or_else(|| {
                world
                    .bmc_instances
                    .iter()
                    .find(|instance| instance.id == id)
                    .map(|instance| instance.status.name())
            })
    };
    let every = expect.every_instance.as_ref().is_none_or(|state| {
        case.world
            .instances
            .iter()
            .all(|i| &i.state.name() == state)
            && case
                .world
                .bmc_instances
                .iter()
                .all(|i| &i.status.name() == state)
    });
    every
        && expect.disks.is_empty()
        && expect.addresses.is_empty()
        && expect
            .instances
            .iter()
            .all(|(id, state)| seeded(id).as_ref() == Some(state))
}

/// Whether the guard can prove ids absent in `region` (a legacy short name mapped): a CVM region terminus's
/// table knows (`provider::tencent::wire`, from the official Go SDK's region list).
fn proof_regions(region: &str) -> bool {
    use crate::provider::tencent::wire::{OTHER_CVM_REGIONS, SUPPORTED_REGIONS};
    let region = super::served::region_of(region);
    SUPPORTED_REGIONS
        .iter()
        .chain(OTHER_CVM_REGIONS.iter())
        .any(|known| *known == region)
}

fn restriction(restriction: Option<Restriction>) -> &'static str {
    match restriction {
        Some(Restriction::Banned) => "a banned instance",
        Some(Restriction::Frozen) => "a frozen instance",
        Some(Restriction::Isolating) => "an instance being isolated",
        None => "",
    }
}
