//! The mock's legacy CVM API 2.0 gateway (`cvm.api.qcloud.com`, path `/v2/index.php` only): the `Signature`
//! parameter scheme (HmacSHA1, HmacSHA256) over GET and POST form. Translates between the wire and the world; the
//! rules that change instances are the world's ([`crate::world::rules`]), the same as API 3.0's, and their
//! refusals map to API 3.0's codes ([`crate::provider::tencent::codes::refusal`]) except where the legacy
//! documents name others (below, and `wire`).
//!
//! # Precedence
//!
//! The envelope is chosen first, from the unverified `Action` and `Version` (or a TC3 request's `X-TC-Action` and
//! `X-TC-Version`; [`wire::Envelope::for_request`]); then, in this order:
//!
//! 1. protocol: only GET and POST (`InvalidRequest.UnsupportedProtocol`); only `/v2/index.php`
//!    (`InvalidAction.NotFound`, for another path on `cvm.api.qcloud.com`); size: GET 32 KB, POST 1 MB
//!    (`RequestSizeLimitExceeded`);
//! 2. authentication: no `Authorization` header of any scheme (TC3, ZC2, Bearer: `AuthFailure`), a `Signature`
//!    parameter (`AuthFailure`), `SecretId`, `Timestamp` and `Nonce` present (`MissingParameter`) and readable
//!    (`InvalidParameter`, also for a common parameter given twice), a known key (`InvalidParameter.SecretIdNotFound`,
//!    also for disabled keys and ids that are not `AKID…`), the ±5-minute window (`InvalidRequest.ReplayAttack`),
//!    the signature (`InvalidParameter.SignatureFailure`), the Nonce not seen within the window
//!    (`InvalidRequest.ReplayAttack`), the session token (`InvalidRequest.TokenCheckFailed`), MFA
//!    (`InvalidRequest.MFACheckFailed`);
//! 3. action and version: `Action` (`MissingParameter`); `TerminateInstances` needs `Version`
//!    (`MissingParameter`) and only `2017-03-12` exists (`NoSuchVersion`); `ReturnInstance` takes none, and any
//!    other action, or `ReturnInstance` with a `Version`, is `InvalidAction.NotFound`;
//! 4. the rate limit, per account and action (`InvalidRequest.RequestConcurrencyExceeded`): `TerminateInstances`
//!    counts against the same per-second window as API 3.0's `TerminateInstances`, `ReturnInstance` against its
//!    own, both at the world's `terminate-per-second`;
//! 5. parameters: unknown names (`UnknownParameter`), types (`InvalidParameter`), presence (`MissingParameter`);
//! 6. region (`MissingParameter`; the short names `gz`, `sh`… are their regions; then API 3.0's rule:
//!    `UnsupportedOperation.Region`, `UnsupportedRegion`);
//! 7. `ReturnInstance` only: an old-style `qcvm…` id names no instance of the world (`InvalidInstanceId.NotFound`);
//!    the id format (the world's: `InvalidInstanceId.Malformed`); pay-as-you-go only: the named instance, when it
//!    is the caller's (as the world's `describe` sees it) and prepaid, in the recycle bin or not, is
//!    `UnsupportedOperation.InstanceChargeType`, before the world's rules (they cannot be asked without applying
//!    them);
//! 8. the world's rules: batch, per instance, account ([`crate::world::rules`]). For `ReturnInstance`, the
//!    refusals for a state (`State`, `Restricted`, `SameOperationRunning`, `OperationInProgress`) are seed 004's
//!    `OperationConstraints.InvaildInstanceStatus`, spelled as documented. For both actions an id of the right
//!    length with a character outside `[a-z0-9]` is `InvalidInstanceId.Malformed` (seed 000 has no
//!    `InvalidParameterValue.InstanceIdMalformed`).
//!
//! # The window
//!
//! Five minutes either way, the same parameter as API 3.0's window ([`Policy::default`]`.max_skew`), used twice:
//! a Timestamp further from the world's clock is refused, and a `(SecretId, Nonce)` pair is remembered until its
//! Timestamp leaves the window, which is exactly as long as a replay of it could pass the Timestamp check. The
//! documents disagree (reference §6.5): the older generic 2.0 page and the EN code table say two hours, but the
//! table of this very gateway's 2017-03-12 codes (`InvalidRequest.ReplayAttack`: "Timestamp 与腾讯服务器相差不能超过
//! 5分钟"), the newer CN code table and every API 3.0 document say five minutes.

