//! The mock's Tencent Cloud API 3.0 endpoint (`cvm.tencentcloudapi.com`, path `/`): TC3 (POST JSON, GET) and
//! the `Signature` parameter form (GET, POST form). Translates between the wire and the world; the rules that
//! change instances are the world's ([`crate::world::rules`]).
//!
//! # Precedence
//!
//! 1. protocol: only GET and POST (`UnsupportedProtocol`); size: GET 32 KB, `Signature`-form POST 1 MB, TC3
//!    POST 10 MB (`RequestSizeLimitExceeded`);
//! 2. authentication: a readable signature (`AuthFailure.InvalidAuthorization`, `MissingParameter`), a known
//!    key (`AuthFailure.InvalidSecretId` for ids that are not `AKID…`, `AuthFailure.SecretIdNotFound`), the
//!    ±5-minute window (`AuthFailure.SignatureExpire`), the signature (`AuthFailure.SignatureFailure`), the
//!    session token (`AuthFailure.TokenFailure`), MFA (`AuthFailure.MFAFailure`);
//! 3. action and version (`MissingParameter`, `InvalidAction`, `NoSuchVersion`);
//! 4. the rate limit, per account and action (`RequestLimitExceeded`);
//! 5. parameters: unknown names (`UnknownParameter`), types (`InvalidParameter`), presence (`MissingParameter`);
//! 6. region (`MissingParameter`; `UnsupportedOperation.Region` for CVM regions this API does not serve,
//!    `UnsupportedRegion` for unknown names);
//! 7. the world's rules: batch, per instance, account ([`crate::world::rules`]).
//!
//! Client quirks tolerated in direct addressing, and nothing wider (`shared/reference/clients.md`): the Node SDK
//! signs the host without its port and takes the scope service from the endpoint's first label (`127` for
//! `127.0.0.1`); tccli puts `http://` inside `Host` (signed as sent, so it verifies as sent).

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::MutexGuard;

use serde_json::{Map, Value};

use super::codes::{
    FORM_LIMIT, GET_LIMIT, TC3_LIMIT, check_region, check_size_of, missing, problem_error, refusal,
    unusable_error,
};
use super::lifecycle;
use super::tag;
use super::wire::{self, ActionParams, ApiError, JsonParams, Language, Parameters, VERSION};
use crate::message::Request;
use crate::message::{Reply, Summary};
use crate::provider::Problem;
use crate::signing::{self, Claim, Policy, Rejection, Scheme, Secret, Unusable, hmac_param};
use crate::world::SharedWorld;
use crate::world::stubs::Stubbed;
use crate::world::{Account, SessionRefusal, World};

/// The credential-scope service of CVM.
const SERVICE: &str = "cvm";

/// The common parameters of a request, wherever its form carries them; action parameters are read only after
/// authentication, so a tampered body is a signature failure, not a parameter error.
struct Common<'r> {
    action: Option<Cow<'r, str>>,
    version: Option<Cow<'r, str>>,
    region: Option<Cow<'r, str>>,
    token: Option<Cow<'r, str>>,
    /// The `Signature`-parameter form's decoded parameters (TC3 keeps its action parameters in the body or query).
    form: Option<hmac_param::Params>,
}

/// A request read as far as it can be without the world: its signature's claim, its common parameters and the
/// product it is for.
struct Prepared<'r> {
    claim: Claim,
    common: Common<'r>,
    product: Product,
}

