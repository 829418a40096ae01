//! The CVM actions of the instance lifecycle on API 3.0: `RunInstances`, `StartInstances`, `StopInstances`,
//! `RebootInstances`, `ModifyInstancesAttribute`, `DescribeInstancesStatus` and `DescribeInstances` (with
//! `Filters`). The wire only: parameters in, the instance as the real API shows it out; the state changes are the
//! world's ([`crate::world::lifecycle`]).
//!
//! # Parameters
//!
//! Names, types and limits are the official Python SDK's models (`tencentcloud/cvm/v20170312/models.py`) and
//! tccli's `api.json`; each choice:
//!
//! - `InternetAccessible` is modelled: `InternetChargeType` (one of the four documented; default the instance's
//!   kind, `BANDWIDTH_PREPAID` or `TRAFFIC_POSTPAID_BY_HOUR`), `InternetMaxBandwidthOut` (default 0) and
//!   `PublicIpAssigned` (default: an address when the bandwidth is above 0). The instance shows the bandwidth,
//!   and a public address from a documentation range while it holds one ([`Instance::public_address`]: from
//!   `RUNNING`, released by a `STOP_CHARGING` stop, back from `StartInstances`, as recorded).
//! - Every parameter the model of an action names is accepted; those terminus does not model (`SystemDisk`,
//!   `VirtualPrivateCloud`, `LoginSettings`, `SecurityGroups`, `UserData`…) are accepted and have no effect, so a
//!   real client's request is not refused for them. A name the model does not have is `UnknownParameter`.
//! - `RunInstances`: `Placement.Zone` and `ImageId` are required (the model makes them optional only with a
//!   `LaunchTemplate`, which terminus does not serve: `UnsupportedOperation`). The zone must be one of the
//!   request's region (`{region}-N`, else `InvalidZone.MismatchRegion`); `ImageId` is `img-` and 8 of `[a-z0-9]`
//!   (`InvalidImageId.Malformed`); `InstanceType` is `FAMILY.SIZE` with `SIZE` one of `SMALL`, `MEDIUM`, `LARGE`,
//!   `nXLARGE` followed by the memory in GB (`InvalidInstanceType.Malformed`; default `S5.MEDIUM4`), from which
//!   `CPU` (1, 2, 4, 4n) and `Memory` come; `InstanceChargeType` one of the five documented (default
//!   `POSTPAID_BY_HOUR`), `PREPAID` with `InstanceChargePrepaid.Period` in the documented months (`InvalidPeriod`);
//!   `InstanceCount` in [1, 500] (`InvalidParameterValue.Range`); `InstanceName` at most 128 characters
//!   (`InvalidParameterValue.TooLong`) with the `{R:x}` / `{R:x,F:y}` patterns; `ClientToken` at most 64 ASCII
//!   characters (`InvalidClientToken.TooLong`); `ActionTimer.TimerAction` only `TerminateInstances`, `ActionTime`
//!   `YYYY-MM-DDThh:mm:ssZ` (`InvalidParameterValue.InvalidTimeFormat`) at least 5 minutes ahead of the world's
//!   clock (`InvalidParameterValue`); `TagSpecification` tags of `ResourceType` `instance` are the instance's.
//! - `DryRun`: every check runs, nothing is created, and the answer is a success with its `RequestId` only, as the
//!   model's documentation says ("如果检查通过，则返回RequestId").
//! - `ClientToken`: a token already used by the same owner answers the first call's `InstanceIdSet` and creates
//!   nothing, for the world's lifetime (the documentation gives no expiry).
//! - `DescribeInstances`: `InstanceIds` and `Filters` together are `InvalidParameter` (documented: not
//!   supported together); at most 10 filters of at most 5 values (`InvalidFilterValue.LimitExceeded`); the filters
//!   served are `instance-id`, `instance-name`, `instance-state`, `zone`, `instance-charge-type`, `tag-key`,
//!   `tag-value` and `tag:<key>`; another name is `InvalidFilter`, whose message says whether the real API
//!   documents it (terminus does not serve it) or not. `Limit` in [1, 100], default 20; an `Offset` past the end
//!   gives the true `TotalCount` and an empty set (real-wire.md §6.10).
//! - `RunInstances` past [`crate::world::lifecycle::INSTANCE_QUOTA`] listed instances of one owner is
//!   `LimitExceeded.InstanceQuota` (terminus's bound; the real quota is per account and zone).
//! - A state that refuses an action is `UnsupportedOperation.InstanceState<State>`; an instance listed as
//!   terminating is `UnsupportedOperation.InstanceStateTerminating`.

use serde_json::{Map, Value, json};

use super::codes::{check_region, missing, refusal, state_code};
use super::wire::{ActionParams, ApiError};
use crate::world::lifecycle::{Change, Launch, LifeRefusal, Tag};
use crate::world::{ChargeType, DiskState, Instance, InstanceState, Internet, World};

/// The CVM actions of this module.
pub(super) const ACTIONS: [&str; 7] = [
    "RunInstances",
    "StartInstances",
    "StopInstances",
    "RebootInstances",
    "ModifyInstancesAttribute",
    "DescribeInstancesStatus",
    "DescribeInstances",
];