use std::sync::MutexGuard;

use serde_json::{Map, Value};

use super::wire::{self, Envelope};
use crate::message::Reply;
use crate::message::Request;
use crate::provider::Problem;
use crate::provider::tencent::codes::{self as api, missing, refusal as v3_refusal};
use crate::provider::tencent::terminate::terminate_instances;
use crate::provider::tencent::wire::{ActionParams, ApiError, COMMON_PARAMS, VERSION};
use crate::signing::{self, Claim, Policy, Rejection, Secret, Unusable, hmac_param};
use crate::world::SharedWorld;
use crate::world::rules::{Refusal, Terminate};
use crate::world::{Account, ChargeType, SessionRefusal, World};

/// Common parameters this gateway takes besides API 3.0's ([`COMMON_PARAMS`]): `RequestSource`, which qcloudcli,
/// Tencent's own CLI for this gateway, signs and sends on every request since its first release
/// (`QcloudApi/qcloudcli` `qcloudsdkcore/request.py`: `self.__params['RequestSource'] = self.version`, the version
/// being `'qcloudcli_%s' % qcloudcli.__version__`).
const GATEWAY_ONLY_PARAMS: [&str; 1] = ["RequestSource"];

/// Query string limit for GET.
const GET_LIMIT: usize = 32 * 1024;
/// Body limit for POST (always a form here).
const FORM_LIMIT: usize = 1024 * 1024;

/// A request read as far as it can be without the world: its signature's claim and its parameters.
struct Prepared {
    claim: Claim,
    form: hmac_param::Params,
}

/// Answers one request. Everything about the world (authentication against its keys and clock, nonce, rate limit,
/// rules, state change, request id) is decided in one critical section of one world ([`SharedWorld::authenticate`]).
pub(crate) fn handle(request: &Request, shared: &SharedWorld) -> Reply {
    let envelope = envelope_of(request);
    let prepared = prepare(request);
    let (mut world, authenticated) = match &prepared {
        Err(error) => (shared.world(), Err(error.clone())),
        Ok(prepared) => authenticate(request, prepared, shared),
    };
    let request_id = world.next_request_id();
    // A rejected signature is explained with the key it was checked against, after the lock.
    let rejected_key = match (&prepared, &authenticated) {
        (Ok(prepared), Err(error)) if error.code == "InvalidParameter.SignatureFailure" => prepared
            .claim
            .secret_id
            .as_deref()
            .and_then(|id| world.account(id))
            .map(|account| account.secret_key.clone()),
        _ => None,
    };
    let outcome = match (&prepared, authenticated) {
        (Ok(prepared), Ok(())) => decide(prepared, &mut world),
        (_, Err(error)) => Err(error),
        (Err(error), Ok(_)) => Err(error.clone()),
    };
    drop(world);
    let mut reply = Reply::json(200, wire::answer(envelope, &request_id, outcome));
    if let (Ok(prepared), Some(key)) = (&prepared, rejected_key) {
        reply.diagnosis = Some(Box::new(prepared.claim.diagnose(
            request,
            &key,
            &Policy::default(),
        )));
    }
    reply
}

/// The answer for a condition met before the handler (an injected fault, an unreadable or oversized body), after the
/// checks that come first in the precedence: the method, then the path.
pub(crate) fn problem_reply(problem: Problem, request: &Request, shared: &SharedWorld) -> Reply {
    let envelope = envelope_of(request);
    let request_id = shared.world().next_request_id();
    let (status, error) = match check_method(request).and_then(|()| check_path(request)) {
        Err(error) => (200, error),
        Ok(()) => api::problem_error(problem, "AuthFailure"),
    };
    Reply::json(status, wire::answer(envelope, &request_id, Err(error)))
}

/// The most body bytes read for a request: GET 32 KB, POST (a form) 1 MB.
pub(crate) fn body_limit(request: &Request) -> usize {
    if request.method == "GET" {
        GET_LIMIT
    } else {
        FORM_LIMIT
    }
}

/// The action a request names, for fault filters; read without verifying anything.
pub(crate) fn action_of(request: &Request) -> Option<String> {
    hmac_param::Params::read(request)
        .ok()?
        .get("Action")
        .map(str::to_owned)
}