/// Answers one request. Everything about the world (authentication against its keys and clock, rate limit, rules,
/// state change, request id, the answer's `Date`) is decided in one critical section of one world
/// ([`SharedWorld::authenticate`]).
pub(crate) fn handle(request: &Request, shared: &SharedWorld) -> Reply {
    let prepared = prepare(request);
    let (mut world, authenticated) = match &prepared {
        Err(error) => (shared.world(), Err(error.clone())),
        Ok(prepared) => {
            let (world, verified) = authenticate(request, prepared, shared);
            let session =
                verified.and_then(|strictly| check_session(&world, prepared).map(|()| strictly));
            (world, session)
        }
    };
    let request_id = world.next_request_id();
    let now = world.clock.now();
    // A rejected signature, or one accepted only in a client's quirk, is explained with the key it was checked
    // against, after the lock (the key is read only on those two paths).
    let explain_key = match (&prepared, &authenticated) {
        (Ok(prepared), Err(error)) if error.code == SIGNATURE_FAILURE => Some(prepared),
        (Ok(prepared), Ok(Strictly::NoHostWasSignedWithoutItsPort)) => Some(prepared),
        _ => None,
    }
    .and_then(|prepared| prepared.claim.secret_id.as_deref())
    .and_then(|id| world.account(id))
    .map(|account| account.secret_key.clone());
    let outcome = match (&prepared, authenticated) {
        (Ok(prepared), Ok(_)) => decide(request, prepared, &mut world, &request_id),
        (_, Err(error)) => Err(error),
        (Err(error), Ok(_)) => Err(error.clone()),
    };
    drop(world);
    let (body, code) = match outcome {
        Ok(fields) => (wire::success(&request_id, &fields), None),
        Err(error) => (
            wire::error(&request_id, &error, Language::of(request)),
            Some(error.code),
        ),
    };
    let mut reply = gateway_reply(200, body, request, now);
    if let (Ok(prepared), Some(key)) = (&prepared, explain_key) {
        let policy = Policy {
            service: Some(prepared.product.service().into()),
            derived_keys: false,
            ..Policy::default()
        };
        reply.diagnosis = Some(Box::new(prepared.claim.diagnose(request, &key, &policy)));
    }
    reply.summary = Some(Summary {
        code,
        secret_id: prepared.ok().and_then(|prepared| prepared.claim.secret_id),
    });
    reply
}

/// The code of a signature that is not the key's.
const SIGNATURE_FAILURE: &str = "AuthFailure.SignatureFailure";

/// The answer for a condition met before the handler (an injected fault, an unreadable or oversized body), after the
/// checks that come first in the precedence: the method, then the path.
pub(crate) fn problem_reply(problem: Problem, request: &Request, shared: &SharedWorld) -> Reply {
    let (request_id, now) = {
        let mut world = shared.world();
        (world.next_request_id(), world.clock.now())
    };
    let (status, error) = match check_method_and_path(request) {
        Err(error) => (200, error),
        Ok(()) => match problem {
            // A `Signature`-form POST over its 1 MB, stopped while it was read.
            Problem::TooLarge { limit } if limit == FORM_LIMIT => (200, form_too_large()),
            problem => problem_error(problem, "AuthFailure.InvalidAuthorization"),
        },
    };
    let body = wire::error(&request_id, &error, Language::of(request));
    gateway_reply(status, body, request, now)
}

/// An answer with the gateway's head (real-wire.md §6.3): recorded CVM answers carry exactly `Server: nginx`,
/// `Date`, `Content-Type: application/json`, `Content-Length`, `Connection: keep-alive`; later recordings of
/// requests that sent `X-TC-TraceId` have the same value echoed and no `Server`. `Date` is the world's clock,
/// the time the mock checks signatures against.
fn gateway_reply(status: u16, body: Vec<u8>, request: &Request, now: i64) -> Reply {
    let trace_id = request
        .header("x-tc-traceid")
        .filter(|value| !value.is_empty());
    let mut headers = Vec::with_capacity(6);
    if trace_id.is_none() {
        headers.push(("Server", "nginx".into()));
    }
    headers.push(("Date", http_date(now).into()));
    headers.push(("Content-Type", "application/json".into()));
    headers.push(("Content-Length", body.len().to_string().into()));
    headers.push(("Connection", "keep-alive".into()));
    if let Some(trace_id) = trace_id {
        headers.push(("X-TC-TraceId", trace_id.to_owned().into()));
    }
    Reply {
        status,
        headers,
        body,
        diagnosis: None,
        summary: None,
    }
}

/// An HTTP date (RFC 9110 IMF-fixdate): `Fri, 16 Sep 2022 03:27:42 GMT`. Formatted once per second per thread:
/// the answers of one second share it.
fn http_date(unix: i64) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    thread_local! {
        static LAST: RefCell<Option<(i64, String)>> = const { RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some((second, date)) if *second == unix => date.clone(),
        _ => {
            let date = time::OffsetDateTime::from_unix_timestamp(unix)
                .ok()
                .and_then(|at| at.format(FORMAT).ok())
                .unwrap_or_default();
            last.insert((unix, date)).1.clone()
        }
    })
}

