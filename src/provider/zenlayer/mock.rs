//! The mock's Zenlayer Bare Metal endpoint (`console.zenlayer.com`, `POST /api/v2/bmc`): ZC2-HMAC-SHA256 and
//! Bearer tokens, the action in `X-ZC-Action`, versions 2022-11-20 and 2026-02-01. Translates between the wire and
//! the world; the rules that change instances are the world's ([`crate::world::bmc`]). Header names are matched
//! without regard to case: the Python SDK sends `x-zc-action`, `host`.
//!
//! # Precedence
//!
//! Codes marked * are terminus's choice (no source documents them; see [`super::wire`]).
//!
//! 1. protocol: only POST (405 `UNSUPPORTED_HTTP_METHOD`*); only `/api/v2/bmc` (404 `INVALID_SERVICE`*); size 1 MB
//!    (413 `REQUEST_BODY_TOO_LARGE`*); `Content-Type: application/json`, parameters such as Java's
//!    `; charset=utf-8` allowed (415 `UNSUPPORTED_CONTENT_TYPE`*); a header that says one thing given twice
//!    (400 `INVALID_PARAMETER`*, 401 `AUTH_FAILURE_INVALID_AUTHORIZATION`* for `Authorization`);
//! 2. authentication (401): an `Authorization` header of scheme ZC2-HMAC-SHA256 or Bearer that reads
//!    (`AUTH_FAILURE_INVALID_AUTHORIZATION`*); for ZC2, `X-ZC-Timestamp` (400 `MISSING_PARAMETER`, 400
//!    `INVALID_PARAMETER`* when not a number) and `X-ZC-Signature-Method: ZC2-HMAC-SHA256` (400
//!    `MISSING_PARAMETER`, `AUTH_FAILURE_INVALID_AUTHORIZATION`* when another), a known AccessKeyId
//!    (`AUTH_FAILURE_ACCESS_KEY_NOT_FOUND`*), the ±5-minute window (`AUTH_FAILURE_SIGNATURE_EXPIRED`*; the window
//!    is not documented), the signature (`AUTH_FAILURE_SIGNATURE_FAILURE`*); for Bearer, a token of a known account
//!    (`AUTH_FAILURE_INVALID_TOKEN`*);
//! 3. action and version: `X-ZC-Action` (400 `MISSING_PARAMETER`, 400 `INVALID_ACTION`*), `X-ZC-Version` (400
//!    `MISSING_PARAMETER`, 400 `INVALID_VERSION`*);
//! 4. the rate limit, per account, of `TerminateInstance` (429 `REQUEST_LIMIT_EXCEEDED`; the world's
//!    `terminate-per-second`, as no number is documented);
//! 5. parameters: a JSON object with no key twice, known names, types (400 `INVALID_PARAMETER`*), presence (400
//!    `MISSING_PARAMETER`), values (ids 1 to 100 and none twice, page sizes: 400 `INVALID_PARAMETER`*, none given
//!    400 `MISSING_PARAMETER`);
//! 6. the world's rules ([`crate::world::bmc`]): existence for the caller (404 `INVALID_INSTANCE_NOT_FOUND`), the
//!    recycle bin (403 `OPERATION_DENIED_INSTANCE_RECYCLED`), creating (403 `OPERATION_DENIED_INSTANCE_CREATING`),
//!    installing (403 `OPERATION_DENIED_INSTANCE_STATUS_INSTALLING`), creation failed (deleted at once), a
//!    subscription (403 `OPERATION_DENIED_INSTANCE_SUBSCRIPTION`), the commitment period (403
//!    `OPERATION_DENIED_POSTPAID_PROMISE`); `ReleaseInstances`: existence, then the recycle bin (403
//!    `OPERATION_DENIED_INSTANCE_NOT_RECYCLED`).
//!
//! No client quirk is tolerated: every Zenlayer client signs the `Host` it sends, port included
//! (`shared/reference/clients.md`).

