//! The Tag API (`tag.tencentcloudapi.com`, Version 2018-08-13) on CVM instances: `TagResources`,
//! `UnTagResources`, `ModifyResourceTags`, `GetResources` and `GetTags`, the calls tools make to mark instances for a
//! later action (Cloud Custodian's `mark-for-op`). The wire only; the tags are the instances' own
//! ([`crate::world::Instance::tags`]), so a tag added here shows in `DescribeInstances` and its `tag:` filters, and
//! the reverse.
//!
//! Parameters, types and limits are the pinned Python SDK's models (`tencentcloud/tag/v20180813/models.py`), codes
//! its `errorcodes.py` for the product (3.1.195); the messages are terminus's, as the SDK gives each code a Chinese
//! description only. Each choice:
//!
//! - A resource is named as the API names it, the six-segment form `qcs::cvm:<region>:uin/<owner>:instance/<id>`.
//!   Another shape is `InvalidParameterValue.ResourceDescriptionError`; another service than `cvm`
//!   `InvalidParameterValue.ServiceTypeInvalid`; another prefix than `instance`
//!   `InvalidParameterValue.ResourcePrefixInvalid`; another account than the caller's
//!   `InvalidParameterValue.UinInvalid`; a region CVM does not have `InvalidParameterValue.RegionInvalid`.
//! - An instance the caller does not hold there: for `ModifyResourceTags` (one resource)
//!   `InvalidParameterValue.ResourceIdInvalid`; for `TagResources` and `UnTagResources` (a list) an entry of
//!   `FailedResources` with that code, the others done, as the response model's `FailedResources` says.
//! - Keys: not empty (`InvalidParameterValue.TagKeyEmpty`), at most 127 characters, values at most 255
//!   (`…TagKeyLengthExceeded`, `…TagValueLengthExceeded`: the Tag documentation's limits), not starting with the
//!   reserved `qcloud`, `tencent` or `project` (`InvalidParameterValue.ReservedTagKey`), not twice in one call
//!   (`…TagKeyDuplicate`); at most 10 resources and 10 tags a call (`LimitExceeded.ResourceNumPerRequest`,
//!   `LimitExceeded.TagNumPerRequest`), at most 50 tags an instance (`LimitExceeded.ResourceAttachedTags`).
//! - `ModifyResourceTags`: `ReplaceTags` or `DeleteTags` (`MissingParameter`), never the same key in both
//!   (`InvalidParameterValue.DeleteTagsParamError`).
//! - `GetResources`: the caller's instances that carry tags, in every region, or those `ResourceList` names;
//!   `TagFilters` (at most 6, `InvalidParameterValue.TagFiltersLengthExceeded`) keep those with every filter's key
//!   and, when it lists values, one of them. `GetTags`: the distinct key/value pairs of the caller's instances,
//!   optionally of `TagKeys` only. Both page with `MaxResults` (default 50, at most 200 and 1000) and a
//!   `PaginationToken` that is the next page's start (`InvalidParameter.PaginationTokenInvalid` otherwise); the last
//!   page's token is empty. Tags are `Custom` (`Category`).

use serde_json::{Map, Value, json};

use super::codes::missing;
use super::wire::{ActionParams, ApiError, OTHER_CVM_REGIONS, SUPPORTED_REGIONS};
use crate::world::World;
use crate::world::lifecycle::Tag;

/// The Tag API's version.
pub(super) const VERSION: &str = "2018-08-13";

/// The actions served.
pub(super) const ACTIONS: [&str; 5] = [
    "TagResources",
    "UnTagResources",
    "ModifyResourceTags",
    "GetResources",
    "GetTags",
];

const MAX_RESOURCES: usize = 10;
const MAX_TAGS: usize = 10;
const MAX_ATTACHED: usize = 50;
const MAX_KEY: usize = 127;
const MAX_VALUE: usize = 255;
const RESERVED: [&str; 3] = ["qcloud", "tencent", "project"];