/// The most body bytes read for a request: the documented limit of its form (GET 32 KB, a `Signature`-form POST
/// 1 MB, a TC3 POST 10 MB).
pub(crate) fn body_limit(request: &Request) -> usize {
    match request.method.as_str() {
        "GET" => GET_LIMIT,
        _ if request.header("content-type").is_some_and(|t| {
            t.trim_start()
                .starts_with("application/x-www-form-urlencoded")
        }) =>
        {
            FORM_LIMIT
        }
        _ => TC3_LIMIT,
    }
}

/// The action a request names, for fault filters; read without verifying anything.
pub(crate) fn action_of(request: &Request) -> Option<String> {
    if let Some(action) = request.header("x-tc-action") {
        return Some(action.trim().to_owned());
    }
    hmac_param::Params::read(request)
        .ok()?
        .get("Action")
        .map(str::to_owned)
}

/// The checks that need no world: method, path, size, headers, a readable signature, the common parameters, the
/// product.
fn prepare(request: &Request) -> Result<Prepared<'_>, ApiError> {
    check_method_and_path(request)?;
    check_size(request)?;
    check_single_headers(request)?;
    let claim = signing::inspect(request).map_err(unusable)?;
    if !matches!(
        claim.scheme,
        Scheme::Tc3 | Scheme::HmacSha1 | Scheme::HmacSha256
    ) {
        return Err(ApiError::new(
            "AuthFailure.InvalidAuthorization",
            format!(
                "{} is not a signature this API accepts; use TC3-HMAC-SHA256 or the Signature parameter.",
                claim.scheme
            ),
        ));
    }
    let common = common_params(request, &claim)?;
    let product = Product::of(request, &claim)?;
    Ok(Prepared {
        claim,
        common,
        product,
    })
}

/// Everything after authentication, on the locked world (the one the request authenticated against, so its
/// account is there).
fn decide(
    request: &Request,
    Prepared {
        claim,
        common,
        product,
    }: &Prepared<'_>,
    world: &mut World,
    request_id: &str,
) -> Result<Map<String, Value>, ApiError> {
    let secret_id = claim.secret_id.as_deref().unwrap_or_default();
    if *product == Product::Sts {
        return caller_identity(request, common, known_account(world, secret_id)?);
    }
    if *product == Product::Tag {
        return tag_api(request, common, secret_id, world);
    }
    let action = common.action.as_deref().ok_or_else(|| missing("Action"))?;
    let served = action == "TerminateInstances" || lifecycle::ACTIONS.contains(&action);
    let stubbed = !served && world.spec().stubs.iter().any(|stub| stub.action == action);
    if !served && !stubbed {
        return Err(unserved(action));
    }
    match common.version.as_deref() {
        None => return Err(missing("Version")),
        Some(VERSION) => {}
        Some(other) => {
            return Err(ApiError::new(
                "NoSuchVersion",
                no_such_version(other, SERVICE),
            ));
        }
    }
    if action == "TerminateInstances" && common.form.is_none() && request.method != "GET" {
        // A TC3 POST, the usual call: its parameters read in place.
        let params = JsonParams::parse(&request.body)?;
        return terminate(common, &params, secret_id, world, request_id);
    }
    let params = action_params(request, common)?;
    if stubbed {
        return match world.stubbed(action, &params.values) {
            Some(Stubbed::Response(fields)) => Ok(fields),
            Some(Stubbed::Error(error)) => Err(ApiError::new(&error.code, error.message)),
            None => Err(unserved(action)),
        };
    }
    if action == "TerminateInstances" {
        terminate(common, &params, secret_id, world, request_id)
    } else {
        // The owner only, copied: the lifecycle changes the world it was read from.
        let owner = known_account(world, secret_id)?.owner.clone();
        lifecycle::handle(
            action,
            common.region.as_deref(),
            &params,
            &owner,
            world,
            request_id,
        )
    }
}

/// An action terminus does not serve: `InvalidAction`, as the real API answers a name it does not have
/// (real-wire.md §6.7's message); for an action CVM does have ([`lifecycle::CVM_ACTIONS`]), a message that says
/// terminus does not serve it yet and how to stub it.
fn unserved(action: &str) -> ApiError {
    if !lifecycle::CVM_ACTIONS.contains(&action) {
        return ApiError::new(
            "InvalidAction",
            "The request `Action` is invalid or not found.",
        );
    }
    ApiError::new(
        "InvalidAction",
        format!(
            "CVM has the action `{action}` but terminus does not serve it: it serves TerminateInstances, {}. A [[stubs]] entry in the world file can answer it.",
            lifecycle::ACTIONS.join(", ")
        ),
    )
}

