//! Zenlayer Cloud API 2.0 on the wire: the envelopes, the error codes with their HTTP statuses, and action
//! parameters decoded from the JSON body.
//!
//! Success is HTTP 200 `{"requestId":"T…","response":{"requestId":"T…",…fields}}` (the inner id is the outer one);
//! failure is a 4xx or 5xx status with the flat `{"requestId":"T…","code":"UPPER_SNAKE","message":"…"}` (DOC-RESP,
//! `shared/reference/zenlayer-api.md` §3). The SDKs tell success from failure by the status alone, so a code is
//! always sent with its status.
//!
//! # Codes
//!
//! Documented, with their statuses: seed 003's six `TerminateInstance` codes, `ReleaseInstances`'
//! `OPERATION_DENIED_INSTANCE_NOT_RECYCLED` (403, DOC-REL) and `REQUEST_LIMIT_EXCEEDED` (429, the Python SDK's
//! `Config` and README). `MISSING_PARAMETER` is named by the SDKs' BMC code lists, `INTERNAL_SERVER_ERROR` and
//! `SERVICE_TEMPORARY_UNAVAILABLE` by the Terraform provider; their statuses are not documented (400, 500 and 503
//! are terminus's choice). Every other code here is **terminus's own choice, not authoritative**: the Common Error
//! Codes page is in no source we have (reference §3, §7), so the authentication failures (401), the malformed
//! request (400), the unknown action or version (400), the method (405), the content type (415) and the size (413)
//! are named as the documented codes are, and marked (chosen) below.

use serde_json::{Map, Value, json};

/// The API versions of the Bare Metal service: the deprecated 2022-11-20 and the current 2026-02-01.
pub const VERSIONS: [&str; 2] = ["2022-11-20", "2026-02-01"];
/// The version a request gets when a case names none: the current one.
pub const DEFAULT_VERSION: &str = "2026-02-01";

/// The actions the mock serves.
pub const ACTIONS: [&str; 4] = [
    "TerminateInstance",
    "ReleaseInstances",
    "DescribeInstances",
    "CreateInstances",
];

/// The documentation's error example (real-wire.md ZEN-DOC-01, status "4xx"; 404 chosen, as for an instance):
/// `CreateInstances` in a zone that does not exist.
pub const ZONE_NOT_FOUND: &str = "INVALID_ZONE_NOT_FOUND";
/// Seed 003, 404: the instance does not exist (for the caller).
pub const INSTANCE_NOT_FOUND: &str = "INVALID_INSTANCE_NOT_FOUND";
/// Seed 003, 403: the instance is in the recycle bin.
pub const INSTANCE_RECYCLED: &str = "OPERATION_DENIED_INSTANCE_RECYCLED";
/// Seed 003, 403: the instance is being created.
pub const INSTANCE_CREATING: &str = "OPERATION_DENIED_INSTANCE_CREATING";
/// Seed 003, 403: the instance's operating system is being installed.
pub const INSTANCE_INSTALLING: &str = "OPERATION_DENIED_INSTANCE_STATUS_INSTALLING";
/// Seed 003, 403: a subscription instance.
pub const INSTANCE_SUBSCRIPTION: &str = "OPERATION_DENIED_INSTANCE_SUBSCRIPTION";
/// Seed 003, 403: a pay-as-you-go resource in its commitment period.
pub const POSTPAID_PROMISE: &str = "OPERATION_DENIED_POSTPAID_PROMISE";
/// DOC-REL, 403: `ReleaseInstances` on an instance outside the recycle bin.
pub const INSTANCE_NOT_RECYCLED: &str = "OPERATION_DENIED_INSTANCE_NOT_RECYCLED";
/// Python SDK `Config`/README, 429: throttled.
pub const REQUEST_LIMIT_EXCEEDED: &str = "REQUEST_LIMIT_EXCEEDED";
/// SDK code lists ("The parameter is empty."); status 400 chosen.
pub const MISSING_PARAMETER: &str = "MISSING_PARAMETER";
/// Terraform provider; status 500 chosen.
pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";
/// Terraform provider (retryable); status 503 chosen.
pub const SERVICE_UNAVAILABLE: &str = "SERVICE_TEMPORARY_UNAVAILABLE";
/// (chosen) 400: a body that is not a JSON object, a parameter of the wrong type or value, an unknown parameter.
pub const INVALID_PARAMETER: &str = "INVALID_PARAMETER";
/// (chosen) 400: an `X-ZC-Action` the service does not have.
pub const INVALID_ACTION: &str = "INVALID_ACTION";
/// (chosen) 400: an `X-ZC-Version` the service does not have.
pub const INVALID_VERSION: &str = "INVALID_VERSION";
/// (chosen) 404: a path other than `/api/v2/bmc`.
pub const INVALID_SERVICE: &str = "INVALID_SERVICE";
/// (chosen) 405: a method other than POST (DOC-REQ: only POST is supported).
pub const UNSUPPORTED_METHOD: &str = "UNSUPPORTED_HTTP_METHOD";
/// (chosen) 415: a `Content-Type` other than `application/json` (DOC-REQ).
pub const UNSUPPORTED_CONTENT_TYPE: &str = "UNSUPPORTED_CONTENT_TYPE";
/// (chosen) 413: a body over [`BODY_LIMIT`].
pub const REQUEST_TOO_LARGE: &str = "REQUEST_BODY_TOO_LARGE";
/// (chosen) 401: no `Authorization`, one that cannot be read, or a scheme other than ZC2 and Bearer.
pub const INVALID_AUTHORIZATION: &str = "AUTH_FAILURE_INVALID_AUTHORIZATION";
/// (chosen) 401: an AccessKeyId no account has (or a disabled one).
pub const ACCESS_KEY_NOT_FOUND: &str = "AUTH_FAILURE_ACCESS_KEY_NOT_FOUND";
/// (chosen) 401: `X-ZC-Timestamp` more than [`MAX_SKEW`] seconds from the server's time.
pub const SIGNATURE_EXPIRED: &str = "AUTH_FAILURE_SIGNATURE_EXPIRED";
/// (chosen) 401: the signature does not verify.
pub const SIGNATURE_FAILURE: &str = "AUTH_FAILURE_SIGNATURE_FAILURE";
/// (chosen) 401: a Bearer token no account has.
pub const INVALID_TOKEN: &str = "AUTH_FAILURE_INVALID_TOKEN";