/// Every action of CVM 2017-03-12, from tccli 3.1.189.1's `tccli/services/cvm/v20170312/api.json` (the version
/// `tests/clients/requirements.txt` pins): an action here that terminus does not serve is named as such.
pub(super) const CVM_ACTIONS: [&str; 106] = [
    "AllocateHosts",
    "AssociateInstancesKeyPairs",
    "AssociateSecurityGroups",
    "ConfigureChcAssistVpc",
    "ConfigureChcDeployVpc",
    "ConvertOperatingSystems",
    "CreateDisasterRecoverGroup",
    "CreateHpcCluster",
    "CreateImage",
    "CreateKeyPair",
    "CreateLaunchTemplate",
    "CreateLaunchTemplateVersion",
    "DeleteDisasterRecoverGroups",
    "DeleteHpcClusters",
    "DeleteImages",
    "DeleteInstancesActionTimer",
    "DeleteInstancesDisasterRecoverGroups",
    "DeleteKeyPairs",
    "DeleteLaunchTemplate",
    "DeleteLaunchTemplateVersions",
    "DescribeAccountQuota",
    "DescribeChcDeniedActions",
    "DescribeChcHosts",
    "DescribeDisasterRecoverGroupQuota",
    "DescribeDisasterRecoverGroups",
    "DescribeHosts",
    "DescribeHpcClusters",
    "DescribeImageFromFamily",
    "DescribeImageQuota",
    "DescribeImageSharePermission",
    "DescribeImages",
    "DescribeImportImageOs",
    "DescribeInstanceFamilyConfigs",
    "DescribeInstanceInternetBandwidthConfigs",
    "DescribeInstanceTypeConfigs",
    "DescribeInstanceVncUrl",
    "DescribeInstances",
    "DescribeInstancesActionTimer",
    "DescribeInstancesAttributes",
    "DescribeInstancesModification",
    "DescribeInstancesOperationLimit",
    "DescribeInstancesStatus",
    "DescribeInternetChargeTypeConfigs",
    "DescribeKeyPairs",
    "DescribeLaunchTemplateVersions",
    "DescribeLaunchTemplates",
    "DescribeRegions",
    "DescribeResourcePoolPackInstances",
    "DescribeResourcePoolPackTypeConfigs",
    "DescribeResourcePoolPacks",
    "DescribeTaskInfo",
    "DescribeZoneInstanceConfigInfos",
    "DescribeZones",
    "DisassociateInstancesKeyPairs",
    "DisassociateSecurityGroups",
    "EnterRescueMode",
    "ExitRescueMode",
    "ExportImages",
    "ImportImage",
    "ImportInstancesActionTimer",
    "ImportKeyPair",
    "InquirePricePurchaseResourcePoolPacks",
    "InquiryPriceModifyInstancesChargeType",
    "InquiryPriceRenewHosts",
    "InquiryPriceRenewInstances",
    "InquiryPriceResetInstance",
    "InquiryPriceResetInstancesInternetMaxBandwidth",
    "InquiryPriceResetInstancesType",
    "InquiryPriceResizeInstanceDisks",
    "InquiryPriceRunInstances",
    "InquiryPriceTerminateInstances",
    "ModifyChcAttribute",
    "ModifyChcNetworkMode",
    "ModifyDisasterRecoverGroupAttribute",
    "ModifyHostsAttribute",
    "ModifyHpcClusterAttribute",
    "ModifyImageAttribute",
    "ModifyImageSharePermission",
    "ModifyInstanceDiskType",
    "ModifyInstancesAttribute",
    "ModifyInstancesChargeType",
    "ModifyInstancesDisasterRecoverGroup",
    "ModifyInstancesProject",
    "ModifyInstancesRenewFlag",
    "ModifyInstancesVpcAttribute",
    "ModifyKeyPairAttribute",
    "ModifyLaunchTemplateDefaultVersion",
    "ProgramFpgaImage",
    "PurchaseResourcePoolPacks",
    "RebootInstances",
    "RemoveChcAssistVpc",
    "RemoveChcDeployVpc",
    "RenewHosts",
    "RenewInstances",
    "RepairTaskControl",
    "ResetInstance",
    "ResetInstancesInternetMaxBandwidth",
    "ResetInstancesPassword",
    "ResetInstancesType",
    "ResizeInstanceDisks",
    "RunInstances",
    "StartInstances",
    "StopInstances",
    "SyncImages",
    "TerminateInstances",
    "TerminateResourcePoolPacks",
];

/// Every parameter of `RunInstances` in the SDK's model.
const RUN_PARAMS: [&str; 34] = [
    "InstanceChargeType",
    "InstanceChargePrepaid",
    "Placement",
    "InstanceType",
    "ImageId",
    "SystemDisk",
    "DataDisks",
    "VirtualPrivateCloud",
    "InternetAccessible",
    "InstanceCount",
    "MinCount",
    "InstanceName",
    "LoginSettings",
    "SecurityGroupIds",
    "EnhancedService",
    "ClientToken",
    "HostName",
    "ActionTimer",
    "DisasterRecoverGroupIds",
    "TagSpecification",
    "InstanceMarketOptions",
    "UserData",
    "Metadata",
    "DryRun",
    "CpuTopology",
    "CamRoleName",
    "HpcClusterId",
    "LaunchTemplate",
    "DedicatedClusterId",
    "ChcIds",
    "PartitionNumber",
    "DisableApiTermination",
    "EnableJumboFrame",
    "NetworkInterfaces",
];

/// The months a prepaid instance may be bought for (`InvalidPeriod`'s documented list).
const PERIODS: [u64; 14] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 24, 36];

/// The filters of `DescribeInstances` the documentation lists that terminus does not serve.
const UNSERVED_FILTERS: [&str; 18] = [
    "project-id",
    "host-id",
    "dedicated-cluster-id",
    "vpc-id",
    "subnet-id",
    "security-group-id",
    "instance-type",
    "instance-family",
    "hpc-cluster-id",
    "private-ip-address",
    "public-ip-address",
    "ipv6-address",
    "ipv6-address-prefix",
    "creation-start-time",
    "creation-end-time",
    "image-id",
    "dedicated-host-id",
    "tag-value-prefix",
];

