//! The legacy gateway on the wire: its two envelopes, its codes, and the choices made where its documents are
//! silent (each one written down here, with the README's list of differences from API 3.0).
//!
//! Two kinds of action share `/v2/index.php` (reference §4.4):
//!
//! * `Version=2017-03-12` actions (`TerminateInstances`, seed 000) answer in the API 3.0 envelope,
//!   `{"Response":{…,"RequestId":…}}` and `{"Response":{"Error":{"Code":…,"Message":…},"RequestId":…}}`, with
//!   string codes;
//! * 2.0 actions (`ReturnInstance`, seed 004) answer `{"code":0,"message":"ok"}` on success and
//!   `{"code":<number>,"message":…,"codeDesc":…}` on failure.
//!
//! Every error is made once, as a string code (an [`ApiError`]); the 2.0 envelope derives its numeric `code` from
//! it ([`numeric_code`], the numeric table of §4.4) and carries the string in `codeDesc` ([`code_desc`]).

use serde_json::{Map, Value, json};

use crate::provider::tencent::wire::{self as v3, ApiError};

pub use crate::provider::tencent::wire::VERSION;

/// The `Version=2017-03-12` actions this gateway serves: they require `Version` and answer in the 3.0 envelope.
pub const VERSIONED_ACTIONS: [&str; 1] = ["TerminateInstances"];

/// The 2.0 actions this gateway serves: they take no `Version` and answer in the numeric envelope.
pub const V2_ACTIONS: [&str; 1] = ["ReturnInstance"];

/// The legacy short region names accepted for `Region`, and the region each one is. The API 2.0 documents'
/// examples write `Region=gz` (reference §3.4); qcloudcli's configuration page lists `gz, hk, ca, sh, shjr, bj,
/// sg`. `ca` is left out: no document here says which region it is.
pub const SHORT_REGIONS: [(&str, &str); 6] = [
    ("bj", "ap-beijing"),
    ("gz", "ap-guangzhou"),
    ("hk", "ap-hongkong"),
    ("sg", "ap-singapore"),
    ("sh", "ap-shanghai"),
    ("shjr", "ap-shanghai-fsi"),
];

/// The region a `Region` value names: a short name's region, or the value itself.
pub fn region_name(region: &str) -> &str {
    SHORT_REGIONS
        .iter()
        .find(|(short, _)| *short == region)
        .map_or(region, |(_, name)| name)
}

/// The `Version` a request for `action` carries unless told otherwise: `2017-03-12` for the versioned actions,
/// none for the 2.0 ones (QcloudApi sends `Version` only when it is configured).
pub fn default_version(action: &str) -> Option<&'static str> {
    if V2_ACTIONS.contains(&action) {
        None
    } else {
        Some(VERSION)
    }
}

/// The envelope of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Envelope {
    /// `{"Response":{…}}`, string codes.
    V3,
    /// `{"code":…,"message":…[,"codeDesc":…]}`, numeric codes.
    V2,
}

impl Envelope {
    /// The envelope for a request naming this action and version (read before anything is verified): the 3.0
    /// one when it carries a `Version` or names a versioned action (so `TerminateInstances` without `Version` is
    /// told `MissingParameter` in the envelope its clients read), the 2.0 one otherwise.
    pub fn for_request(action: Option<&str>, version: Option<&str>) -> Self {
        let versioned = version.is_some_and(|version| !version.is_empty())
            || action.is_some_and(|action| VERSIONED_ACTIONS.contains(&action));
        if versioned { Self::V3 } else { Self::V2 }
    }
}

