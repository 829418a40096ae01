//! Requests as the legacy QcloudApi client (2.0.15, bundled in tencentcloud-sdk-python) builds them for
//! `cvm.api.qcloud.com/v2/index.php` (reference §3.1, `QcloudApi/modules/base.py`, the `legacy-qcloudapi-*`
//! vectors): the action parameters first, flattened (`InstanceIds.0`, Python's `True`/`False`), then `Action`,
//! `RequestClient=SDK_PYTHON_2.0.15`, `Region`, `Version` (when there is one), `Token`, `SecretId`, `Nonce`,
//! `Timestamp`, `SignatureMethod` (always sent, `HmacSHA1` by default), and last `Signature`. GET carries them in
//! the query with the headers `Host` and `Accept-Encoding: identity` and no others (no User-Agent, no
//! Content-Type); POST in a form body, adding `Content-Length` and `Content-Type`.
//!
//! A step signed `tc3` gets an API 3.0 request (as the Python SDK builds it) sent to this gateway instead, and one
//! signed `zc2` or `bearer` the parameter form with Zenlayer's `Authorization` header, to show that the gateway
//! refuses them.

use super::wire;
use super::{ENDPOINT, PATH};
use crate::message::Request;
use crate::provider::Call;
use crate::provider::SignForm;
use crate::provider::tencent::client::flatten;
use crate::signing::{self, Scheme, SignOptions, Signed, Trace, Unusable};

/// The `RequestClient` QcloudApi 2.0.15 sends.
pub const REQUEST_CLIENT: &str = "SDK_PYTHON_2.0.15";

/// Builds and signs the request; the trace is `None` for unsigned requests.
///
/// `call.version`: `None` is the action's own ([`wire::default_version`]: `2017-03-12` for `TerminateInstances`,
/// none for `ReturnInstance`); `Some("")` sends none.
pub fn build(call: &Call<'_>) -> Result<(Request, Option<Trace>), Unusable> {
    let version = match call.version {
        None => wire::default_version(call.action),
        Some("") => None,
        Some(version) => Some(version),
    };
    let (scheme, options) = match call.sign {
        SignForm::Tc3 | SignForm::Tc3UnsignedPayload | SignForm::Tc3SignAction => {
            return tc3_form(call, version);
        }
        SignForm::Zc2 | SignForm::Bearer => return foreign_form(call, version),
        SignForm::None => return Ok((parameter_form(call, version), None)),
        SignForm::HmacSha1 => (Scheme::HmacSha1, SignOptions::default()),
        SignForm::HmacSha256 => (Scheme::HmacSha256, SignOptions::default()),
    };
    let request = parameter_form(call, version);
    let Signed { request, trace } = signing::sign(&request, call.credentials, scheme, &options)?;
    Ok((request, Some(trace)))
}

fn parameter_form(call: &Call<'_>, version: Option<&str>) -> Request {
    let mut pairs = flatten(call.params);
    let mut push = |name: &str, value: String| pairs.push((name.to_owned(), value));
    push("Action", call.action.to_owned());
    push("RequestClient", REQUEST_CLIENT.to_owned());
    if let Some(region) = call.region {
        push("Region", region.to_owned());
    }
    if let Some(version) = version {
        push("Version", version.to_owned());
    }
    if let Some(token) = call.token {
        push("Token", token.to_owned());
    }
    push("SecretId", call.credentials.secret_id.clone());
    push("Nonce", call.nonce.to_string());
    push("Timestamp", call.timestamp.to_string());
    let method = if call.sign == SignForm::HmacSha256 {
        "HmacSHA256"
    } else {
        "HmacSHA1"
    };
    push("SignatureMethod", method.to_owned());
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    let mut request = Request {
        method: call.method.to_owned(),
        target: PATH.to_owned(),
        headers: vec![
            ("Host".into(), ENDPOINT.into()),
            ("Accept-Encoding".into(), "identity".into()),
        ],
        body: Vec::new(),
    };
    if call.method == "POST" {
        request.body = encoded.into_bytes();
        request
            .headers
            .push(("Content-Length".into(), request.body.len().to_string()));
        request.headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
    } else {
        request.set_query(&encoded);
    }
    for (name, value) in call.headers {
        request.set_header(name, value.clone());
    }
    request
}

/// The parameter form signed with Zenlayer's ZC2 (with the `X-ZC-*` headers and a Content-Type it needs) or a
/// Bearer token instead of the `Signature` parameter, to show that the gateway refuses them.
fn foreign_form(
    call: &Call<'_>,
    version: Option<&str>,
) -> Result<(Request, Option<Trace>), Unusable> {
    let mut request = parameter_form(call, version);
    let scheme = if call.sign == SignForm::Zc2 {
        if request.header("content-type").is_none() {
            request.set_header("Content-Type", "application/x-www-form-urlencoded");
        }
        request.set_header("X-ZC-Timestamp", call.timestamp.to_string());
        request.set_header("X-ZC-Signature-Method", "ZC2-HMAC-SHA256");
        Scheme::Zc2
    } else {
        Scheme::Bearer
    };
    let Signed { request, trace } =
        signing::sign(&request, call.credentials, scheme, &SignOptions::default())?;
    Ok((request, Some(trace)))
}

/// An API 3.0 TC3 request, as the Python SDK builds it, addressed to this gateway.
fn tc3_form(call: &Call<'_>, version: Option<&str>) -> Result<(Request, Option<Trace>), Unusable> {
    let unsigned = Call {
        version: Some(version.unwrap_or(wire::VERSION)),
        sign: SignForm::None,
        ..call.clone()
    };
    let (mut request, _) = crate::provider::tencent::client::build(&unsigned)?;
    let query = request.query().to_owned();
    request.target = PATH.to_owned();
    request.set_query(&query);
    request.set_header("Host", ENDPOINT);
    let mut options = SignOptions {
        signed_headers: None,
        service: Some("cvm".into()),
    };
    match call.sign {
        SignForm::Tc3UnsignedPayload => {
            request.set_header("X-TC-Content-SHA256", "UNSIGNED-PAYLOAD")
        }
        SignForm::Tc3SignAction => {
            options.signed_headers = Some("content-type;host;x-tc-action".into());
        }
        _ => {}
    }
    let Signed { request, trace } =
        signing::sign(&request, call.credentials, Scheme::Tc3, &options)?;
    Ok((request, Some(trace)))
}