/// Answers one of [`ACTIONS`] for `owner`.
pub(super) fn handle(
    action: &str,
    params: &ActionParams,
    owner: &str,
    world: &mut World,
) -> Result<Map<String, Value>, ApiError> {
    match action {
        "TagResources" => {
            params.only(&["ResourceList", "Tags"])?;
            let resources = resource_list(params, owner)?;
            let tags = tags(params, "Tags")?.ok_or_else(|| missing("Tags"))?;
            each(resources, world, owner, |held| {
                for tag in &tags {
                    match held.iter_mut().find(|mine| mine.key == tag.key) {
                        Some(mine) => mine.value.clone_from(&tag.value),
                        None => held.push(tag.clone()),
                    }
                }
                attached_within_limit(held)
            })
        }
        "UnTagResources" => {
            params.only(&["ResourceList", "TagKeys"])?;
            let resources = resource_list(params, owner)?;
            let keys = params
                .strings("TagKeys")?
                .ok_or_else(|| missing("TagKeys"))?;
            check_count(
                keys.len(),
                MAX_TAGS,
                "LimitExceeded.TagNumPerRequest",
                "tag keys",
            )?;
            each(resources, world, owner, |held| {
                held.retain(|tag| !keys.contains(&tag.key));
                Ok(())
            })
        }
        "ModifyResourceTags" => modify(params, owner, world),
        "GetResources" => get_resources(params, owner, world),
        _ => get_tags(params, owner, world),
    }
}

/// A CVM instance named by its six segments.
struct Resource {
    name: String,
    region: String,
    id: String,
}

fn resource(name: &str, owner: &str) -> Result<Resource, ApiError> {
    let invalid = |code: &str, what: &str| {
        ApiError::new(
            code,
            format!("The resource `{name}` {what}: qcs::cvm:<region>:uin/<owner>:instance/<id>."),
        )
    };
    let segments: Vec<&str> = name.split(':').collect();
    let [qcs, "", service, region, account, kind_and_id] = segments[..] else {
        return Err(invalid(
            "InvalidParameterValue.ResourceDescriptionError",
            "is not a six-segment resource description",
        ));
    };
    if qcs != "qcs" {
        return Err(invalid(
            "InvalidParameterValue.ResourceDescriptionError",
            "does not start with qcs",
        ));
    }
    if service != "cvm" {
        return Err(invalid(
            "InvalidParameterValue.ServiceTypeInvalid",
            "is not of the service cvm, the only one terminus tags",
        ));
    }
    if !SUPPORTED_REGIONS.contains(&region) && !OTHER_CVM_REGIONS.contains(&region) {
        return Err(invalid(
            "InvalidParameterValue.RegionInvalid",
            "names a region CVM does not have",
        ));
    }
    if account.strip_prefix("uin/") != Some(owner) {
        return Err(invalid(
            "InvalidParameterValue.UinInvalid",
            "names another account than the caller's",
        ));
    }
    let Some(("instance", id)) = kind_and_id.split_once('/') else {
        return Err(invalid(
            "InvalidParameterValue.ResourcePrefixInvalid",
            "is not an instance",
        ));
    };
    Ok(Resource {
        name: name.to_owned(),
        region: region.to_owned(),
        id: id.to_owned(),
    })
}

/// The resource name of an instance.
fn name_of(world: &World, owner: &str, instance: &crate::world::Instance) -> String {
    format!(
        "qcs::cvm:{}:uin/{owner}:instance/{}",
        world.region_of(instance),
        instance.id
    )
}

fn check_count(count: usize, most: usize, code: &str, what: &str) -> Result<(), ApiError> {
    if count > most {
        return Err(ApiError::new(
            code,
            format!("{count} {what} in one request: at most {most}."),
        ));
    }
    Ok(())
}

fn resource_list(params: &ActionParams, owner: &str) -> Result<Vec<Resource>, ApiError> {
    let names = params
        .strings("ResourceList")?
        .ok_or_else(|| missing("ResourceList"))?;
    check_count(
        names.len(),
        MAX_RESOURCES,
        "LimitExceeded.ResourceNumPerRequest",
        "resources",
    )?;
    names.iter().map(|name| resource(name, owner)).collect()
}