/// The envelope the answer takes, from the request's unverified `Action` and `Version` parameters, or for a request
/// in API 3.0's TC3 form (refused, but its client reads the 3.0 envelope) its `X-TC-Action` and `X-TC-Version`.
fn envelope_of(request: &Request) -> Envelope {
    let params = hmac_param::Params::read(request).ok();
    let get = |name, header| {
        params
            .as_ref()
            .and_then(|params| params.get(name))
            .or_else(|| request.header(header).map(str::trim))
    };
    Envelope::for_request(get("Action", "x-tc-action"), get("Version", "x-tc-version"))
}

/// The checks that need no world: method, path, size, the scheme, readable common parameters.
fn prepare(request: &Request) -> Result<Prepared, ApiError> {
    check_method(request)?;
    check_path(request)?;
    check_size(request)?;
    if request.header("authorization").is_some() {
        return Err(ApiError::new(
            "AuthFailure",
            "qcloud was not able to validate the provided access credentials: this gateway takes only the Signature parameter, not an Authorization header.",
        ));
    }
    let claim = signing::inspect(request).map_err(unusable)?;
    let form = hmac_param::Params::read(request).map_err(unusable)?;
    if form.get("Nonce").is_none_or(str::is_empty) {
        return Err(missing("Nonce"));
    }
    if let Some(name) = COMMON_PARAMS
        .iter()
        .chain(&GATEWAY_ONLY_PARAMS)
        .find(|name| form.pairs().filter(|(key, _)| key == *name).count() > 1)
    {
        return Err(ApiError::new(
            "InvalidParameter",
            format!("The parameter `{name}` is given more than once."),
        ));
    }
    Ok(Prepared { claim, form })
}

/// Everything after the signature, on the locked world: the nonce, the session, then the action.
fn decide(
    Prepared { claim, form }: &Prepared,
    world: &mut World,
) -> Result<Map<String, Value>, ApiError> {
    let secret_id = claim.secret_id.as_deref().unwrap_or_default();
    check_nonce_and_session(claim, form, secret_id, world)?;
    let get = |name: &str| form.get(name).filter(|value| !value.is_empty());
    let action = get("Action").ok_or_else(|| missing("Action"))?;
    match (action, get("Version")) {
        ("TerminateInstances", None) => Err(missing("Version")),
        ("TerminateInstances", Some(VERSION)) => terminate(form, secret_id, world),
        ("TerminateInstances", Some(other)) => Err(ApiError::new(
            "NoSuchVersion",
            format!("The API version `{other}` does not exist."),
        )),
        ("ReturnInstance", None) => return_instance(form, secret_id, world),
        ("ReturnInstance", Some(version)) => Err(ApiError::new(
            "InvalidAction.NotFound",
            format!(
                "ReturnInstance is an API 2.0 action and takes no Version; version `{version}` has no such action."
            ),
        )),
        (other, _) => Err(ApiError::new(
            "InvalidAction.NotFound",
            format!(
                "The action `{other}` is not supported in this version: this gateway serves TerminateInstances (Version 2017-03-12) and ReturnInstance."
            ),
        )),
    }
}

/// `TerminateInstances` (Version 2017-03-12): the API 3.0 action's parameters and rules.
fn terminate(
    form: &hmac_param::Params,
    secret_id: &str,
    world: &mut World,
) -> Result<Map<String, Value>, ApiError> {
    admit(secret_id, "TerminateInstances", world)?;
    let params = action_params(form)?;
    terminate_instances(
        &params,
        secret_id,
        world,
        || check_region(form.get("Region")),
        refusal,
    )
}

/// `ReturnInstance` (API 2.0): one pay-as-you-go instance, named by `instanceId`.
fn return_instance(
    form: &hmac_param::Params,
    secret_id: &str,
    world: &mut World,
) -> Result<Map<String, Value>, ApiError> {
    admit(secret_id, "ReturnInstance", world)?;
    let params = action_params(form)?;
    params.only(&["instanceId"])?;
    let id = match params.values.get("instanceId") {
        None => return Err(missing("instanceId")),
        Some(Value::String(id)) if id.is_empty() => return Err(missing("instanceId")),
        Some(Value::String(id)) => id.clone(),
        Some(_) => {
            return Err(ApiError::new(
                "InvalidParameter",
                "The parameter `instanceId` must be one string.",
            ));
        }
    };
    let region = check_region(form.get("Region"))?;
    if is_old_style_id(&id) {
        return Err(ApiError::new(
            "InvalidInstanceId.NotFound",
            format!(
                "No instance found: `{id}` is an old-style instance id; instances are named by their `ins-` id."
            ),
        ));
    }
    let ids = vec![id];
    let account = known_account(world, secret_id)?;
    let prepaid = world
        .describe(account, region, Some(&ids))
        .map_err(return_refusal)?
        .iter()
        .any(|instance| instance.charge == ChargeType::Prepaid);
    if prepaid {
        return Err(ApiError::new(
            "UnsupportedOperation.InstanceChargeType",
            format!(
                "ReturnInstance returns pay-as-you-go instances only; `{}` is prepaid: submit a ticket to return it.",
                ids[0]
            ),
        ));
    }
    let call = Terminate {
        secret_id,
        region,
        instance_ids: &[&ids[0]],
        release_address: false,
        release_prepaid_data_disks: false,
    };
    world.terminate(&call).map_err(return_refusal)?;
    Ok(Map::new())
}