use std::sync::MutexGuard;

use serde_json::{Map, Value, json};

use super::PATH;
use super::wire::{self, ACTIONS, ApiError, BODY_LIMIT, MAX_SKEW, Params, VERSIONS, missing};
use crate::message::Reply;
use crate::message::Request;
use crate::provider::Problem;
use crate::signing::Secret;
use crate::signing::{self, Claim, Policy, Rejection, Scheme, Unusable, zc2};
use crate::world::SharedWorld;
use crate::world::World;
use crate::world::bmc::{BatchRefusal, BmcInstance, Describe, Refusal};

/// `DescribeInstances` filters the mock applies.
const DESCRIBE_MODELLED: [&str; 6] = [
    "instanceIds",
    "zoneId",
    "instanceStatus",
    "instanceName",
    "pageNum",
    "pageSize",
];
/// `DescribeInstances` filters the API (and the SDK's request model) has but the world does not model.
const DESCRIBE_NOT_MODELLED: [&str; 10] = [
    "resourceGroupId",
    "instanceTypeId",
    "internetChargeType",
    "imageId",
    "subnetId",
    "hostname",
    "publicIpAddresses",
    "privateIpAddresses",
    "tagKeys",
    "tags",
];
/// Largest `pageSize` (DOC-DESC).
const MAX_PAGE_SIZE: i64 = 1000;

/// Answers one request. Everything about the world (authentication against its keys and clock, rate limit, rules,
/// state change, request id) is decided in one critical section of one world ([`SharedWorld::authenticate`]).
pub(crate) fn handle(request: &Request, shared: &SharedWorld) -> Reply {
    let prepared = prepare(request);
    let (mut world, authenticated) = match &prepared {
        Err(error) => (shared.world(), Err(error.clone())),
        Ok(claim) => authenticate(request, claim, shared),
    };
    let request_id = wire::request_id(&world.next_request_id());
    // A rejected signature is explained with the key it was checked against, after the lock.
    let rejected_key = match (&prepared, &authenticated) {
        (Ok(claim), Err(error)) if error.code == wire::SIGNATURE_FAILURE => claim
            .secret_id
            .as_deref()
            .and_then(|id| world.account(id))
            .map(|account| account.secret_key.clone()),
        _ => None,
    };
    let outcome = authenticated.and_then(|secret_id| decide(request, &secret_id, &mut world));
    drop(world);
    let mut reply = match outcome {
        Ok(fields) => Reply::json(200, wire::success(&request_id, fields)),
        Err(error) => Reply::json(error.status, wire::error(&request_id, &error)),
    };
    if let (Ok(claim), Some(key)) = (&prepared, rejected_key) {
        let policy = Policy {
            max_skew: MAX_SKEW,
            service: None,
            derived_keys: false,
        };
        reply.diagnosis = Some(Box::new(claim.diagnose(request, &key, &policy)));
    }
    reply
}

/// The answer for a condition met before the handler (an injected fault, an unreadable or oversized body), after the
/// checks that come first in the precedence: the method, then the path.
pub(crate) fn problem_reply(problem: Problem, request: &Request, shared: &SharedWorld) -> Reply {
    let request_id = wire::request_id(&shared.world().next_request_id());
    let reply = |error: ApiError| Reply::json(error.status, wire::error(&request_id, &error));
    if let Err(error) = check_method_and_path(request) {
        return reply(error);
    }
    reply(match problem {
        Problem::Fault { code, message } => ApiError::new(
            code.as_deref().unwrap_or(wire::INTERNAL_SERVER_ERROR),
            message.unwrap_or_else(|| "Internal server error.".to_owned()),
        ),
        Problem::HttpFault { status, message } => {
            let code = if status == 503 {
                wire::SERVICE_UNAVAILABLE
            } else {
                wire::INTERNAL_SERVER_ERROR
            };
            ApiError::with_status(
                status,
                code,
                message.unwrap_or_else(|| "Internal server error.".to_owned()),
            )
        }
        Problem::TooLarge { limit } => ApiError::new(
            wire::REQUEST_TOO_LARGE,
            format!("The request body exceeds the limit of {limit} bytes."),
        ),
        Problem::HeaderEncoding(name) if name.eq_ignore_ascii_case("authorization") => {
            ApiError::new(
                wire::INVALID_AUTHORIZATION,
                "The Authorization header is not valid UTF-8.",
            )
        }
        Problem::HeaderEncoding(name) => ApiError::new(
            wire::INVALID_PARAMETER,
            format!("The value of header {name} is not valid UTF-8."),
        ),
        Problem::Unreadable(why) => ApiError::new(wire::INVALID_PARAMETER, why),
    })
}