/// Answers one of [`ACTIONS`] for an authenticated account of `owner`.
pub(super) fn handle(
    action: &str,
    region: Option<&str>,
    params: &ActionParams,
    owner: &str,
    world: &mut World,
    request_id: &str,
) -> Result<Map<String, Value>, ApiError> {
    match action {
        "RunInstances" => run(region, params, owner, world, request_id),
        "StartInstances" => {
            params.only(&["InstanceIds"])?;
            change(region, params, owner, world, Change::Start, request_id)
        }
        "StopInstances" => {
            params.only(&["InstanceIds", "ForceStop", "StopType", "StoppedMode"])?;
            params.boolean("ForceStop")?;
            one_of(params, "StopType", &["SOFT", "HARD", "SOFT_FIRST"])?;
            let mode = one_of(params, "StoppedMode", &["KEEP_CHARGING", "STOP_CHARGING"])?;
            let stop_charging = mode.as_deref() == Some("STOP_CHARGING");
            change(
                region,
                params,
                owner,
                world,
                Change::Stop { stop_charging },
                request_id,
            )
        }
        "RebootInstances" => {
            params.only(&["InstanceIds", "ForceReboot", "StopType"])?;
            params.boolean("ForceReboot")?;
            one_of(params, "StopType", &["SOFT", "HARD", "SOFT_FIRST"])?;
            change(region, params, owner, world, Change::Reboot, request_id)
        }
        "ModifyInstancesAttribute" => modify(region, params, owner, world, request_id),
        "DescribeInstancesStatus" => status(region, params, owner, world),
        _ => describe(region, params, owner, world),
    }
}

/// A string parameter; `None` when absent.
fn string(params: &ActionParams, name: &str) -> Result<Option<String>, ApiError> {
    params
        .values
        .get(name)
        .map(|value| text(value, name))
        .transpose()
}

/// A value that must be a string.
fn text(value: &Value, name: &str) -> Result<String, ApiError> {
    value.as_str().map(str::to_owned).ok_or_else(|| {
        ApiError::new(
            "InvalidParameter",
            format!("The parameter `{name}` must be a string."),
        )
        .zh(format!("参数 `{name}` 取值类型错误。"))
    })
}

/// A value that must be an object (a JSON object, or `Name.Field` pairs).
fn object<'a>(value: &'a Value, name: &str) -> Result<&'a Map<String, Value>, ApiError> {
    value.as_object().ok_or_else(|| {
        ApiError::new(
            "InvalidParameter",
            format!("The parameter `{name}` must be a structure."),
        )
        .zh(format!("参数 `{name}` 取值类型错误。"))
    })
}

/// A value that must be a list.
fn list<'a>(value: &'a Value, name: &str) -> Result<&'a Vec<Value>, ApiError> {
    value.as_array().ok_or_else(|| {
        ApiError::new(
            "InvalidParameter",
            format!("The parameter `{name}` must be an array."),
        )
        .zh(format!("参数 `{name}` 取值类型错误。"))
    })
}

/// A non-negative integer inside a structure: a JSON number, or digits when flattened.
fn integer(value: &Value, flattened: bool, name: &str) -> Result<u64, ApiError> {
    match value {
        Value::Number(number) if !flattened => number.as_u64(),
        Value::String(digits) if flattened => digits.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::new(
            "InvalidParameter",
            format!("The parameter `{name}` must be an integer."),
        )
        .zh(format!("参数 `{name}` 取值类型错误。"))
    })
}

/// The recorded template of `InvalidParameterValue` (real-wire.md §6.7).
fn invalid_value(name: &str, value: &str) -> ApiError {
    ApiError::new(
        "InvalidParameterValue",
        format!("The value `{value}` specified in the parameter `{name}` is not valid."),
    )
}

/// A string parameter that must be one of `allowed`.
fn one_of(params: &ActionParams, name: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    match string(params, name)? {
        Some(value) if !allowed.contains(&value.as_str()) => Err(invalid_value(name, &value)),
        other => Ok(other),
    }
}

/// The required `InstanceIds`.
fn instance_ids(params: &ActionParams) -> Result<Vec<String>, ApiError> {
    params
        .strings("InstanceIds")?
        .ok_or_else(|| missing("InstanceIds"))
}

/// The documented code and message of a lifecycle refusal.
fn life_refusal(refused: LifeRefusal) -> ApiError {
    match refused {
        LifeRefusal::Rule(rule) => refusal(rule),
        LifeRefusal::Terminating(id) => ApiError::new(
            state_code(InstanceState::Terminating),
            format!("The instance `{id}` in the TERMINATING status is not supported."),
        ),
        LifeRefusal::Quota(held, count) => ApiError::new(
            "LimitExceeded.InstanceQuota",
            format!(
                "The quota is not enough to create {count} instances: the account holds {held}, terminus allows {}.",
                crate::world::lifecycle::INSTANCE_QUOTA
            ),
        ),
        LifeRefusal::WorldFull(held, cap, count) => ApiError::new(
            "LimitExceeded.InstanceQuota",
            format!(
                "The quota is not enough to create {count} instances: the world holds {held}, terminus serves at most {cap} (serve --max-instances)."
            ),
        ),
        LifeRefusal::State(id, state) => ApiError::new(
            state_code(state),
            format!(
                "The instance `{id}` in the {} status is not supported.",
                state.name()
            ),
        ),
    }
}

fn change(
    region: Option<&str>,
    params: &ActionParams,
    owner: &str,
    world: &mut World,
    change: Change,
    request_id: &str,
) -> Result<Map<String, Value>, ApiError> {
    let ids = instance_ids(params)?;
    let region = check_region(region, false)?;
    world
        .change_state(owner, region, &ids, change, request_id)
        .map_err(life_refusal)?;
    Ok(Map::new())
}