fn not_held(resource: &Resource) -> ApiError {
    ApiError::new(
        "InvalidParameterValue.ResourceIdInvalid",
        format!(
            "The resource `{}` is not an instance of the caller.",
            resource.name
        ),
    )
}

fn attached_within_limit(held: &[Tag]) -> Result<(), ApiError> {
    check_count(
        held.len(),
        MAX_ATTACHED,
        "LimitExceeded.ResourceAttachedTags",
        "tags on one resource",
    )
}

/// Applies `change` to each resource's tags; a resource not held, or whose change is refused, is listed in
/// `FailedResources` and left as it was.
fn each(
    resources: Vec<Resource>,
    world: &mut World,
    owner: &str,
    mut change: impl FnMut(&mut Vec<Tag>) -> Result<(), ApiError>,
) -> Result<Map<String, Value>, ApiError> {
    let mut failed = Vec::new();
    for resource in resources {
        let outcome = match world.instance_tags_mut(owner, &resource.region, &resource.id) {
            None => Err(not_held(&resource)),
            Some(held) => {
                let mut changed = held.clone();
                change(&mut changed).map(|()| *held = changed)
            }
        };
        if let Err(error) = outcome {
            failed.push(
                json!({ "Resource": resource.name, "Code": error.code, "Message": error.message }),
            );
        }
    }
    let mut fields = Map::new();
    fields.insert("FailedResources".into(), Value::Array(failed));
    Ok(fields)
}

/// A list of `{TagKey, TagValue}` checked for the documented limits.
fn tags(params: &ActionParams, name: &str) -> Result<Option<Vec<Tag>>, ApiError> {
    let Some(items) = params.values.get(name) else {
        return Ok(None);
    };
    let wrong = || {
        ApiError::new(
            "InvalidParameter",
            format!("The parameter `{name}` must be an array of {{TagKey, TagValue}}."),
        )
    };
    let items = items.as_array().ok_or_else(wrong)?;
    check_count(
        items.len(),
        MAX_TAGS,
        "LimitExceeded.TagNumPerRequest",
        "tags",
    )?;
    let mut tags: Vec<Tag> = Vec::with_capacity(items.len());
    for item in items {
        let item = item.as_object().ok_or_else(wrong)?;
        let text = |field: &str| match item.get(field) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(wrong()),
        };
        let key = text("TagKey")?.unwrap_or_default();
        let value = text("TagValue")?.unwrap_or_default();
        check_key(&key)?;
        if value.chars().count() > MAX_VALUE {
            return Err(ApiError::new(
                "InvalidParameterValue.TagValueLengthExceeded",
                format!("The value of the tag `{key}` is longer than {MAX_VALUE} characters."),
            ));
        }
        if tags.iter().any(|tag| tag.key == key) {
            return Err(ApiError::new(
                "InvalidParameterValue.TagKeyDuplicate",
                format!("The tag key `{key}` is given twice."),
            ));
        }
        tags.push(Tag { key, value });
    }
    Ok(Some(tags))
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() {
        return Err(ApiError::new(
            "InvalidParameterValue.TagKeyEmpty",
            "A tag key is empty.",
        ));
    }
    if key.chars().count() > MAX_KEY {
        return Err(ApiError::new(
            "InvalidParameterValue.TagKeyLengthExceeded",
            format!("The tag key `{key}` is longer than {MAX_KEY} characters."),
        ));
    }
    if RESERVED.iter().any(|reserved| {
        key.len() >= reserved.len() && key[..reserved.len()].eq_ignore_ascii_case(reserved)
    }) {
        return Err(ApiError::new(
            "InvalidParameterValue.ReservedTagKey",
            format!("The tag key `{key}` starts with a reserved word (qcloud, tencent, project)."),
        ));
    }
    Ok(())
}

