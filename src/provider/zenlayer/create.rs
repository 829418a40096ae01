//! Zenlayer Bare Metal `CreateInstances` (2022-11-20): what a lifecycle test needs to have something to terminate.
//!
//! Parameters are the official Python SDK's `CreateInstancesRequest` (`zenlayercloud/bmc/v20221120/models.py`).
//! Modelled: `zoneId`, `instanceTypeId` (both required), `imageId` or `ipxeUrl` (one is required: an instance
//! needs something to boot), `instanceChargeType` (`POSTPAID`, the default, or `PREPAID` with
//! `instanceChargePrepaid.period` in months), `instanceName`, `amount` (1 to 100, default 1). Accepted without
//! effect, since nothing terminus answers shows them: `hostname`, `password`, `sshKeys`, `keyId`,
//! `internetChargeType`, `internetMaxBandwidthOut`. The others are refused as not modelled, as this provider's
//! `DescribeInstances` does. A created instance is `CREATING` (so `TerminateInstance` is
//! `OPERATION_DENIED_INSTANCE_CREATING`) until the lifecycle's launch timing has passed, then `RUNNING`; the answer
//! is `instanceIdSet`, as the SDK's `CreateInstancesResponse` reads it.

use serde_json::{Map, Value, json};

use super::mock::Caller;
use super::wire::{self, ApiError, Params, missing};
use crate::world::World;
use crate::world::bmc::BmcCharge;
use crate::world::lifecycle::BmcLaunch;

const MODELLED: [&str; 8] = [
    "amount",
    "zoneId",
    "instanceTypeId",
    "imageId",
    "ipxeUrl",
    "instanceChargeType",
    "instanceChargePrepaid",
    "instanceName",
];

const WITHOUT_EFFECT: [&str; 6] = [
    "hostname",
    "password",
    "sshKeys",
    "keyId",
    "internetChargeType",
    "internetMaxBandwidthOut",
];

const NOT_MODELLED: [&str; 12] = [
    "resourceGroupId",
    "trafficPackageSize",
    "subnetId",
    "clusterId",
    "raidConfig",
    "partitions",
    "nic",
    "marketingOptions",
    "userData",
    "enableGatewayMode",
    "tags",
    "instanceIdSet",
];

/// Answers `CreateInstances`.
pub(super) fn create(
    request: &crate::message::Request,
    caller: &Caller,
    world: &mut World,
) -> Result<Map<String, Value>, ApiError> {
    let params = Params::from_json(&request.body)?;
    let known: Vec<&str> = MODELLED
        .iter()
        .chain(&WITHOUT_EFFECT)
        .chain(&NOT_MODELLED)
        .copied()
        .collect();
    params.only(&known)?;
    params.not_modelled(&NOT_MODELLED)?;
    let invalid = |message: String| ApiError::new(wire::INVALID_PARAMETER, message);
    let zone = params
        .string("zoneId")?
        .filter(|zone| !zone.is_empty())
        .ok_or_else(|| missing("zoneId"))?;
    let instance_type = params
        .string("instanceTypeId")?
        .filter(|kind| !kind.is_empty())
        .ok_or_else(|| missing("instanceTypeId"))?;
    let image_id = params.string("imageId")?.map(str::to_owned);
    if image_id.is_none() && params.string("ipxeUrl")?.is_none() {
        return Err(missing("imageId"));
    }
    let charge = match params.string("instanceChargeType")? {
        None | Some("POSTPAID") => BmcCharge::Postpaid,
        Some("PREPAID") => {
            let period = params
                .object_integer("instanceChargePrepaid", "period")?
                .ok_or_else(|| missing("instanceChargePrepaid.period"))?;
            if !(1..=36).contains(&period) {
                return Err(invalid(format!(
                    "instanceChargePrepaid.period {period} is outside 1 to 36 months."
                )));
            }
            BmcCharge::Prepaid
        }
        Some(other) => {
            return Err(invalid(format!(
                "instanceChargeType `{other}` is neither PREPAID nor POSTPAID."
            )));
        }
    };
    let count = params.integer("amount")?.unwrap_or(1);
    if !(1..=100).contains(&count) {
        return Err(invalid(format!("amount {count} is outside 1 to 100.")));
    }
    let launch = BmcLaunch {
        zone: zone.to_owned(),
        instance_type: instance_type.to_owned(),
        image_id,
        charge,
        name: params.string("instanceName")?.map(str::to_owned),
        count: count as u32,
    };
    let ids = world.bmc().create(&caller.owner, &launch);
    let mut fields = Map::new();
    fields.insert("instanceIdSet".into(), json!(ids));
    Ok(fields)
}