/// The accepted distance between `X-ZC-Timestamp` and the server's time, in seconds. Not documented: terminus
/// takes Tencent's five minutes.
pub const MAX_SKEW: u64 = 300;
/// The most body bytes read. Not documented: terminus's choice, far above any Bare Metal request.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The HTTP status a code is answered with: the documented one where there is one, else terminus's choice (see
/// the module docs); any other code (an injected one) 500.
pub fn status_of(code: &str) -> u16 {
    match code {
        INSTANCE_NOT_FOUND | ZONE_NOT_FOUND | INVALID_SERVICE => 404,
        INSTANCE_RECYCLED
        | INSTANCE_CREATING
        | INSTANCE_INSTALLING
        | INSTANCE_SUBSCRIPTION
        | POSTPAID_PROMISE
        | INSTANCE_NOT_RECYCLED => 403,
        REQUEST_LIMIT_EXCEEDED => 429,
        MISSING_PARAMETER | INVALID_PARAMETER | INVALID_ACTION | INVALID_VERSION => 400,
        INVALID_AUTHORIZATION
        | ACCESS_KEY_NOT_FOUND
        | SIGNATURE_EXPIRED
        | SIGNATURE_FAILURE
        | INVALID_TOKEN => 401,
        UNSUPPORTED_METHOD => 405,
        REQUEST_TOO_LARGE => 413,
        UNSUPPORTED_CONTENT_TYPE => 415,
        SERVICE_UNAVAILABLE => 503,
        _ => 500,
    }
}

/// An error to answer with: its HTTP status, code and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The code, UPPER_SNAKE.
    pub code: String,
    /// A message (messages are not stable; clients must not parse them).
    pub message: String,
}

impl ApiError {
    /// An error with this code, its status ([`status_of`]) and a message.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            status: status_of(code),
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// An error with a status of its own (an injected HTTP fault).
    pub fn with_status(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// The request id of the `n`-th id the world hands out: `T` and an upper-case UUID, as documented
/// (`TC1748D3E-452D-4F74-8485-7AA73718E453`).
pub fn request_id(world_id: &str) -> String {
    format!("T{}", world_id.to_ascii_uppercase())
}

/// `{"requestId":…,"response":{"requestId":…,…fields}}`.
pub fn success(request_id: &str, fields: Map<String, Value>) -> Vec<u8> {
    let mut response = Map::with_capacity(fields.len() + 1);
    response.insert("requestId".to_owned(), Value::from(request_id));
    response.extend(fields);
    let body = json!({ "requestId": request_id, "response": response });
    serde_json::to_vec(&body).expect("JSON values serialise")
}

/// `{"requestId":…,"code":…,"message":…}`.
pub fn error(request_id: &str, error: &ApiError) -> Vec<u8> {
    let body = json!({ "requestId": request_id, "code": error.code, "message": error.message });
    serde_json::to_vec(&body).expect("JSON values serialise")
}

/// Reads an answer: `Ok(fields of response)` for the success envelope, `Err(code)` for the error body; the outer
/// `Err` when the body is neither. (The HTTP status is the harness's to check.)
#[allow(clippy::type_complexity)]
pub fn read_answer(body: &[u8]) -> Result<Result<Map<String, Value>, String>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|error| format!("the answer is not JSON: {error}"))?;
    let object = value.as_object().ok_or("the answer is not a JSON object")?;
    let request_id = object
        .get("requestId")
        .and_then(Value::as_str)
        .ok_or("the answer has no requestId")?;
    if let Some(response) = object.get("response") {
        let response = response
            .as_object()
            .ok_or("the answer's response is not an object")?;
        if response.get("requestId").and_then(Value::as_str) != Some(request_id) {
            return Err("the answer's response.requestId is not its requestId".into());
        }
        return Ok(Ok(response.clone()));
    }
    match (object.get("code"), object.get("message")) {
        (Some(Value::String(code)), Some(Value::String(_))) => Ok(Err(code.clone())),
        _ => Err("the answer has neither a response nor a code and a message".into()),
    }
}