fn modify(
    region: Option<&str>,
    params: &ActionParams,
    owner: &str,
    world: &mut World,
    request_id: &str,
) -> Result<Map<String, Value>, ApiError> {
    params.only(&[
        "InstanceIds",
        "InstanceName",
        "UserData",
        "SecurityGroups",
        "CamRoleName",
        "HostName",
        "DisableApiTermination",
        "CamRoleType",
        "AutoReboot",
        "EnableJumboFrame",
    ])?;
    let ids = instance_ids(params)?;
    let name = string(params, "InstanceName")?;
    if let Some(name) = &name {
        check_name(name)?;
    }
    let protected = params.boolean("DisableApiTermination")?;
    if params.values.len() == 1 {
        return Err(ApiError::new(
            "MissingParameter",
            "The request names no attribute to modify.",
        ));
    }
    let region = check_region(region, false)?;
    world
        .modify_attributes(owner, region, &ids, name.as_deref(), protected, request_id)
        .map_err(life_refusal)?;
    Ok(Map::new())
}

/// `InstanceName`: at most 128 characters (the model's limit).
fn check_name(name: &str) -> Result<(), ApiError> {
    if name.chars().count() > 128 {
        return Err(ApiError::new(
            "InvalidParameterValue.TooLong",
            "The parameter `InstanceName` is longer than 128 characters.",
        ));
    }
    Ok(())
}

/// `InstanceType` → (`CPU`, `Memory`): `FAMILY.SIZE` with `SIZE` `SMALL`/`MEDIUM`/`LARGE`/`nXLARGE` and the
/// memory in GB, as the real type names read (`SA2.MEDIUM4` is 2 cores and 4 GB, `S3.MEDIUM2` 2 and 2).
pub(super) fn cpu_and_memory(instance_type: &str) -> Option<(u64, u64)> {
    let (family, size) = instance_type.split_once('.')?;
    if family.is_empty() || !family.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let digits = size.bytes().rev().take_while(u8::is_ascii_digit).count();
    let (name, memory) = size.split_at(size.len() - digits);
    let memory: u64 = memory.parse().ok().filter(|m| *m > 0)?;
    let cpu = match name {
        "SMALL" => 1,
        "MEDIUM" => 2,
        "LARGE" => 4,
        _ => {
            let times = name.strip_suffix("XLARGE")?;
            let times: u64 = if times.is_empty() {
                1
            } else {
                times.parse().ok()?
            };
            times
                .checked_mul(4)
                .filter(|cpu| (1..=1024).contains(cpu))?
        }
    };
    Some((cpu, memory))
}