/// The most body bytes read: [`BODY_LIMIT`].
pub(crate) fn body_limit(_request: &Request) -> usize {
    BODY_LIMIT
}

/// The action a request names, for fault filters; read without verifying anything.
pub(crate) fn action_of(request: &Request) -> Option<String> {
    request
        .header("x-zc-action")
        .map(|action| action.trim().to_owned())
}

/// The checks that need no world: method, path, size, headers, a readable `Authorization` of an accepted scheme.
fn prepare(request: &Request) -> Result<Claim, ApiError> {
    check_method_and_path(request)?;
    if request.body.len() > BODY_LIMIT {
        return Err(ApiError::new(
            wire::REQUEST_TOO_LARGE,
            format!("The request body exceeds the limit of {BODY_LIMIT} bytes."),
        ));
    }
    check_content_type(request)?;
    check_single_headers(request)?;
    read_claim(request)
}

/// Who a request authenticated as: the fields of its account the actions read, copied out of the locked world so
/// that the actions can change the world while they hold them.
pub(super) struct Caller {
    /// The AccessKeyId: the rate limit counts per key.
    pub(super) secret_id: String,
    /// Whose instances the caller sees and acts on.
    pub(super) owner: String,
}

/// Everything after authentication, on the locked world, for the account with this AccessKeyId.
fn decide(
    request: &Request,
    secret_id: &str,
    world: &mut World,
) -> Result<Map<String, Value>, ApiError> {
    let header = |name: &str| {
        request
            .header(name)
            .map(str::trim)
            .filter(|value| !value.is_empty())
    };
    let action = header("x-zc-action").ok_or_else(|| missing("X-ZC-Action"))?;
    if !ACTIONS.contains(&action) {
        return Err(ApiError::new(
            wire::INVALID_ACTION,
            format!("The action `{action}` does not exist in the bmc service."),
        ));
    }
    let version = header("x-zc-version").ok_or_else(|| missing("X-ZC-Version"))?;
    if !VERSIONS.contains(&version) {
        return Err(ApiError::new(
            wire::INVALID_VERSION,
            format!(
                "The API version `{version}` does not exist; the bmc service has {}.",
                VERSIONS.join(" and ")
            ),
        ));
    }
    // Authenticated on this world, in this lock (`SharedWorld::authenticate`): the account is there.
    let owner = world
        .account(secret_id)
        .map(|account| account.owner.clone())
        .ok_or_else(access_key_not_found)?;
    let caller = Caller {
        secret_id: secret_id.to_owned(),
        owner,
    };
    match action {
        "TerminateInstance" => terminate(request, &caller, world),
        "ReleaseInstances" => release(request, &caller, world),
        "CreateInstances" => super::create::create(request, &caller, world),
        _ => describe(request, &caller, world),
    }
}