/// The action parameters of a JSON body.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    values: Map<String, Value>,
}

impl Params {
    /// Reads the body: a JSON object, no key twice (empty means `{}`).
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        crate::provider::tencent::wire::ActionParams::from_json(body)
            .map(|params| Self {
                values: params.values,
            })
            .map_err(|error| ApiError::new(INVALID_PARAMETER, error.message))
    }

    /// Refuses any parameter not in `known`.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match crate::provider::unknown_parameter(&self.values, known) {
            Some(name) => Err(ApiError::new(
                INVALID_PARAMETER,
                format!("The parameter `{name}` is not recognized."),
            )),
            None => Ok(()),
        }
    }

    /// Refuses a parameter the API has but the mock does not model (rather than ignoring it silently).
    pub fn not_modelled(&self, names: &[&str]) -> Result<(), ApiError> {
        match names.iter().find(|name| self.values.contains_key(**name)) {
            Some(name) => Err(ApiError::new(
                INVALID_PARAMETER,
                format!("terminus does not model the parameter `{name}`; leave it out."),
            )),
            None => Ok(()),
        }
    }

    /// A string; `None` when absent or `null` (the SDKs drop `None` fields, so `null` never comes from them).
    pub fn string(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(wrong_type(name, "a string")),
        }
    }

    /// A list of strings; `None` when absent.
    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| wrong_type(name, "an array of strings"))
                })
                .collect::<Result<_, _>>()
                .map(Some),
            Some(_) => Err(wrong_type(name, "an array of strings")),
        }
    }

    /// An integer field of an object parameter (`instanceChargePrepaid.period`); `None` when either is absent.
    pub fn object_integer(&self, name: &str, field: &str) -> Result<Option<i64>, ApiError> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(fields)) => match fields.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(number)) => number
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| wrong_type(&format!("{name}.{field}"), "an integer")),
                Some(_) => Err(wrong_type(&format!("{name}.{field}"), "an integer")),
            },
            Some(_) => Err(wrong_type(name, "an object")),
        }
    }

    /// An integer; `None` when absent.
    pub fn integer(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) => number
                .as_i64()
                .map(Some)
                .ok_or_else(|| wrong_type(name, "an integer")),
            Some(_) => Err(wrong_type(name, "an integer")),
        }
    }
}

fn wrong_type(name: &str, what: &str) -> ApiError {
    ApiError::new(
        INVALID_PARAMETER,
        format!("The parameter `{name}` must be {what}."),
    )
}

/// `MISSING_PARAMETER` for this name.
pub fn missing(name: &str) -> ApiError {
    ApiError::new(
        MISSING_PARAMETER,
        format!("The parameter `{name}` is empty."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelopes_read_back() {
        let mut fields = Map::new();
        fields.insert("totalCount".into(), Value::from(0));
        let body = success("T1", fields);
        assert_eq!(
            String::from_utf8(body.clone()).unwrap(),
            r#"{"requestId":"T1","response":{"requestId":"T1","totalCount":0}}"#
        );
        assert_eq!(read_answer(&body).unwrap().unwrap()["totalCount"], 0);
        let body = error(
            "T2",
            &ApiError::new(INSTANCE_NOT_FOUND, "Instance does not exist."),
        );
        assert_eq!(
            String::from_utf8(body.clone()).unwrap(),
            r#"{"requestId":"T2","code":"INVALID_INSTANCE_NOT_FOUND","message":"Instance does not exist."}"#
        );
        assert_eq!(
            read_answer(&body).unwrap(),
            Err("INVALID_INSTANCE_NOT_FOUND".to_owned())
        );
        // A Tencent envelope is neither.
        assert!(read_answer(br#"{"Response":{"RequestId":"x"}}"#).is_err());
    }

    #[test]
    fn documented_codes_keep_their_documented_statuses() {
        for (code, status) in [
            ("INVALID_INSTANCE_NOT_FOUND", 404),
            ("OPERATION_DENIED_INSTANCE_RECYCLED", 403),
            ("OPERATION_DENIED_INSTANCE_CREATING", 403),
            ("OPERATION_DENIED_INSTANCE_STATUS_INSTALLING", 403),
            ("OPERATION_DENIED_INSTANCE_SUBSCRIPTION", 403),
            ("OPERATION_DENIED_POSTPAID_PROMISE", 403),
            ("OPERATION_DENIED_INSTANCE_NOT_RECYCLED", 403),
            ("REQUEST_LIMIT_EXCEEDED", 429),
        ] {
            assert_eq!(status_of(code), status, "{code}");
        }
    }

    #[test]
    fn request_ids_look_like_the_documented_ones() {
        assert_eq!(
            request_id("00000000-0000-4000-8000-00000000002a"),
            "T00000000-0000-4000-8000-00000000002A"
        );
    }
}