fn run(
    region: Option<&str>,
    params: &ActionParams,
    owner: &str,
    world: &mut World,
    request_id: &str,
) -> Result<Map<String, Value>, ApiError> {
    params.only(&RUN_PARAMS)?;
    let flat = params.flattened;
    if params.values.contains_key("LaunchTemplate") {
        return Err(ApiError::new(
            "UnsupportedOperation",
            "terminus does not serve launch templates: give Placement, ImageId and InstanceType instead.",
        ));
    }
    let charge = match one_of(
        params,
        "InstanceChargeType",
        &[
            "PREPAID",
            "POSTPAID_BY_HOUR",
            "CDHPAID",
            "SPOTPAID",
            "CDCPAID",
        ],
    )?
    .as_deref()
    {
        Some("PREPAID") => ChargeType::Prepaid,
        Some("CDHPAID") => ChargeType::Cdhpaid,
        Some("SPOTPAID") => ChargeType::Spotpaid,
        Some("CDCPAID") => ChargeType::Cdcpaid,
        _ => ChargeType::PostpaidByHour,
    };
    let period_months = match params.values.get("InstanceChargePrepaid") {
        Some(prepaid) => {
            let prepaid = object(prepaid, "InstanceChargePrepaid")?;
            let period = prepaid
                .get("Period")
                .ok_or_else(|| missing("InstanceChargePrepaid.Period"))?;
            let period = integer(period, flat, "InstanceChargePrepaid.Period")?;
            if !PERIODS.contains(&period) {
                return Err(ApiError::new(
                    "InvalidPeriod",
                    format!(
                        "Invalid period `{period}`: the periods supported are 1 to 12, 24 and 36 months."
                    ),
                ));
            }
            Some(period as u32)
        }
        None if charge == ChargeType::Prepaid => {
            return Err(missing("InstanceChargePrepaid"));
        }
        None => None,
    };
    let placement = params
        .values
        .get("Placement")
        .ok_or_else(|| missing("Placement"))?;
    let zone = object(placement, "Placement")?
        .get("Zone")
        .ok_or_else(|| missing("Placement.Zone"))?;
    let zone = text(zone, "Placement.Zone")?;
    let image_id = string(params, "ImageId")?.ok_or_else(|| missing("ImageId"))?;
    let instance_type = string(params, "InstanceType")?.unwrap_or_else(|| "S5.MEDIUM4".to_owned());
    let count = match params.values.get("InstanceCount") {
        Some(count) => integer(count, flat, "InstanceCount")?,
        None => 1,
    };
    let name = string(params, "InstanceName")?;
    let client_token = string(params, "ClientToken")?;
    let protected = params.boolean("DisableApiTermination")?.unwrap_or(false);
    let dry_run = params.boolean("DryRun")?.unwrap_or(false);
    let tags = tag_specification(params)?;
    let internet = params
        .values
        .get("InternetAccessible")
        .map(|internet| internet_accessible(internet, flat, charge))
        .transpose()?;
    let timer = params
        .values
        .get("ActionTimer")
        .map(|timer| action_timer(timer, world.clock.now()))
        .transpose()?;

    let region = check_region(region, false)?;
    if !zone
        .strip_prefix(region)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|n| !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ApiError::new(
            "InvalidZone.MismatchRegion",
            format!("The zone `{zone}` does not exist in the region `{region}`."),
        )
        // Recorded in Chinese (ProbiusOfficial/TCL#2, 2024-07-01: ``zone `ap-nanjing-2`和地域`ap-nanjing`不匹配``).
        .zh(format!("zone `{zone}`和地域`{region}`不匹配")));
    }
    let image_ok = image_id.strip_prefix("img-").is_some_and(|rest| {
        rest.len() == 8
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    if !image_ok {
        return Err(ApiError::new(
            "InvalidImageId.Malformed",
            format!(
                "The image ID `{image_id}` is malformed: img- and 8 lowercase letters or digits."
            ),
        ));
    }
    if cpu_and_memory(&instance_type).is_none() {
        return Err(ApiError::new(
            "InvalidInstanceType.Malformed",
            format!("The instance type `{instance_type}` is malformed."),
        ));
    }
    if !(1..=500).contains(&count) {
        return Err(ApiError::new(
            "InvalidParameterValue.Range",
            format!("The value `{count}` of `InstanceCount` is out of its range [1, 500]."),
        ));
    }
    if let Some(name) = &name {
        check_name(name)?;
    }
    if let Some(token) = &client_token
        && (token.len() > 64 || !token.is_ascii())
    {
        return Err(ApiError::new(
            "InvalidClientToken.TooLong",
            "The ClientToken exceeds its limit: at most 64 ASCII characters.",
        ));
    }
    let launch = Launch {
        zone,
        image_id,
        instance_type,
        charge,
        period_months,
        count: count as u32,
        name,
        tags,
        protected,
        terminate_at: timer,
        client_token,
        internet,
    };
    let ids = world
        .run_instances(owner, region, &launch, dry_run, request_id)
        .map_err(life_refusal)?;
    let mut fields = Map::new();
    if !dry_run {
        fields.insert("InstanceIdSet".into(), json!(ids));
    }
    Ok(fields)
}

/// `InternetAccessible`: its charge type (default: the instance's, as documented: "非带宽包用户默认与子机付费类型保持
/// 一致"), bandwidth (default 0) and `PublicIpAssigned` (default: an address when the bandwidth is above 0, none at
/// 0, as documented). Its other fields (`BandwidthPackageId`, `InternetServiceProvider`…) are accepted and not
/// modelled.
fn internet_accessible(
    value: &Value,
    flat: bool,
    charge: ChargeType,
) -> Result<Internet, ApiError> {
    let internet = object(value, "InternetAccessible")?;
    let charge_type = match internet.get("InternetChargeType") {
        Some(value) => {
            let name = text(value, "InternetAccessible.InternetChargeType")?;
            if !INTERNET_CHARGE_TYPES.contains(&name.as_str()) {
                return Err(invalid_value(
                    "InternetAccessible.InternetChargeType",
                    &name,
                ));
            }
            name
        }
        None if charge == ChargeType::Prepaid => "BANDWIDTH_PREPAID".to_owned(),
        None => "TRAFFIC_POSTPAID_BY_HOUR".to_owned(),
    };
    let bandwidth = match internet.get("InternetMaxBandwidthOut") {
        Some(value) => integer(value, flat, "InternetAccessible.InternetMaxBandwidthOut")?,
        None => 0,
    };
    let Ok(max_bandwidth_out) = u32::try_from(bandwidth) else {
        return Err(invalid_value(
            "InternetAccessible.InternetMaxBandwidthOut",
            &bandwidth.to_string(),
        ));
    };
    let public_ip = match internet.get("PublicIpAssigned") {
        Some(Value::Bool(assigned)) => *assigned,
        Some(Value::String(assigned)) if flat && (assigned == "true" || assigned == "false") => {
            assigned == "true"
        }
        Some(_) => {
            return Err(ApiError::new(
                "InvalidParameter",
                "The parameter `InternetAccessible.PublicIpAssigned` must be a boolean.",
            ));
        }
        None => max_bandwidth_out > 0,
    };
    Ok(Internet {
        charge_type,
        max_bandwidth_out,
        public_ip,
    })
}

/// `InternetAccessible.InternetChargeType`'s values (the SDK model's list).
const INTERNET_CHARGE_TYPES: [&str; 4] = [
    "BANDWIDTH_PREPAID",
    "TRAFFIC_POSTPAID_BY_HOUR",
    "BANDWIDTH_POSTPAID_BY_HOUR",
    "BANDWIDTH_PACKAGE",
];

/// `TagSpecification`: the tags of the `instance` resource type (other types tag resources terminus does not
/// model).
fn tag_specification(params: &ActionParams) -> Result<Vec<Tag>, ApiError> {
    let Some(specs) = params.values.get("TagSpecification") else {
        return Ok(Vec::new());
    };
    let mut tags = Vec::new();
    for spec in list(specs, "TagSpecification")? {
        let spec = object(spec, "TagSpecification")?;
        let kind = spec
            .get("ResourceType")
            .ok_or_else(|| missing("TagSpecification.ResourceType"))?;
        let kind = text(kind, "TagSpecification.ResourceType")?;
        let Some(items) = spec.get("Tags") else {
            return Err(missing("TagSpecification.Tags"));
        };
        for item in list(items, "TagSpecification.Tags")? {
            let item = object(item, "TagSpecification.Tags")?;
            let key = item
                .get("Key")
                .ok_or_else(|| missing("TagSpecification.Tags.Key"))?;
            let key = text(key, "TagSpecification.Tags.Key")?;
            let value = match item.get("Value") {
                Some(value) => text(value, "TagSpecification.Tags.Value")?,
                None => String::new(),
            };
            if kind == "instance" {
                tags.push(Tag { key, value });
            }
        }
    }
    Ok(tags)
}

/// `ActionTimer`: its termination time, at least 5 minutes after `now`.
fn action_timer(timer: &Value, now: i64) -> Result<i64, ApiError> {
    let timer = object(timer, "ActionTimer")?;
    let action = timer
        .get("TimerAction")
        .ok_or_else(|| missing("ActionTimer.TimerAction"))?;
    let action = text(action, "ActionTimer.TimerAction")?;
    if action != "TerminateInstances" {
        return Err(invalid_value("ActionTimer.TimerAction", &action));
    }
    let at = timer
        .get("ActionTime")
        .ok_or_else(|| missing("ActionTimer.ActionTime"))?;
    let at = text(at, "ActionTimer.ActionTime")?;
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    let parsed = time::PrimitiveDateTime::parse(&at, FORMAT)
        .map(|at| at.assume_utc().unix_timestamp())
        .map_err(|_| {
            ApiError::new(
                "InvalidParameterValue.InvalidTimeFormat",
                format!("The ActionTime `{at}` is not YYYY-MM-DDThh:mm:ssZ."),
            )
        })?;
    // Checked: near the end of the clock's range `now + 300` is past it, and every time is then too early.
    if parsed < crate::world::clock::after(now, 300) {
        return Err(ApiError::new(
            "InvalidParameterValue",
            format!("The ActionTime `{at}` must be more than 5 minutes after the current time."),
        ));
    }
    Ok(parsed)
}

/// A `DescribeInstances` filter.
enum Filter {
    Id(Vec<String>),
    Name(Vec<String>),
    State(Vec<String>),
    Zone(Vec<String>),
    Charge(Vec<String>),
    TagKey(Vec<String>),
    TagValue(Vec<String>),
    Tag(String, Vec<String>),
}

impl Filter {
    fn keeps(&self, instance: &Instance, zone: &str) -> bool {
        let any = |values: &[String], value: &str| values.iter().any(|v| v == value);
        match self {
            Filter::Id(values) => any(values, &instance.id),
            Filter::Name(values) => any(values, &display_name(instance)),
            Filter::State(values) => any(values, &World::shown_state(instance).name()),
            Filter::Zone(values) => any(values, zone),
            Filter::Charge(values) => any(values, &charge_name(instance.charge)),
            Filter::TagKey(values) => instance.tags.iter().any(|tag| any(values, &tag.key)),
            Filter::TagValue(values) => instance.tags.iter().any(|tag| any(values, &tag.value)),
            Filter::Tag(key, values) => instance
                .tags
                .iter()
                .any(|tag| tag.key == *key && any(values, &tag.value)),
        }
    }
}

/// The `Filters` parameter: at most 10, of at most 5 values each.
fn filters(params: &ActionParams) -> Result<Vec<Filter>, ApiError> {
    let Some(given) = params.values.get("Filters") else {
        return Ok(Vec::new());
    };
    let given = list(given, "Filters")?;
    if given.len() > 10 {
        return Err(ApiError::new(
            "InvalidFilterValue.LimitExceeded",
            format!("{} filters: at most 10 per request.", given.len()),
        ));
    }
    given
        .iter()
        .map(|filter| {
            let filter = object(filter, "Filters")?;
            let name = filter.get("Name").ok_or_else(|| missing("Filters.Name"))?;
            let name = text(name, "Filters.Name")?;
            let values = filter
                .get("Values")
                .ok_or_else(|| missing("Filters.Values"))?;
            let values = list(values, "Filters.Values")?
                .iter()
                .map(|value| text(value, "Filters.Values"))
                .collect::<Result<Vec<_>, _>>()?;
            if values.len() > 5 {
                return Err(ApiError::new(
                    "InvalidFilterValue.LimitExceeded",
                    format!("The filter `{name}` has {} values: at most 5.", values.len()),
                ));
            }
            Ok(match name.as_str() {
                "instance-id" => Filter::Id(values),
                "instance-name" => Filter::Name(values),
                "instance-state" => Filter::State(values),
                "zone" => Filter::Zone(values),
                "instance-charge-type" => Filter::Charge(values),
                "tag-key" => Filter::TagKey(values),
                "tag-value" => Filter::TagValue(values),
                other => match other.strip_prefix("tag:") {
                    Some(key) if !key.is_empty() => Filter::Tag(key.to_owned(), values),
                    _ if UNSERVED_FILTERS.contains(&other) => {
                        return Err(ApiError::new(
                            "InvalidFilter",
                            format!(
                                "The filter `{other}` is documented but terminus does not serve it; it serves instance-id, instance-name, instance-state, zone, instance-charge-type, tag-key, tag-value and tag:<key>."
                            ),
                        ));
                    }
                    _ => {
                        return Err(ApiError::new(
                            "InvalidFilter",
                            format!("The filter `{other}` is not valid."),
                        ));
                    }
                },
            })
        })
        .collect()
}

/// `Offset` and `Limit` (1 to 100, default 20).
fn page(params: &ActionParams) -> Result<(usize, usize), ApiError> {
    let offset = params.integer("Offset")?.unwrap_or(0);
    let limit = params.integer("Limit")?.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(invalid_value("Limit", &limit.to_string()));
    }
    Ok((
        usize::try_from(offset).unwrap_or(usize::MAX),
        limit as usize,
    ))
}