fn terminate(
    request: &Request,
    caller: &Caller,
    world: &mut World,
) -> Result<Map<String, Value>, ApiError> {
    let per_second = world.spec().rate_limit.terminate_per_second;
    if !world.admit(&caller.secret_id, "TerminateInstance", per_second) {
        return Err(ApiError::new(
            wire::REQUEST_LIMIT_EXCEEDED,
            format!(
                "Request limit exceeded: at most {per_second} TerminateInstance calls per second."
            ),
        ));
    }
    let params = Params::from_json(&request.body)?;
    params.only(&["instanceId"])?;
    let id = params
        .string("instanceId")?
        .filter(|id| !id.is_empty())
        .ok_or_else(|| missing("instanceId"))?;
    world.bmc().terminate(&caller.owner, id).map_err(refusal)?;
    Ok(Map::new())
}

fn release(
    request: &Request,
    caller: &Caller,
    world: &mut World,
) -> Result<Map<String, Value>, ApiError> {
    let params = Params::from_json(&request.body)?;
    params.only(&["instanceIds"])?;
    let ids = params
        .strings("instanceIds")?
        .ok_or_else(|| missing("instanceIds"))?;
    world.bmc().release(&caller.owner, &ids).map_err(refusal)?;
    Ok(Map::new())
}

fn describe(
    request: &Request,
    caller: &Caller,
    world: &mut World,
) -> Result<Map<String, Value>, ApiError> {
    let params = Params::from_json(&request.body)?;
    let known: Vec<&str> = DESCRIBE_MODELLED
        .iter()
        .chain(&DESCRIBE_NOT_MODELLED)
        .copied()
        .collect();
    params.only(&known)?;
    params.not_modelled(&DESCRIBE_NOT_MODELLED)?;
    let ids = params.strings("instanceIds")?;
    let page_num = params.integer("pageNum")?.unwrap_or(1);
    let page_size = params.integer("pageSize")?.unwrap_or(20);
    if page_num < 1 {
        return Err(ApiError::new(
            wire::INVALID_PARAMETER,
            format!("pageNum {page_num} is less than 1."),
        ));
    }
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(ApiError::new(
            wire::INVALID_PARAMETER,
            format!("pageSize {page_size} is outside 1 to {MAX_PAGE_SIZE}."),
        ));
    }
    let filter = Describe {
        instance_ids: ids.as_deref(),
        zone: params.string("zoneId")?,
        status: params.string("instanceStatus")?,
        name: params.string("instanceName")?,
    };
    let found = world
        .bmc()
        .describe(&caller.owner, &filter)
        .map_err(refusal)?;
    let skip = ((page_num - 1) as usize).saturating_mul(page_size as usize);
    let data_set: Vec<Value> = found
        .iter()
        .skip(skip)
        .take(page_size as usize)
        .map(|instance| instance_info(instance))
        .collect();
    let mut fields = Map::new();
    fields.insert("totalCount".into(), Value::from(found.len()));
    fields.insert("dataSet".into(), Value::Array(data_set));
    Ok(fields)
}

/// An `InstanceInfo`, with the fields the world knows.
fn instance_info(instance: &BmcInstance) -> Value {
    let mut info = json!({
        "instanceId": instance.id,
        "zoneId": instance.zone,
        "instanceChargeType": instance.charge.name(),
        "instanceStatus": instance.status.name(),
    });
    if let Some(name) = &instance.name {
        info["instanceName"] = Value::from(name.clone());
    }
    info
}

/// Only POST, and only the Bare Metal service's path.
fn check_method_and_path(request: &Request) -> Result<(), ApiError> {
    let method = request.method.as_str();
    if method != "POST" {
        return Err(ApiError::new(
            wire::UNSUPPORTED_METHOD,
            format!("The HTTP method {method} is not supported; use POST."),
        ));
    }
    match request.path() {
        PATH => Ok(()),
        path => Err(ApiError::new(
            wire::INVALID_SERVICE,
            format!("No service is served at {path}; terminus serves Bare Metal at {PATH}."),
        )),
    }
}

/// `application/json`, with or without parameters (`; charset=utf-8`), whatever the case.
fn check_content_type(request: &Request) -> Result<(), ApiError> {
    let content_type = request.header("content-type").unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if media_type.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::new(
            wire::UNSUPPORTED_CONTENT_TYPE,
            format!("Content-Type {content_type:?} is not supported; use application/json."),
        ))
    }
}