/// The account a request authenticated as, on the world it authenticated against.
fn known_account<'w>(world: &'w World, secret_id: &str) -> Result<&'w Account, ApiError> {
    world
        .account(secret_id)
        .filter(|account| !account.disabled)
        .ok_or_else(secret_id_not_found)
}

fn secret_id_not_found() -> ApiError {
    ApiError::new(
        "AuthFailure.SecretIdNotFound",
        "The SecretId is not found, please ensure that your SecretId is correct.",
    )
}

/// The products this endpoint serves, by the production host a request names (`cvm.tencentcloudapi.com`,
/// `cvm.ap-guangzhou.tencentcloudapi.com`, `sts.tencentcloudapi.com`); at any other host (the mock's own address)
/// a TC3 request scoped to `sts` is STS's and anything else CVM's. Each product verifies TC3 against its own
/// credential-scope service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Product {
    /// CVM: `TerminateInstances`, `DescribeInstances`.
    Cvm,
    /// STS, for `GetCallerIdentity` only: the call Cloud Custodian makes before anything else
    /// (`tools/c7n_tencentcloud/c7n_tencentcloud/provider.py`: `execute_query("GetCallerIdentity", {})`).
    Sts,
    /// The Tag API on CVM instances ([`super::tag`]): what tools call to mark instances for a later action.
    Tag,
}

/// The API version of STS `GetCallerIdentity`.
const STS_VERSION: &str = "2018-08-13";

impl Product {
    /// The product a request's host names; another product of `tencentcloudapi.com` is refused by name, since
    /// terminus does not serve it (its signature is not what is wrong).
    fn of(request: &Request, claim: &Claim) -> Result<Self, ApiError> {
        let host = request.host().unwrap_or_default();
        let host = host
            .strip_prefix("http://")
            .or_else(|| host.strip_prefix("https://"))
            .unwrap_or(host);
        let hostname = host
            .rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host, |(name, _)| name);
        // Compared without case and without a lowercase copy (every request asks).
        const DOMAIN: &str = ".tencentcloudapi.com";
        let Some(label) = hostname
            .len()
            .checked_sub(DOMAIN.len())
            .filter(|&at| hostname.is_char_boundary(at))
            .filter(|&at| hostname[at..].eq_ignore_ascii_case(DOMAIN))
            .map(|at| hostname[..at].split('.').next().unwrap_or_default())
        else {
            // Direct addressing (the mock's own address): only a TC3 credential scope can name STS.
            return Ok(match claim.scope_service() {
                Some("sts") => Product::Sts,
                Some("tag") => Product::Tag,
                _ => Product::Cvm,
            });
        };
        if label.eq_ignore_ascii_case("cvm") {
            Ok(Product::Cvm)
        } else if label.eq_ignore_ascii_case("sts") {
            Ok(Product::Sts)
        } else if label.eq_ignore_ascii_case("tag") {
            Ok(Product::Tag)
        } else {
            let (other, hostname) = (label.to_ascii_lowercase(), hostname.to_ascii_lowercase());
            Err(ApiError::new(
                "InvalidAction",
                format!(
                    "terminus does not serve the product `{other}` ({hostname}): it serves cvm (TerminateInstances and the instance lifecycle), sts (GetCallerIdentity) and tag (the tagging of CVM instances)."
                ),
            ))
        }
    }

    /// The TC3 credential-scope service of the product.
    fn service(self) -> &'static str {
        match self {
            Product::Cvm => SERVICE,
            Product::Sts => "sts",
            Product::Tag => "tag",
        }
    }
}

/// The Tag API: action and version, then [`tag::handle`] for the caller's owner.
fn tag_api(
    request: &Request,
    common: &Common<'_>,
    secret_id: &str,
    world: &mut World,
) -> Result<Map<String, Value>, ApiError> {
    let action = common.action.as_deref().ok_or_else(|| missing("Action"))?;
    if !tag::ACTIONS.contains(&action) {
        return Err(ApiError::new(
            "InvalidAction",
            "The request `Action` is invalid or not found.",
        ));
    }
    match common.version.as_deref() {
        None => return Err(missing("Version")),
        Some(tag::VERSION) => {}
        Some(other) => {
            return Err(ApiError::new(
                "NoSuchVersion",
                no_such_version(other, "tag"),
            ));
        }
    }
    let params = action_params(request, common)?;
    // The owner only, copied: the tags change the world it was read from.
    let owner = known_account(world, secret_id)?.owner.clone();
    tag::handle(action, &params, &owner, world)
}