/// The caller's listed instances in the region, by `InstanceIds` (format-checked, at most 100) and filters.
fn listed<'a>(
    world: &'a World,
    owner: &str,
    region: &str,
    ids: Option<&[String]>,
    filters: &[Filter],
) -> Result<Vec<&'a Instance>, ApiError> {
    if let Some(ids) = ids {
        crate::world::refusal::check_size(ids, crate::world::rules::MAX_BATCH)
            .map_err(|too_large| refusal(too_large.into()))?;
        ids.iter()
            .try_for_each(|id| crate::world::rules::check_instance_id(id))
            .map_err(refusal)?;
    }
    Ok(world
        .spec()
        .instances
        .iter()
        .filter(|instance| world.region_of(instance) == region && World::listed(instance))
        .filter(|instance| {
            instance
                .owner
                .as_deref()
                .unwrap_or_else(|| first_owner(world))
                == owner
        })
        .filter(|instance| ids.is_none_or(|ids| ids.contains(&instance.id)))
        .filter(|instance| {
            let zone = zone_of(world, instance);
            filters.iter().all(|filter| filter.keeps(instance, &zone))
        })
        .collect())
}

fn first_owner(world: &World) -> &str {
    world
        .spec()
        .accounts
        .first()
        .map_or("", |account| account.owner.as_str())
}

