//! `TerminateInstances` (Version 2017-03-12) as API 3.0 and the legacy 2.0 gateway both serve it, once: its
//! parameters in the documented precedence (unknown names, types, presence), then the region, then the world's
//! rules, all or nothing. Each endpoint authenticates, admits and reads the region its own way.

use serde_json::{Map, Value};

use super::codes::missing;
use super::wire::{ApiError, Parameters};
use crate::world::World;
use crate::world::rules::{Refusal, Terminate};

/// Terminates the instances `params` names for `secret_id`, on the locked world; `region` reads and checks the
/// request's region (after the parameters, as the precedence has it), `refusal` names a refusal of the rules in
/// the endpoint's codes.
pub(crate) fn terminate_instances<'r>(
    params: &impl Parameters,
    secret_id: &str,
    world: &mut World,
    region: impl FnOnce() -> Result<&'r str, ApiError>,
    refusal: impl FnOnce(Refusal) -> ApiError,
) -> Result<Map<String, Value>, ApiError> {
    params.only(&["InstanceIds", "ReleaseAddress", "ReleasePrepaidDataDisks"])?;
    let ids = params
        .strs("InstanceIds")?
        .ok_or_else(|| missing("InstanceIds"))?;
    let release_address = params.boolean("ReleaseAddress")?.unwrap_or(false);
    let release_prepaid_data_disks = params.boolean("ReleasePrepaidDataDisks")?.unwrap_or(false);
    let call = Terminate {
        secret_id,
        region: region()?,
        instance_ids: &ids,
        release_address,
        release_prepaid_data_disks,
    };
    world.terminate(&call).map_err(refusal)?;
    Ok(Map::new())
}