/// STS `GetCallerIdentity` (Version 2018-08-13) for the world's account that signed: the key is the root
/// account's own, so `AccountId`, `UserId` and `PrincipalId` are its uin (`owner`), `Type` is `CAMUser` and `Arn`
/// has the shape of the documented example (`TencentCloud/tencentcloud-cli`
/// `tccli/examples/sts/v20180813/GetCallerIdentity.md`: `"Arn": "qcs::cam:1000262***:uin/1000261***"`).
fn caller_identity(
    request: &Request,
    common: &Common<'_>,
    account: &Account,
) -> Result<Map<String, Value>, ApiError> {
    let action = common.action.as_deref().ok_or_else(|| missing("Action"))?;
    if action != "GetCallerIdentity" {
        return Err(ApiError::new(
            "InvalidAction",
            "The request `Action` is invalid or not found.",
        ));
    }
    match common.version.as_deref() {
        None => return Err(missing("Version")),
        Some(STS_VERSION) => {}
        Some(other) => {
            return Err(ApiError::new(
                "NoSuchVersion",
                no_such_version(other, "sts"),
            ));
        }
    }
    // The action takes no parameters.
    action_params(request, common)?.only(&[])?;
    let uin = &account.owner;
    let mut fields = Map::new();
    fields.insert(
        "Arn".into(),
        Value::from(format!("qcs::cam:{uin}:uin/{uin}")),
    );
    fields.insert("AccountId".into(), Value::from(uin.clone()));
    fields.insert("UserId".into(), Value::from(uin.clone()));
    fields.insert("PrincipalId".into(), Value::from(uin.clone()));
    fields.insert("Type".into(), Value::from("CAMUser"));
    Ok(fields)
}

fn terminate(
    common: &Common<'_>,
    params: &impl Parameters,
    secret_id: &str,
    world: &mut World,
    request_id: &str,
) -> Result<Map<String, Value>, ApiError> {
    let per_second = world.spec().rate_limit.terminate_per_second;
    if !world.admit(secret_id, "TerminateInstances", per_second) {
        return Err(ApiError::new(
            "RequestLimitExceeded",
            format!(
                "Your current request times equals to `{}` in a second, which exceeds the frequency limit `{per_second}` for a second. Please reduce the frequency of calls.",
                per_second + 1
            ),
        )
        .zh(format!(
            "您当前每秒请求 `{}` 次，超过了每秒频率上限 `{per_second}`，请稍后重试。",
            per_second + 1
        )));
    }
    let region = check_region(common.region.as_deref(), true);
    let answer = super::terminate::terminate_instances(
        params,
        secret_id,
        world,
        || check_region(common.region.as_deref(), true),
        refusal,
    )?;
    // Accepted: the same region and ids the call was decided on.
    if let (Ok(region), Ok(Some(ids))) = (region, params.strs("InstanceIds")) {
        world.record_termination(region, &ids, request_id);
    }
    Ok(answer)
}

/// Only GET and POST, and only on `/`: API 3.0 serves every action there.
fn check_method_and_path(request: &Request) -> Result<(), ApiError> {
    let method = request.method.as_str();
    if method != "GET" && method != "POST" {
        return Err(ApiError::new(
            "UnsupportedProtocol",
            format!("The HTTP method {method} is not supported; use GET or POST."),
        ));
    }
    match request.path() {
        "/" => Ok(()),
        path => Err(ApiError::new(
            "InvalidAction",
            format!("No API is served at {path}; API 3.0 serves its actions on /."),
        )),
    }
}

/// Headers that say one thing once: given twice, which one is meant is ambiguous, so the request is refused.
fn check_single_headers(request: &Request) -> Result<(), ApiError> {
    const SINGLE: [&str; 8] = [
        "authorization",
        "content-type",
        "x-tc-action",
        "x-tc-version",
        "x-tc-region",
        "x-tc-timestamp",
        "x-tc-token",
        "x-tc-content-sha256",
    ];
    match request.repeated_header(&SINGLE) {
        None => Ok(()),
        Some("authorization") => Err(ApiError::new(
            "AuthFailure.InvalidAuthorization",
            "The request carries more than one Authorization header.",
        )),
        Some(name) => Err(ApiError::new(
            "InvalidParameter",
            format!("The header {name} is given more than once."),
        )),
    }
}