/// The numeric `code` of the 2.0 envelope for a string code: the §4.4 table of API 2.0 common codes.
///
/// | code | for |
/// |---|---|
/// | 4000 | parameters: missing, malformed, unknown, unsupported (`MissingParameter`, `InvalidParameter*`, `InvalidInstanceId.Malformed`, `UnknownParameter`, `NoSuchVersion`, regions, size) |
/// | 4100 | authentication (`AuthFailure`, `InvalidParameter.SignatureFailure`) |
/// | 4104 | `InvalidParameter.SecretIdNotFound` |
/// | 4105 | token errors (`InvalidRequest.TokenCheckFailed`, `UnauthorizedOperation.InvalidToken`) |
/// | 4106 | MFA (`InvalidRequest.MFACheckFailed`, `UnauthorizedOperation.MFA*`) |
/// | 4400 | the request rate (`InvalidRequest.RequestConcurrencyExceeded`, `InvalidRequest.LimitExceeded`) |
/// | 4500 | replay: a Nonce used twice or a Timestamp out of the window (`InvalidRequest.ReplayAttack`) |
/// | 4600 | `InvalidRequest.UnsupportedProtocol` |
/// | 5000 | the resource does not exist, is already returned, or is another user's |
/// | 5100 | any other refusal of the operation (`OperationConstraints.InvaildInstanceStatus`, …) |
/// | 6000 | internal errors (`InternalError*`, `InternalServerError`) |
/// | 6100 | `InvalidAction.NotFound` (an action this version does not have) |
pub fn numeric_code(code: &str) -> u16 {
    match code {
        "AuthFailure" | "InvalidParameter.SignatureFailure" => 4100,
        "InvalidParameter.SecretIdNotFound" => 4104,
        "InvalidRequest.TokenCheckFailed" | "UnauthorizedOperation.InvalidToken" => 4105,
        "InvalidRequest.MFACheckFailed"
        | "UnauthorizedOperation.MFANotFound"
        | "UnauthorizedOperation.MFAExpired" => 4106,
        "InvalidRequest.RequestConcurrencyExceeded" | "InvalidRequest.LimitExceeded" => 4400,
        "InvalidRequest.ReplayAttack" => 4500,
        "InvalidRequest.UnsupportedProtocol" => 4600,
        "InvalidInstanceId.NotFound"
        | "UnsupportedOperation.InvalidInstancesOwner"
        | "UnsupportedOperation.InstanceStateTerminated" => 5000,
        "InternalServerError" => 6000,
        "InvalidAction.NotFound" => 6100,
        "MissingParameter"
        | "UnknownParameter"
        | "InvalidInstanceId.Malformed"
        | "NoSuchVersion"
        | "UnsupportedRegion"
        | "UnsupportedOperation.Region"
        | "RequestSizeLimitExceeded" => 4000,
        _ if code.starts_with("InvalidParameter") => 4000,
        _ if code.starts_with("InternalError") => 6000,
        _ => 5100,
    }
}

/// `codeDesc` of the 2.0 envelope: the string code, except for 4100, which the 2.0 documents' examples print as
/// `"codeDesc": "AuthFailure"` whatever failed.
pub fn code_desc(code: &str) -> &str {
    if numeric_code(code) == 4100 {
        "AuthFailure"
    } else {
        code
    }
}

/// The answer's body: `Ok` carries a successful 3.0 answer's fields (the 2.0 envelope has none).
pub fn answer(
    envelope: Envelope,
    request_id: &str,
    outcome: Result<Map<String, Value>, ApiError>,
) -> Vec<u8> {
    match (envelope, outcome) {
        (Envelope::V3, Ok(fields)) => v3::success(request_id, &fields),
        (Envelope::V3, Err(error)) => v3::error(request_id, &error, v3::Language::EnUs),
        (Envelope::V2, Ok(_)) => v2_success(),
        (Envelope::V2, Err(error)) => v2_error(&error),
    }
}

/// `{"code":0,"message":"ok"}`, as seed 004's example prints it.
pub fn v2_success() -> Vec<u8> {
    serde_json::to_vec(&json!({ "code": 0, "message": "ok" })).expect("JSON values serialise")
}

/// `{"code":<number>,"message":…,"codeDesc":…}`, in the order of the 2.0 documents' examples.
pub fn v2_error(error: &ApiError) -> Vec<u8> {
    let body = json!({
        "code": numeric_code(&error.code),
        "message": error.message,
        "codeDesc": code_desc(&error.code),
    });
    serde_json::to_vec(&body).expect("JSON values serialise")
}