/// Headers that say one thing once: given twice, which one is meant is ambiguous, so the request is refused.
fn check_single_headers(request: &Request) -> Result<(), ApiError> {
    const SINGLE: [&str; 6] = [
        "authorization",
        "content-type",
        "x-zc-action",
        "x-zc-version",
        "x-zc-timestamp",
        "x-zc-signature-method",
    ];
    match request.repeated_header(&SINGLE) {
        None => Ok(()),
        Some("authorization") => Err(ApiError::new(
            wire::INVALID_AUTHORIZATION,
            "The request carries more than one Authorization header.",
        )),
        Some(name) => Err(ApiError::new(
            wire::INVALID_PARAMETER,
            format!("The header {name} is given more than once."),
        )),
    }
}

/// Authentication, and the world locked for the decisions that follow ([`SharedWorld::authenticate`]): ZC2 (key,
/// window, signature) or Bearer (token). The short lock copies only what verification needs (the key and the clock,
/// or the enabled accounts' tokens); the outcome is the authenticated account's AccessKeyId.
fn authenticate<'a>(
    request: &Request,
    claim: &Claim,
    shared: &'a SharedWorld,
) -> (MutexGuard<'a, World>, Result<String, ApiError>) {
    if claim.scheme == Scheme::Bearer {
        return shared.authenticate(
            |world| {
                world
                    .spec()
                    .accounts
                    .iter()
                    .filter(|account| !account.disabled)
                    .filter_map(|account| {
                        let token = account.bearer_token.clone()?;
                        Some((account.secret_id.clone(), token))
                    })
                    .collect::<Vec<_>>()
            },
            |candidates| bearer(request, claim, candidates),
        );
    }
    let access_key_id = claim.secret_id.as_deref().unwrap_or_default();
    shared.authenticate_key(access_key_id, |key, now| {
        check_zc2(request, claim, key, now).map(|()| access_key_id.to_owned())
    })
}

/// What authentication reads before the world: the scheme, then for ZC2 the timestamp and the signature method.
fn read_claim(request: &Request) -> Result<Claim, ApiError> {
    let authorization = request.header("authorization").ok_or_else(|| {
        ApiError::new(
            wire::INVALID_AUTHORIZATION,
            "The request is not signed: it has no Authorization header.",
        )
    })?;
    let scheme = authorization.split_whitespace().next().unwrap_or_default();
    if scheme != zc2::ALGORITHM && scheme != Scheme::Bearer.name() {
        let shown: String = scheme.chars().take(40).collect();
        return Err(ApiError::new(
            wire::INVALID_AUTHORIZATION,
            format!(
                "The Authorization scheme {shown:?} is not accepted; use ZC2-HMAC-SHA256 or Bearer."
            ),
        ));
    }
    let claim = signing::inspect(request).map_err(unusable)?;
    if claim.scheme == Scheme::Bearer {
        return Ok(claim);
    }
    match request.header("x-zc-signature-method").map(str::trim) {
        None => return Err(missing("X-ZC-Signature-Method")),
        Some(zc2::ALGORITHM) => {}
        Some(other) => {
            return Err(ApiError::new(
                wire::INVALID_AUTHORIZATION,
                format!("X-ZC-Signature-Method {other:?} is not ZC2-HMAC-SHA256."),
            ));
        }
    }
    Ok(claim)
}