fn check_size(request: &Request) -> Result<(), ApiError> {
    let tc3 = request.header("authorization").is_some();
    check_size_of(request, tc3).map_err(|error| {
        if tc3 || request.method == "GET" {
            error
        } else {
            form_too_large()
        }
    })
}

/// `NoSuchVersion`'s recorded template: ``The specified api version=`2018-07-24` does not exist in service=`10`.``
/// (real-wire.md ISS-17) and ``… in service=`tms`.`` (TencentCloud/tencentcloud-sdk-dotnet#45, 2020-12-10). The
/// service is named by a number in one, by its name in the other; CVM's number is recorded nowhere, so its name is
/// given.
fn no_such_version(version: &str, service: &str) -> String {
    format!("The specified api version=`{version}` does not exist in service=`{service}`.")
}

/// A `Signature`-form POST over its limit: the gateway refuses the signature, not the size (real-wire.md ISS-09,
/// TencentCloud/tencentcloud-sdk-dotnet#75 and tencentcloud-sdk-python#42, a large v1-signed body).
fn form_too_large() -> ApiError {
    ApiError::new(
        "AuthFailure.SignatureFailure",
        "The provided credentials could not be validated because of exceeding request size limit, please use new signature method `TC3-HMAC-SHA256`.",
    )
}

/// A form whose `&`-separated pairs are not all `key=value` (an unescaped `&` or `+` in a value, real-wire.md
/// ISS-12): refused before the signature is checked, as recorded.
fn check_pairs(request: &Request) -> Result<(), ApiError> {
    let raw = if request.method.eq_ignore_ascii_case("POST") {
        std::str::from_utf8(&request.body).unwrap_or_default()
    } else {
        request.query()
    };
    if raw
        .split('&')
        .any(|pair| !pair.is_empty() && !pair.contains('='))
    {
        return Err(ApiError::new(
            "InvalidParameter",
            "Url key and value should be splited by `=`.",
        ));
    }
    Ok(())
}

/// Reads action, version, region and token from wherever the request's form keeps them.
fn common_params<'r>(request: &'r Request, claim: &Claim) -> Result<Common<'r>, ApiError> {
    if claim.scheme == Scheme::Tc3 {
        let header = |name: &str| {
            request
                .header(name)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(Cow::Borrowed)
        };
        return Ok(Common {
            action: header("x-tc-action"),
            version: header("x-tc-version"),
            region: header("x-tc-region"),
            token: header("x-tc-token"),
            form: None,
        });
    }
    check_pairs(request)?;
    let form = hmac_param::Params::read(request).map_err(unusable)?;
    match form.get("Nonce") {
        None => return Err(missing("Nonce")),
        // Recorded for a non-integer Nonce (real-wire.md FILE-03).
        Some(nonce) if nonce.is_empty() || !nonce.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(ApiError::new(
                "InvalidParameter",
                "Parameter `Nonce` type error.",
            ));
        }
        Some(_) => {}
    }
    if let Some(name) = wire::COMMON_PARAMS
        .iter()
        .find(|name| form.pairs().filter(|(key, _)| key == *name).count() > 1)
    {
        return Err(ApiError::new(
            "InvalidParameter",
            format!("The parameter `{name}` is given more than once."),
        ));
    }
    let get = |name: &str| {
        form.get(name)
            .filter(|v| !v.is_empty())
            .map(|v| Cow::Owned(v.to_owned()))
    };
    Ok(Common {
        action: get("Action"),
        version: get("Version"),
        region: get("Region"),
        token: get("Token"),
        form: Some(form),
    })
}

/// The action parameters: the `Signature` form's, a TC3 GET's query, or a TC3 POST's JSON body.
fn action_params(request: &Request, common: &Common<'_>) -> Result<ActionParams, ApiError> {
    match &common.form {
        Some(form) => ActionParams::from_pairs(form.pairs()),
        None if request.method == "GET" => {
            let pairs: Vec<(String, String)> = form_urlencoded::parse(request.query().as_bytes())
                .into_owned()
                .collect();
            ActionParams::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        }
        None => ActionParams::from_json(&request.body),
    }
}