fn modify(
    params: &ActionParams,
    owner: &str,
    world: &mut World,
) -> Result<Map<String, Value>, ApiError> {
    params.only(&["Resource", "ReplaceTags", "DeleteTags"])?;
    let name = match params.values.get("Resource") {
        Some(Value::String(name)) => name.clone(),
        Some(_) => {
            return Err(ApiError::new(
                "InvalidParameter",
                "The parameter `Resource` must be a string.",
            ));
        }
        None => return Err(missing("Resource")),
    };
    let resource = resource(&name, owner)?;
    let replace = tags(params, "ReplaceTags")?;
    let delete: Option<Vec<String>> = match params.values.get("DeleteTags") {
        None => None,
        Some(items) => {
            let wrong = || {
                ApiError::new(
                    "InvalidParameter",
                    "The parameter `DeleteTags` must be an array of {TagKey}.",
                )
            };
            let items = items.as_array().ok_or_else(wrong)?;
            check_count(
                items.len(),
                MAX_TAGS,
                "LimitExceeded.TagNumPerRequest",
                "tags",
            )?;
            Some(
                items
                    .iter()
                    .map(|item| {
                        item.get("TagKey")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                            .ok_or_else(wrong)
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
    };
    if replace.is_none() && delete.is_none() {
        return Err(missing("ReplaceTags"));
    }
    let (replace, delete) = (replace.unwrap_or_default(), delete.unwrap_or_default());
    if let Some(both) = replace.iter().find(|tag| delete.contains(&tag.key)) {
        return Err(ApiError::new(
            "InvalidParameterValue.DeleteTagsParamError",
            format!(
                "The tag key `{}` is both in ReplaceTags and in DeleteTags.",
                both.key
            ),
        ));
    }
    let held = world
        .instance_tags_mut(owner, &resource.region, &resource.id)
        .ok_or_else(|| not_held(&resource))?;
    let mut changed = held.clone();
    changed.retain(|tag| !delete.contains(&tag.key));
    for tag in replace {
        match changed.iter_mut().find(|mine| mine.key == tag.key) {
            Some(mine) => mine.value = tag.value,
            None => changed.push(tag),
        }
    }
    attached_within_limit(&changed)?;
    *held = changed;
    Ok(Map::new())
}

/// `MaxResults` (default 50, at most `most`) and the page's start from `PaginationToken`.
fn page(params: &ActionParams, most: u64) -> Result<(usize, usize), ApiError> {
    let limit = match params.values.get("MaxResults") {
        None => 50,
        Some(value) => value
            .as_u64()
            .or_else(|| value.as_str().and_then(|text| text.parse().ok()))
            .filter(|limit| (1..=most).contains(limit))
            .ok_or_else(|| {
                ApiError::new(
                    "InvalidParameter",
                    format!("The parameter `MaxResults` must be an integer from 1 to {most}."),
                )
            })?,
    };
    let start = match params.values.get("PaginationToken") {
        None => 0,
        Some(Value::String(token)) if token.is_empty() => 0,
        Some(Value::String(token)) => token.parse().map_err(|_| {
            ApiError::new(
                "InvalidParameter.PaginationTokenInvalid",
                format!("The PaginationToken `{token}` is not one this API gave."),
            )
        })?,
        Some(_) => {
            return Err(ApiError::new(
                "InvalidParameter.PaginationTokenInvalid",
                "The PaginationToken must be a string.",
            ));
        }
    };
    Ok((start, limit as usize))
}

/// The page of `items` from `start`, and the next page's token (empty on the last page).
fn paged(items: Vec<Value>, start: usize, limit: usize) -> (Vec<Value>, String) {
    let end = start.saturating_add(limit);
    let token = if end < items.len() {
        end.to_string()
    } else {
        String::new()
    };
    (items.into_iter().skip(start).take(limit).collect(), token)
}

fn tag_json(tag: &Tag) -> Value {
    json!({ "TagKey": tag.key, "TagValue": tag.value, "Category": "Custom" })
}

fn get_resources(
    params: &ActionParams,
    owner: &str,
    world: &World,
) -> Result<Map<String, Value>, ApiError> {
    params.only(&[
        "ResourceList",
        "TagFilters",
        "PaginationToken",
        "MaxResults",
    ])?;
    let named = match params.strings("ResourceList")? {
        None => None,
        Some(names) => {
            check_count(
                names.len(),
                MAX_RESOURCES,
                "LimitExceeded.ResourceNumPerRequest",
                "resources",
            )?;
            Some(
                names
                    .iter()
                    .map(|name| resource(name, owner))
                    .collect::<Result<Vec<_>, _>>()?,
            )
        }
    };
    let filters = tag_filters(params)?;
    let (start, limit) = page(params, 200)?;
    let items: Vec<Value> = world
        .tagged_resources(owner)
        .filter(|instance| match &named {
            Some(named) => named.iter().any(|resource| {
                resource.id == instance.id && resource.region == world.region_of(instance)
            }),
            None => !instance.tags.is_empty(),
        })
        .filter(|instance| {
            filters.iter().all(|(key, values)| {
                instance.tags.iter().any(|tag| {
                    &tag.key == key && (values.is_empty() || values.contains(&tag.value))
                })
            })
        })
        .map(|instance| {
            json!({
                "Resource": name_of(world, owner, instance),
                "Tags": instance.tags.iter().map(tag_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    let (set, token) = paged(items, start, limit);
    let mut fields = Map::new();
    fields.insert("PaginationToken".into(), Value::from(token));
    fields.insert("ResourceTagMappingList".into(), Value::Array(set));
    Ok(fields)
}

/// `TagFilters`: key → the values one of which it must have (none: any).
fn tag_filters(params: &ActionParams) -> Result<Vec<(String, Vec<String>)>, ApiError> {
    let Some(items) = params.values.get("TagFilters") else {
        return Ok(Vec::new());
    };
    let wrong = || {
        ApiError::new(
            "InvalidParameterValue.TagFilters",
            "TagFilters must be an array of {TagKey, TagValue: [values]}.",
        )
    };
    let items = items.as_array().ok_or_else(wrong)?;
    if items.len() > 6 {
        return Err(ApiError::new(
            "InvalidParameterValue.TagFiltersLengthExceeded",
            format!("{} tag filters: at most 6.", items.len()),
        ));
    }
    items
        .iter()
        .map(|item| {
            let key = item
                .get("TagKey")
                .and_then(Value::as_str)
                .ok_or_else(wrong)?;
            let values = match item.get("TagValue") {
                None => Vec::new(),
                Some(values) => values
                    .as_array()
                    .ok_or_else(wrong)?
                    .iter()
                    .map(|value| value.as_str().map(str::to_owned).ok_or_else(wrong))
                    .collect::<Result<_, _>>()?,
            };
            if values.len() > 10 {
                return Err(wrong());
            }
            Ok((key.to_owned(), values))
        })
        .collect()
}

fn get_tags(
    params: &ActionParams,
    owner: &str,
    world: &World,
) -> Result<Map<String, Value>, ApiError> {
    params.only(&["PaginationToken", "MaxResults", "TagKeys", "Category"])?;
    let keys = params.strings("TagKeys")?;
    if let Some(keys) = &keys {
        check_count(keys.len(), 20, "InvalidParameter", "TagKeys")?;
    }
    match params.values.get("Category").and_then(Value::as_str) {
        None | Some("Custom" | "All") => {}
        Some("System") => {
            // terminus's instances carry custom tags only.
            let mut fields = Map::new();
            fields.insert("PaginationToken".into(), Value::from(""));
            fields.insert("Tags".into(), Value::Array(Vec::new()));
            return Ok(fields);
        }
        Some(other) => {
            return Err(ApiError::new(
                "InvalidParameter",
                format!("The Category `{other}` is none of Custom, System and All."),
            ));
        }
    }
    let (start, limit) = page(params, 1000)?;
    let mut seen: Vec<&Tag> = Vec::new();
    for instance in world.tagged_resources(owner) {
        for tag in &instance.tags {
            let wanted = keys.as_ref().is_none_or(|keys| keys.contains(&tag.key));
            if wanted && !seen.contains(&tag) {
                seen.push(tag);
            }
        }
    }
    let items: Vec<Value> = seen.into_iter().map(tag_json).collect();
    let (set, token) = paged(items, start, limit);
    let mut fields = Map::new();
    fields.insert("PaginationToken".into(), Value::from(token));
    fields.insert("Tags".into(), Value::Array(set));
    Ok(fields)
}
