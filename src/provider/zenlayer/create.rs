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
//! is `instanceIdSet`, as the SDK's `CreateInstancesResponse` reads it, and `orderNumber`, as the documentation's
//! example answer has it (real-wire.md ZEN-DOC-02: `"instanceIdSet" : ["1234567654321"], "orderNumber":
//! "1234567654321"`; terminus's is 13 digits drawn from the ids created, the same for the same seed).
//!
//! A zone that does not exist is 404 `INVALID_ZONE_NOT_FOUND` with the documentation's example message (ZEN-DOC-01:
//! ``The specified zoneId `SEL--A` is not found``). Zenlayer publishes no zone list terminus can read, so a zone
//! exists when it has the documented ids' form, a city code of three capital letters, `-` and a capital letter
//! (`HKG-A`, `SEL-A`, `FRA-A`); the example's `SEL--A` does not.

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
    if !zone_exists(zone) {
        return Err(ApiError::new(
            wire::ZONE_NOT_FOUND,
            format!("The specified zoneId `{zone}` is not found"),
        ));
    }
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
    let order = order_number(&ids);
    fields.insert("instanceIdSet".into(), json!(ids));
    fields.insert("orderNumber".into(), json!(order));
    Ok(fields)
}

/// Whether a zone id has the documented form: `HKG-A`.
fn zone_exists(zone: &str) -> bool {
    let bytes = zone.as_bytes();
    bytes.len() == 5
        && bytes[..3].iter().all(u8::is_ascii_uppercase)
        && bytes[3] == b'-'
        && bytes[4].is_ascii_uppercase()
}

/// A 13-digit order number, as the documentation's example (`1234567654321`), drawn from the ids it created.
fn order_number(ids: &[String]) -> String {
    let hash = ids
        .iter()
        .flat_map(|id| id.bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    format!("{}", 1_000_000_000_000 + hash % 9_000_000_000_000)
}