fn describe(
    region: Option<&str>,
    params: &ActionParams,
    owner: &str,
    world: &World,
) -> Result<Map<String, Value>, ApiError> {
    params.only(&["InstanceIds", "Filters", "Offset", "Limit"])?;
    let ids = params.strings("InstanceIds")?;
    let filters = filters(params)?;
    if ids.is_some() && params.values.contains_key("Filters") {
        return Err(ApiError::new(
            "InvalidParameter",
            "InstanceIds and Filters cannot be given together.",
        ));
    }
    let (offset, limit) = page(params)?;
    let region = check_region(region, false)?;
    let found = listed(world, owner, region, ids.as_deref(), &filters)?;
    let set: Vec<Value> = found
        .iter()
        .skip(offset)
        .take(limit)
        .map(|instance| instance_json(world, instance))
        .collect();
    let mut fields = Map::new();
    fields.insert("TotalCount".into(), Value::from(found.len()));
    fields.insert("InstanceSet".into(), Value::Array(set));
    Ok(fields)
}

fn status(
    region: Option<&str>,
    params: &ActionParams,
    owner: &str,
    world: &World,
) -> Result<Map<String, Value>, ApiError> {
    params.only(&["InstanceIds", "Offset", "Limit"])?;
    let ids = params.strings("InstanceIds")?;
    let (offset, limit) = page(params)?;
    let region = check_region(region, false)?;
    let found = listed(world, owner, region, ids.as_deref(), &[])?;
    let set: Vec<Value> = found
        .iter()
        .skip(offset)
        .take(limit)
        .map(|instance| {
            json!({
                "InstanceId": instance.id,
                "InstanceState": World::shown_state(instance).name(),
            })
        })
        .collect();
    let mut fields = Map::new();
    fields.insert("TotalCount".into(), Value::from(found.len()));
    fields.insert("InstanceStatusSet".into(), Value::Array(set));
    Ok(fields)
}

fn zone_of(world: &World, instance: &Instance) -> String {
    instance
        .zone
        .as_deref()
        .map_or_else(|| format!("{}-1", world.region_of(instance)), str::to_owned)
}

fn display_name(instance: &Instance) -> String {
    instance.name.as_deref().unwrap_or("Unnamed").to_owned()
}

fn charge_name(charge: ChargeType) -> String {
    serde_json::to_value(charge)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// An ISO 8601 UTC time as the API writes it: `2022-09-06T03:07:37Z`.
fn iso_time(unix: i64) -> Value {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|at| at.format(FORMAT).ok())
        .map_or(Value::Null, Value::from)
}

/// 64 bits derived from an instance id: its Uuid, disk id and private address are the same on every run.
fn digest(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A UUID version 4 drawn from `hash`, as the recorded `Uuid`s look (`9683a76c-12cb-45f5-b7e9-70ae917a6ae4`).
fn uuid(hash: u64) -> String {
    let other = digest(&format!("{hash:x}"));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        hash >> 32,
        (hash >> 16) & 0xffff,
        hash & 0xfff,
        8 + (other >> 62),
        (other >> 48) & 0xfff,
        other & 0xffff_ffff_ffff
    )
}

