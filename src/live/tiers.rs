//! The tier of every action live mode may meet, from a table, never from the case: what a request can do to an
//! account is the API's business, and a case file (hostile or careless) must not be able to make a request look
//! harmless. A case's `live` field can only make a run stricter ([`super::plan`]).
//!
//! An action not in the table is [`Tier::Changing`]: it is proven like a destroying one and never assumed to
//! read. Names are matched ignoring ASCII case, since a gateway that routes `terminateinstances` to
//! `TerminateInstances` must not find the guard looking for the exact spelling.

/// What an action does to an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    /// Reads only.
    Read,
    /// Creates, but has a `DryRun` parameter: with `DryRun=true` the API checks the request and creates nothing.
    DryRunnable,
    /// Changes an existing resource (or is unknown).
    Changing,
    /// Destroys an existing resource.
    Destroying,
    /// Creates, and has no dry run.
    Creating,
}

/// The table: every action terminus's cases, proofs and provisioning send, with its tier. Sources: the CVM API
/// 3.0 action list and `RunInstances`' `DryRun` parameter (`reference/tencent-api.md`), the legacy gateway's
/// `ReturnInstance` (seed 004), Zenlayer's BMC actions (`reference/zenlayer-api.md`; `CreateInstances` has no dry
/// run there).
const TABLE: [(&str, Tier); 22] = [
    ("DescribeInstances", Tier::Read),
    ("DescribeInstancesStatus", Tier::Read),
    ("DescribeImages", Tier::Read),
    ("DescribeRegions", Tier::Read),
    ("DescribeZones", Tier::Read),
    ("DescribeInstanceTypeConfigs", Tier::Read),
    ("DescribeZoneInstanceConfigInfos", Tier::Read),
    ("DescribeInstanceTypes", Tier::Read),
    ("GetCallerIdentity", Tier::Read),
    ("InquiryPriceRunInstances", Tier::Read),
    ("InquiryPriceTerminateInstances", Tier::Read),
    ("RunInstances", Tier::DryRunnable),
    ("CreateInstances", Tier::Creating),
    ("TerminateInstances", Tier::Destroying),
    ("TerminateInstance", Tier::Destroying),
    ("ReturnInstance", Tier::Destroying),
    ("ReleaseInstances", Tier::Destroying),
    ("StopInstances", Tier::Changing),
    ("StartInstances", Tier::Changing),
    ("RebootInstances", Tier::Changing),
    ("ModifyInstancesAttribute", Tier::Changing),
    ("ResetInstance", Tier::Changing),
];

/// The tier of `action`: from the table, ignoring ASCII case; [`Tier::Changing`] for anything else.
pub fn of(action: &str) -> Tier {
    TABLE
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(action.trim()))
        .map_or(Tier::Changing, |(_, tier)| *tier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tier_is_the_tables_whatever_the_spelling_and_unknown_is_changing() {
        assert_eq!(of("DescribeInstances"), Tier::Read);
        assert_eq!(of("describeinstances"), Tier::Read);
        assert_eq!(of("terminateINSTANCES"), Tier::Destroying);
        assert_eq!(of("RunInstances"), Tier::DryRunnable);
        assert_eq!(of("CreateInstances"), Tier::Creating);
        // A name that merely starts like a read is not one.
        assert_eq!(of("DescribeInstancesAndTerminate"), Tier::Changing);
        assert_eq!(of(""), Tier::Changing);
    }
}