/// Authentication, and the world locked for the decisions that follow ([`SharedWorld::authenticate`]): the short
/// lock reads only the key and the clock.
fn authenticate<'a>(
    request: &Request,
    prepared: &Prepared<'_>,
    shared: &'a SharedWorld,
) -> (MutexGuard<'a, World>, Result<Strictly, ApiError>) {
    let secret_id = prepared.claim.secret_id.as_deref().unwrap_or_default();
    shared.authenticate_key(secret_id, |key, now| {
        check_signature(request, prepared, key, now)
    })
}

/// Authentication against a key and a clock, in order: key, window, signature.
fn check_signature(
    request: &Request,
    Prepared { claim, product, .. }: &Prepared<'_>,
    secret_key: Option<&Secret>,
    now: i64,
) -> Result<Strictly, ApiError> {
    let secret_id = claim.secret_id.as_deref().unwrap_or_default();
    let secret_key = match secret_key {
        Some(secret_key) => secret_key,
        None if !secret_id.starts_with("AKID") => {
            return Err(ApiError::new(
                "AuthFailure.InvalidSecretId",
                "Invalid key (not a TencentCloud API key type).",
            ));
        }
        None => return Err(secret_id_not_found()),
    };
    verify(request, claim, secret_key, now, product.service()).map_err(|rejection| match rejection {
        Rejection::Expired { .. } => ApiError::new(
            "AuthFailure.SignatureExpire",
            "The signature is expired, please request again.",
        ),
        _ => ApiError::new(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        )
        .zh("请求签名验证失败，请检查您的签名计算是否正确。"),
    })
}

/// After the signature, on the locked world: the session token, then MFA.
fn check_session(
    world: &World,
    Prepared { claim, common, .. }: &Prepared<'_>,
) -> Result<(), ApiError> {
    let secret_id = claim.secret_id.as_deref().unwrap_or_default();
    known_account(world, secret_id)?
        .check_session(common.token.as_deref())
        .map_err(|refusal| match refusal {
            SessionRefusal::Token => ApiError::new(
                "AuthFailure.TokenFailure",
                "The session token is missing, invalid or not this key's.",
            ),
            SessionRefusal::Mfa => {
                ApiError::new("AuthFailure.MFAFailure", "MFA verification failed.")
            }
        })
}

/// Verifies strictly, then, only for the Node SDK's direct-addressing quirk, with the port left out of the host.
fn verify(
    request: &Request,
    claim: &Claim,
    secret_key: &Secret,
    now: i64,
    service: &'static str,
) -> Result<Strictly, Rejection> {
    let policy = Policy {
        service: Some(service.into()),
        derived_keys: false,
        ..Policy::default()
    };
    let strict = claim.accepts(request, secret_key, Some(now), &policy);
    let Err(rejection) = strict else {
        return Ok(Strictly::Yes);
    };
    let host = request.host().unwrap_or_default();
    let Some((hostname, _port)) = host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
    else {
        return Err(rejection);
    };
    let node_service = hostname.split('.').next().unwrap_or_default();
    let quirk_applies = match &rejection {
        Rejection::ScopeService { scope, .. } => scope == node_service,
        Rejection::Differs(_) => true,
        _ => false,
    };
    if !quirk_applies {
        return Err(rejection);
    }
    let mut portless = request.clone();
    portless.set_header("Host", hostname);
    let service = if claim.scope_service() == Some(node_service) {
        None
    } else {
        Some(service.into())
    };
    claim
        .accepts(
            &portless,
            secret_key,
            Some(now),
            &Policy {
                service,
                derived_keys: false,
                ..Policy::default()
            },
        )
        .map(|()| Strictly::NoHostWasSignedWithoutItsPort)
        .map_err(|_| rejection)
}

/// Whether a signature verified as the request was sent, or only in a tolerated client quirk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strictly {
    Yes,
    /// The Node SDK's: the host signed without its port (and the scope service taken from the host).
    NoHostWasSignedWithoutItsPort,
}

fn unusable(error: Unusable) -> ApiError {
    unusable_error(error, |error| match error {
        Unusable::NoSignature => ApiError::new(
            "AuthFailure.InvalidAuthorization",
            "The request is not signed: no Authorization header and no Signature parameter.",
        ),
        other => ApiError::new(
            "AuthFailure.InvalidAuthorization",
            format!("Authorization in the request header is invalid: {other}."),
        ),
    })
}