/// The action parameters: the form's pairs but the common parameters, API 3.0's and this gateway's own.
fn action_params(form: &hmac_param::Params) -> Result<ActionParams, ApiError> {
    ActionParams::from_pairs(
        form.pairs()
            .filter(|(name, _)| !GATEWAY_ONLY_PARAMS.contains(name)),
    )
}

/// The old instance id form (`qcvm` and 32 hex digits, seed 004's example `qcvm8e7bf56c115c53ce2d2a1ac2ea6e657a`).
fn is_old_style_id(id: &str) -> bool {
    id.strip_prefix("qcvm").is_some_and(|rest| {
        rest.len() == 32
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The per-second rate limit of `action` for this account.
fn admit(secret_id: &str, action: &'static str, world: &mut World) -> Result<(), ApiError> {
    let per_second = world.spec().rate_limit.terminate_per_second;
    if world.admit(secret_id, action, per_second) {
        return Ok(());
    }
    Err(ApiError::new(
        "InvalidRequest.RequestConcurrencyExceeded",
        format!(
            "Your current request times equals to `{}` in a second, which exceeds the frequency limit `{per_second}` for a second. Please reduce the frequency of calls.",
            per_second + 1
        ),
    ))
}

/// Only GET and POST.
fn check_method(request: &Request) -> Result<(), ApiError> {
    match request.method.as_str() {
        "GET" | "POST" => Ok(()),
        method => Err(ApiError::new(
            "InvalidRequest.UnsupportedProtocol",
            format!("The HTTP method {method} is not supported; use GET or POST."),
        )),
    }
}

/// Only `/v2/index.php`: the gateway serves nothing else.
fn check_path(request: &Request) -> Result<(), ApiError> {
    match request.path() {
        super::PATH => Ok(()),
        path => Err(ApiError::new(
            "InvalidAction.NotFound",
            format!(
                "No API is served at {path}; this gateway serves its actions on /v2/index.php."
            ),
        )),
    }
}

fn check_size(request: &Request) -> Result<(), ApiError> {
    api::check_size_of(request, false)
}

/// The signature, and the world locked for the decisions that follow ([`SharedWorld::authenticate_key`]: the short
/// lock copies only the key and the clock).
fn authenticate<'a>(
    request: &Request,
    prepared: &Prepared,
    shared: &'a SharedWorld,
) -> (MutexGuard<'a, World>, Result<(), ApiError>) {
    let secret_id = prepared.claim.secret_id.as_deref().unwrap_or_default();
    shared.authenticate_key(secret_id, |key, now| {
        check_signature(request, &prepared.claim, key, now)
    })
}

/// Authentication's first steps, against the key of an enabled account (none: no such account) and a clock: key,
/// window, signature.
fn check_signature(
    request: &Request,
    claim: &Claim,
    key: Option<&Secret>,
    now: i64,
) -> Result<(), ApiError> {
    let key = key.ok_or_else(secret_id_not_found)?;
    let policy = Policy::default();
    let timestamp = claim.timestamp.unwrap_or_default();
    claim
        .verify(request, key, Some(now), &policy, None)
        .map_err(|rejection| match rejection {
            Rejection::Expired { .. } => ApiError::new(
                "InvalidRequest.ReplayAttack",
                format!(
                    "Timestamp {timestamp} is more than five minutes from the server time {now}."
                ),
            ),
            other => ApiError::new(
                "InvalidParameter.SignatureFailure",
                format!(
                    "Authentication failed: the {} differs from the one the key gives. See the signature method in the documentation.",
                    other.step()
                ),
            ),
        })?;
    Ok(())
}

fn secret_id_not_found() -> ApiError {
    ApiError::new(
        "InvalidParameter.SecretIdNotFound",
        "The SecretId used for the request does not exist; check it and try again.",
    )
}

/// The account a request authenticated as, on the world it authenticated against (`SharedWorld::authenticate`
/// verified again if the world changed in between, so it is there).
fn known_account<'w>(world: &'w World, secret_id: &str) -> Result<&'w Account, ApiError> {
    world.account(secret_id).ok_or_else(secret_id_not_found)
}