/// An instance as `DescribeInstances` shows it: the fields and order of the recorded answers (real-wire.md
/// C7N-06, C7N-17), with values terminus does not model at the recorded ones, then the fields the pinned Python
/// SDK's `Instance` model (3.1.195) declares that the recordings do not show, each with what an instance made as
/// terminus makes it would have: null for what it does not have, `false` for a switch it does not turn on. The
/// recordings' `PlatformProjectId`, `SystemDisk.ThroughputPerformance` and `tagKey`/`tagValue` are sent although
/// the SDK no longer declares them (it warns and reads on): the real API sends them. `OperatorUin` is not: one
/// recording has it (C7N-17), another of the same month not (C7N-06).
fn instance_json(world: &World, instance: &Instance) -> Value {
    let hash = digest(&instance.id);
    let instance_type = instance.instance_type.as_deref().unwrap_or("S5.MEDIUM4");
    let (cpu, memory) = cpu_and_memory(instance_type).unwrap_or((2, 4));
    let state = World::shown_state(instance);
    let hex = format!("{hash:016x}");
    let mut public: Vec<String> = instance
        .eip
        .iter()
        .filter(|eip| !eip.released)
        .filter_map(|eip| eip.address.clone())
        .collect();
    let own_address = instance.public_address();
    // The charge type shows only while an address is held (C7N-06: `null` when stopped without charging; C7N-17:
    // `null` with no bandwidth).
    let internet_charge = match (&instance.internet, &own_address) {
        (Some(internet), Some(_)) => Value::from(internet.charge_type.clone()),
        _ => Value::Null,
    };
    let bandwidth = instance
        .internet
        .as_ref()
        .map_or(0, |internet| internet.max_bandwidth_out);
    if public.is_empty() {
        public.extend(own_address);
    }
    let operation = instance.latest_operation.as_ref();
    let prepaid = instance.charge == ChargeType::Prepaid;
    // In three parts: one `json!` of every field is past the macro's recursion limit.
    let mut fields = json!({
        "Placement": {
            "Zone": zone_of(world, instance),
            "HostId": null,
            "ProjectId": 0,
            "HostIds": null,
            "DedicatedResourcePackTenancy": null,
            "DedicatedResourcePackIds": null,
            "RackId": null,
        },
        "InstanceId": instance.id,
        "Uuid": uuid(hash),
        "InstanceState": state.name(),
        "RestrictState": "NORMAL",
        "InstanceType": instance_type,
        "CPU": cpu,
        "Memory": memory,
        "InstanceName": display_name(instance),
        "InstanceChargeType": charge_name(instance.charge),
        "SystemDisk": {
            "DiskType": "CLOUD_BSSD",
            "DiskId": format!("disk-{}", &hex[..8]),
            "DiskSize": 50,
            "Encrypt": false,
            "KmsKeyId": null,
            "ThroughputPerformance": 0,
            "CdcId": null,
            "DiskName": null,
        },
    });
    let disks_to_login = json!({
        // The recorded data disk's eight fields (C7N-17: a 10 GB CLOUD_PREMIUM disk), then the SDK's other three;
        // the disks' states are read through the control API.
        "DataDisks": instance.data_disks.iter()
            .filter(|disk| disk.state != DiskState::Released)
            .map(|disk| json!({
                "DiskType": "CLOUD_PREMIUM",
                "DiskId": disk.id,
                "DiskSize": 10,
                "DeleteWithInstance": false,
                "Encrypt": false,
                "KmsKeyId": null,
                "ThroughputPerformance": 0,
                "CdcId": null,
                "SnapshotId": null,
                "BurstPerformance": false,
                "DiskName": null,
            }))
            .collect::<Vec<_>>(),
        "PrivateIpAddresses": [format!("10.0.{}.{}", (hash >> 8) & 0xff, (hash & 0xfd) + 2)],
        "PublicIpAddresses": if public.is_empty() { Value::Null } else { json!(public) },
        "IPv6Addresses": null,
        "InternetAccessible": {
            "InternetMaxBandwidthOut": bandwidth,
            "InternetChargeType": internet_charge,
            // Documented as a parameter of RunInstances only.
            "PublicIpAssigned": null,
            "BandwidthPackageId": null,
            "InternetServiceProvider": null,
            "IPv4AddressType": null,
            "IPv6AddressType": null,
            "AntiDDoSPackageId": null,
        },
        "VirtualPrivateCloud": {
            "VpcId": "vpc-2hxl6jir",
            "SubnetId": "subnet-gnl4awp6",
            "AsVpcGateway": false,
            "PrivateIpAddresses": null,
            "Ipv6AddressCount": null,
        },
        "SecurityGroupIds": [],
        "LoginSettings": { "KeyIds": null, "Password": null, "KeepImageLogin": null },
    });
    let rest = json!({
        "ImageId": instance.image_id.as_deref().unwrap_or("img-eb30mz89"),
        "OsName": instance.os,
        "DefaultLoginUser": "root",
        "DefaultLoginPort": 22,
        "RenewFlag": if prepaid { Value::from("NOTIFY_AND_MANUAL_RENEW") } else { Value::Null },
        "CreatedTime": instance.created.map_or(Value::Null, iso_time),
        "ExpiredTime": instance.expires.filter(|_| prepaid).map_or(Value::Null, iso_time),
        "Tags": instance.tags.iter()
            .map(|tag| json!({ "tagKey": tag.key, "tagValue": tag.value, "Key": tag.key, "Value": tag.value }))
            .collect::<Vec<_>>(),
        "PlatformProjectId": null,
        "DisasterRecoverGroupId": "",
        "DedicatedClusterId": "",
        "CamRoleName": "",
        "LatestOperation": operation.map(|op| op.action.clone()),
        "LatestOperationState": operation.map(|op| op.state.clone()),
        "LatestOperationRequestId": operation.and_then(|op| op.request_id.clone()),
        "IsolatedSource": if state == InstanceState::Shutdown { "MANMADE" } else { "NOTISOLATED" },
        "HpcClusterId": "",
        "DisableApiTermination": instance.protected,
        "RdmaIpAddresses": null,
        "LicenseType": "TencentCloud",
        "StopChargingMode": if instance.stop_charging && state == InstanceState::Stopped { "STOP_CHARGING" } else { "NOT_APPLICABLE" },
        "DisasterRecoverGroupIds": null,
        "GPUInfo": null,
        "HostName": null,
        "LatestOperationErrorMsg": null,
        "EnableJumboFrame": false,
        "Metadata": null,
        "PublicIPv6Addresses": null,
        "CpuTopology": null,
        "PartitionNumber": null,
    });
    if let Some(map) = fields.as_object_mut() {
        for part in [disks_to_login, rest] {
            if let Value::Object(part) = part {
                map.extend(part);
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_and_memory_read_as_the_recorded_types() {
        // real-wire.md C7N-06: SA2.MEDIUM4 is CPU 2, Memory 4; C7N-14: S3.MEDIUM2 is 2 and 2.
        assert_eq!(cpu_and_memory("SA2.MEDIUM4"), Some((2, 4)));
        assert_eq!(cpu_and_memory("S3.MEDIUM2"), Some((2, 2)));
        assert_eq!(cpu_and_memory("S5.SMALL1"), Some((1, 1)));
        assert_eq!(cpu_and_memory("S5.LARGE8"), Some((4, 8)));
        assert_eq!(cpu_and_memory("S5.2XLARGE16"), Some((8, 16)));
        assert_eq!(cpu_and_memory("S5"), None);
        assert_eq!(cpu_and_memory("S5.HUGE4"), None);
        assert_eq!(cpu_and_memory("S5.MEDIUM"), None);
        assert_eq!(cpu_and_memory("S5.99999999999999999999XLARGE4"), None);
    }
}