/// Reads either envelope: `Ok(fields)` for success, `Err(code)` for an error (the 3.0 `Error.Code`, or the 2.0
/// `codeDesc`); the outer `Err` when the body is neither envelope.
#[allow(clippy::type_complexity)]
pub fn read_answer(body: &[u8]) -> Result<Result<Map<String, Value>, String>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|error| format!("the answer is not JSON: {error}"))?;
    if value.get("Response").is_some() {
        return v3::read_answer(body);
    }
    let object = value
        .as_object()
        .ok_or("the answer is neither {\"Response\":…} nor {\"code\":…}")?;
    let code = object
        .get("code")
        .and_then(Value::as_i64)
        .ok_or("the answer has neither a Response object nor an integer code")?;
    if !object.get("message").is_some_and(Value::is_string) {
        return Err("the answer's message is not a string".into());
    }
    if code == 0 {
        return Ok(Ok(object.clone()));
    }
    object
        .get("codeDesc")
        .and_then(Value::as_str)
        .map(|desc| Err(desc.to_owned()))
        .ok_or_else(|| format!("the answer's code is {code} but it has no codeDesc"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_examples_read_as_success_and_error() {
        // Seed 004's success, and the 2.0 documents' authentication failure (reference §4.4).
        let ok = read_answer(br#"{"code":0,"message":"ok"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(ok.get("message"), Some(&Value::from("ok")));
        let failed =
            br#"{"code":4100,"message":"Authentication failed.","codeDesc":"AuthFailure"}"#;
        assert_eq!(read_answer(failed).unwrap(), Err("AuthFailure".to_owned()));
        // Seed 000's success.
        let v3 = br#"{"Response":{"RequestId":"6EF60BEC-0242-43AF-BB20-270359FB54A7"}}"#;
        assert!(read_answer(v3).unwrap().is_ok());
        assert!(read_answer(br#"{"code":"0"}"#).is_err());
    }

    #[test]
    fn the_2_0_envelope_carries_the_numeric_table() {
        let error = ApiError::new("OperationConstraints.InvaildInstanceStatus", "m");
        assert_eq!(
            String::from_utf8(v2_error(&error)).unwrap(),
            r#"{"code":5100,"message":"m","codeDesc":"OperationConstraints.InvaildInstanceStatus"}"#
        );
        for (code, numeric) in [
            ("MissingParameter", 4000),
            ("InvalidInstanceId.Malformed", 4000),
            ("InvalidParameter.SignatureFailure", 4100),
            ("AuthFailure", 4100),
            ("InvalidParameter.SecretIdNotFound", 4104),
            ("InvalidRequest.TokenCheckFailed", 4105),
            ("InvalidRequest.MFACheckFailed", 4106),
            ("InvalidRequest.RequestConcurrencyExceeded", 4400),
            ("InvalidRequest.ReplayAttack", 4500),
            ("InvalidRequest.UnsupportedProtocol", 4600),
            ("InvalidInstanceId.NotFound", 5000),
            ("UnsupportedOperation.InstanceStateTerminated", 5000),
            ("UnsupportedOperation.InstanceChargeType", 5100),
            ("InternalError", 6000),
            ("InternalServerError", 6000),
            ("InvalidAction.NotFound", 6100),
        ] {
            assert_eq!(numeric_code(code), numeric, "{code}");
        }
        assert_eq!(
            code_desc("InvalidParameter.SignatureFailure"),
            "AuthFailure"
        );
        assert_eq!(
            code_desc("InvalidRequest.ReplayAttack"),
            "InvalidRequest.ReplayAttack"
        );
        assert_eq!(
            String::from_utf8(v2_success()).unwrap(),
            r#"{"code":0,"message":"ok"}"#
        );
    }

    #[test]
    fn the_envelope_follows_the_version_or_a_versioned_action() {
        assert_eq!(
            Envelope::for_request(Some("TerminateInstances"), None),
            Envelope::V3
        );
        assert_eq!(
            Envelope::for_request(Some("ReturnInstance"), None),
            Envelope::V2
        );
        assert_eq!(
            Envelope::for_request(Some("ReturnInstance"), Some(VERSION)),
            Envelope::V3
        );
        assert_eq!(Envelope::for_request(None, None), Envelope::V2);
        assert_eq!(region_name("gz"), "ap-guangzhou");
        assert_eq!(region_name("ap-guangzhou"), "ap-guangzhou");
    }
}
