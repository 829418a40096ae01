//! Requests as the official Python SDK (zenlayercloud-sdk-python 2.0.77) builds them, for the harness: `POST
//! /api/v2/bmc` to `console.zenlayer.com`, the SDK's headers in its order and with its lower-case names, the body
//! as `json.dumps` writes it (`{"instanceId": "…"}`), ZC2 signing `content-type;host`, or `Authorization: Bearer`
//! with no timestamp or signature-method header. Built this way, the captured vectors' signing strings apply as
//! they are (`tests/vectors/zc2/zc2-zenlayer-bmc-2022-11-20`, `tests/vectors/bearer/`).
//!
//! What `requests` adds before the SDK's headers (`User-Agent`, `Accept-Encoding`, `Accept`, `Connection`) is the
//! HTTP library's, unsigned, and left out.

use serde_json::Value;

use super::wire::DEFAULT_VERSION;
use super::{ENDPOINT, PATH};
use crate::message::Request;
use crate::provider::Call;
use crate::provider::SignForm;
use crate::provider::tencent::client::python_json;
use crate::signing::{self, Scheme, SignOptions, Signed, Trace, Unusable};

/// `x-zc-sdk-version` of the pinned SDK (`SDK_PYTHON_%s` % `__version__`, zero-padded by the package).
pub const SDK_VERSION: &str = "SDK_PYTHON_2.0.077";

/// Builds and signs the request; the trace is `None` for unsigned requests.
pub fn build(call: &Call<'_>) -> Result<(Request, Option<Trace>), Unusable> {
    let scheme = match call.sign {
        SignForm::Zc2 => Some(Scheme::Zc2),
        SignForm::Bearer => Some(Scheme::Bearer),
        SignForm::None => None,
        other => {
            return Err(Unusable::Conflict(format!(
                "Zenlayer signs with zc2 or bearer, not {other:?}"
            )));
        }
    };
    let mut request = Request {
        method: call.method.to_owned(),
        target: PATH.to_owned(),
        headers: Vec::new(),
        body: python_json(&Value::Object(call.params.clone())).into_bytes(),
    };
    let mut push = |name: &str, value: &str| request.headers.push((name.into(), value.into()));
    push("x-zc-version", call.version.unwrap_or(DEFAULT_VERSION));
    push("x-zc-service", "bmc");
    push("x-zc-action", call.action);
    push("x-zc-sdk-version", SDK_VERSION);
    push("x-zc-sdk-lang", "Python");
    push("host", ENDPOINT);
    push("Content-Type", "application/json");
    if scheme == Some(Scheme::Zc2) {
        push("x-zc-signature-method", signing::zc2::ALGORITHM);
        push("x-zc-timestamp", &call.timestamp.to_string());
    }
    for (name, value) in call.headers {
        request.set_header(name, value.clone());
    }
    let (mut request, trace) = match scheme {
        None => (request, None),
        Some(scheme) => {
            let Signed { request, trace } =
                signing::sign(&request, call.credentials, scheme, &SignOptions::default())?;
            (request, Some(trace))
        }
    };
    // requests adds Content-Length when it prepares the body: after the SDK's headers, Authorization included.
    let length = request.body.len().to_string();
    request.headers.push(("Content-Length".into(), length));
    Ok((request, trace))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::Credentials;

    /// The captured request of `tests/vectors/zc2/zc2-zenlayer-bmc-2022-11-20`, less requests' own headers.
    #[test]
    fn zc2_requests_are_the_sdks_bytes() {
        let params = serde_json::json!({ "instanceId": "564212148932313088" });
        let credentials = Credentials::new("ZLAKIDEXAMPLE0001", "ZLsecretEXAMPLEpassword0001");
        let call = Call {
            action: "TerminateInstance",
            params: params.as_object().unwrap(),
            region: None,
            version: Some("2022-11-20"),
            credentials: &credentials,
            token: None,
            timestamp: 1_700_000_000,
            nonce: 0,
            sign: SignForm::Zc2,
            method: "POST",
            headers: &[],
        };
        let (request, _) = build(&call).unwrap();
        let expected = "POST /api/v2/bmc HTTP/1.1\r\n\
            x-zc-version: 2022-11-20\r\n\
            x-zc-service: bmc\r\n\
            x-zc-action: TerminateInstance\r\n\
            x-zc-sdk-version: SDK_PYTHON_2.0.077\r\n\
            x-zc-sdk-lang: Python\r\n\
            host: console.zenlayer.com\r\n\
            Content-Type: application/json\r\n\
            x-zc-signature-method: ZC2-HMAC-SHA256\r\n\
            x-zc-timestamp: 1700000000\r\n\
            Authorization: ZC2-HMAC-SHA256 Credential=ZLAKIDEXAMPLE0001, SignedHeaders=content-type;host, \
            Signature=7a9929f66b528ca1b5d22a848b230d9d0e089128299073e76724e747fd7c7352\r\n\
            Content-Length: 36\r\n\
            \r\n\
            {\"instanceId\": \"564212148932313088\"}";
        assert_eq!(String::from_utf8(request.to_bytes()).unwrap(), expected);
    }
}