/// ZC2 against the key of an enabled account (none: no such account) and a clock: key, window, signature.
fn check_zc2(
    request: &Request,
    claim: &Claim,
    key: Option<&Secret>,
    now: i64,
) -> Result<(), ApiError> {
    let key = key.ok_or_else(access_key_not_found)?;
    let policy = Policy {
        max_skew: MAX_SKEW,
        service: None,
        derived_keys: false,
    };
    claim
        .verify(request, key, Some(now), &policy, None)
        .map_err(|rejection| match rejection {
            Rejection::Expired { timestamp, .. } => ApiError::new(
                wire::SIGNATURE_EXPIRED,
                format!(
                    "The signature has expired: X-ZC-Timestamp {timestamp} is more than {MAX_SKEW} s from the server time {now}."
                ),
            ),
            other => ApiError::new(
                wire::SIGNATURE_FAILURE,
                format!(
                    "The signature does not match; check the AccessKeyPassword and what was signed ({}).",
                    other.step()
                ),
            ),
        })?;
    Ok(())
}

fn access_key_not_found() -> ApiError {
    ApiError::new(
        wire::ACCESS_KEY_NOT_FOUND,
        "The AccessKeyId is not found; check that it is correct and enabled.",
    )
}

/// The AccessKeyId of the enabled account whose personal access token the request carries, among `candidates`
/// (AccessKeyId, token).
fn bearer(
    request: &Request,
    claim: &Claim,
    candidates: Vec<(String, Secret)>,
) -> Result<String, ApiError> {
    candidates
        .into_iter()
        .find(|(_, token)| {
            claim
                .verify(request, token, None, &Policy::default(), None)
                .is_ok()
        })
        .map(|(secret_id, _)| secret_id)
        .ok_or_else(|| {
            ApiError::new(
                wire::INVALID_TOKEN,
                "The access token is invalid or has been revoked.",
            )
        })
}

fn unusable(error: Unusable) -> ApiError {
    match error {
        Unusable::MissingHeader(name) => missing(name),
        Unusable::Timestamp { name, value } => ApiError::new(
            wire::INVALID_PARAMETER,
            format!("{name} {value:?} is not a Unix time in seconds."),
        ),
        other => ApiError::new(
            wire::INVALID_AUTHORIZATION,
            format!("The Authorization header cannot be read: {other}."),
        ),
    }
}

/// The code and message for each refusal.
fn refusal(refusal: Refusal) -> ApiError {
    use Refusal as R;
    let (code, message) = match refusal {
        R::Batch(batch) => return batch_refusal(batch),
        R::Recycled(id) => (
            wire::INSTANCE_RECYCLED,
            format!("Operations on instances in recycle bin are not supported: `{id}`."),
        ),
        R::Creating(id, status) => (
            wire::INSTANCE_CREATING,
            format!(
                "Operations on instances in {} status are not supported: `{id}`.",
                status.name()
            ),
        ),
        R::Installing(id) => (
            wire::INSTANCE_INSTALLING,
            format!("Operations on instances in INSTALLING status are not supported: `{id}`."),
        ),
        R::Subscription(id) => (
            wire::INSTANCE_SUBSCRIPTION,
            format!("Operations on subscription instances are not supported: `{id}`."),
        ),
        R::Commitment(id) => (
            wire::POSTPAID_PROMISE,
            format!("Operations failed. Resources in commitment period: `{id}`."),
        ),
        R::NotRecycled(id) => (
            wire::INSTANCE_NOT_RECYCLED,
            format!("The instance `{id}` is not in the recycle bin."),
        ),
    };
    ApiError::new(code, message)
}

/// The code and message for each refusal of the ids a call names.
fn batch_refusal(refusal: BatchRefusal) -> ApiError {
    use BatchRefusal as B;
    let (code, message) = match refusal {
        B::Empty => (
            wire::MISSING_PARAMETER,
            "The parameter `instanceIds` is empty.".to_owned(),
        ),
        B::TooLarge(count) => (
            wire::INVALID_PARAMETER,
            format!("`instanceIds` names {count} instances; at most 100 are allowed."),
        ),
        B::DuplicateId(id) => (
            wire::INVALID_PARAMETER,
            format!("The instance ID `{id}` is given more than once."),
        ),
        B::NotFound(id) => (
            wire::INSTANCE_NOT_FOUND,
            format!("Instance does not exist: `{id}`."),
        ),
    };
    ApiError::new(code, message)
}