/// Authentication's last steps, on the locked world: the nonce, then the session token and MFA.
fn check_nonce_and_session(
    claim: &Claim,
    form: &hmac_param::Params,
    secret_id: &str,
    world: &mut World,
) -> Result<(), ApiError> {
    let nonce = form.get("Nonce").unwrap_or_default();
    let timestamp = claim.timestamp.unwrap_or_default();
    let until = timestamp.saturating_add(Policy::default().max_skew as i64);
    if !world.first_use_of_nonce(secret_id, nonce, until) {
        return Err(ApiError::new(
            "InvalidRequest.ReplayAttack",
            format!(
                "Nonce {nonce} was already used with this SecretId within the last five minutes: each request must carry a new one."
            ),
        ));
    }
    known_account(world, secret_id)?
        .check_session(form.get("Token"))
        .map_err(|refusal| match refusal {
            SessionRefusal::Token => ApiError::new(
                "InvalidRequest.TokenCheckFailed",
                "The session token is missing, invalid or not this key's.",
            ),
            SessionRefusal::Mfa => {
                ApiError::new("InvalidRequest.MFACheckFailed", "MFA check failed.")
            }
        })
}

/// API 3.0's region rule, after the short names of the legacy documentation (`gz`) are read as full ones.
fn check_region(region: Option<&str>) -> Result<&str, ApiError> {
    let given = region
        .filter(|r| !r.is_empty())
        .ok_or_else(|| missing("Region"))?;
    api::check_region(Some(wire::region_name(given)), true)
}

fn unusable(error: Unusable) -> ApiError {
    api::unusable_error(error, |error| match error {
        Unusable::NoSignature => ApiError::new(
            "AuthFailure",
            "qcloud was not able to validate the provided access credentials: the request has no Signature parameter.",
        ),
        other => ApiError::new(
            "AuthFailure",
            format!("qcloud was not able to validate the provided access credentials: {other}."),
        ),
    })
}

/// `TerminateInstances`' codes: API 3.0's, but seed 000's `InvalidInstanceId.Malformed` for every id of the wrong
/// format (it has no `InvalidParameterValue.InstanceIdMalformed`).
fn refusal(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::IdCharacters(id) => ApiError::new(
            "InvalidInstanceId.Malformed",
            format!("Invalid instance ID. The specified instance ID `{id}` has an invalid format."),
        ),
        Refusal::UnknownCaller(_) => ApiError::new(
            "InvalidParameter.SecretIdNotFound",
            "The SecretId used for the request does not exist; check it and try again.",
        ),
        other => v3_refusal(other),
    }
}

/// `ReturnInstance`'s codes: seed 004's `OperationConstraints.InvaildInstanceStatus` for an instance whose state
/// refuses, `TerminateInstances`' otherwise.
fn return_refusal(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::State(id, state) => invalid_status(&id, &format!("is {}", state.name())),
        Refusal::Restricted(id, restriction) => invalid_status(
            &id,
            &format!(
                "is under a restriction ({})",
                serde_json::to_value(restriction)
                    .ok()
                    .and_then(|value| value.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
        ),
        Refusal::SameOperationRunning(id) => {
            invalid_status(&id, "is being returned by another operation")
        }
        Refusal::OperationInProgress(id, operation) => {
            invalid_status(&id, &format!("has an operation in progress ({operation})"))
        }
        other => self::refusal(other),
    }
}

fn invalid_status(id: &str, why: &str) -> ApiError {
    ApiError::new(
        "OperationConstraints.InvaildInstanceStatus",
        format!("Instance status is incorrect: `{id}` {why}."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_documented_old_id_shape_is_old_style() {
        assert!(is_old_style_id("qcvm8e7bf56c115c53ce2d2a1ac2ea6e657a"));
        assert!(!is_old_style_id("qcvm12345"));
        assert!(!is_old_style_id("ins-r8hr2upy"));
        assert!(!is_old_style_id("qcvm8E7BF56C115C53CE2D2A1AC2EA6E657A"));
    }
}
