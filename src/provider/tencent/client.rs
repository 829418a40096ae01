//! Requests as the official Python SDK builds them, for the harness: the same header order, the same JSON
//! (`json.dumps` defaults: `", "` and `": "` separators, non-ASCII as `\uXXXX`), the same flattened forms
//! (`InstanceIds.0`, Python's `True`/`False`). Built this way, a case's expected signing strings can be taken
//! straight from the Python SDK's captured vectors.

use serde_json::{Map, Value};

use super::ENDPOINT;
use super::wire::VERSION;
use crate::message::Request;
use crate::provider::Call;
use crate::provider::SignForm;
use crate::signing::{self, Scheme, SignOptions, Signed, Trace, Unusable};

/// Builds and signs the request; the trace is `None` for unsigned requests.
pub fn build(call: &Call<'_>) -> Result<(Request, Option<Trace>), Unusable> {
    let version = call.version.unwrap_or(VERSION);
    let mut request = match call.sign {
        SignForm::HmacSha1 | SignForm::HmacSha256 => parameter_form(call, version),
        _ => tc3_form(call, version),
    };
    for (name, value) in call.headers {
        request.set_header(name, value.clone());
    }
    let (scheme, signed_headers) = match call.sign {
        SignForm::None => return Ok((request, None)),
        SignForm::Tc3 | SignForm::Tc3UnsignedPayload => (Scheme::Tc3, None),
        SignForm::Tc3SignAction => (
            Scheme::Tc3,
            Some("content-type;host;x-tc-action".to_owned()),
        ),
        SignForm::HmacSha1 => (Scheme::HmacSha1, None),
        SignForm::HmacSha256 => (Scheme::HmacSha256, None),
        SignForm::Zc2 | SignForm::Bearer => {
            return Err(Unusable::Conflict(format!(
                "Tencent Cloud API 3.0 does not sign with {:?}",
                call.sign
            )));
        }
    };
    // The SDKs sign for the product their endpoint names (`sts.tencentcloudapi.com` → `sts`); CVM otherwise.
    let service = request
        .host()
        .and_then(|host| host.strip_suffix(".tencentcloudapi.com"))
        .and_then(|rest| rest.split('.').next())
        .unwrap_or("cvm")
        .to_owned();
    let options = SignOptions {
        signed_headers,
        service: Some(service),
    };
    let Signed { request, trace } = signing::sign(&request, call.credentials, scheme, &options)?;
    Ok((request, Some(trace)))
}

fn tc3_form(call: &Call<'_>, version: &str) -> Request {
    let get = call.method == "GET";
    let mut request = Request {
        method: call.method.to_owned(),
        target: "/".to_owned(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    let content_type = if get {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    };
    request
        .headers
        .push(("Content-Type".into(), content_type.into()));
    request.headers.push(("Host".into(), ENDPOINT.into()));
    request
        .headers
        .push(("X-TC-Action".into(), call.action.into()));
    request
        .headers
        .push(("X-TC-Timestamp".into(), call.timestamp.to_string()));
    request
        .headers
        .push(("X-TC-Version".into(), version.into()));
    if call.sign == SignForm::Tc3UnsignedPayload {
        request
            .headers
            .push(("X-TC-Content-SHA256".into(), "UNSIGNED-PAYLOAD".into()));
    }
    if let Some(region) = call.region {
        request.headers.push(("X-TC-Region".into(), region.into()));
    }
    if let Some(token) = call.token {
        request.headers.push(("X-TC-Token".into(), token.into()));
    }
    if get {
        request.set_query(&urlencode(&flatten(call.params)));
    } else {
        request.body = python_json(&Value::Object(call.params.clone())).into_bytes();
        request
            .headers
            .push(("Content-Length".into(), request.body.len().to_string()));
    }
    request
}

fn parameter_form(call: &Call<'_>, version: &str) -> Request {
    let mut pairs = flatten(call.params);
    let mut push = |name: &str, value: String| pairs.push((name.to_owned(), value));
    push("Action", call.action.to_owned());
    push("Nonce", call.nonce.to_string());
    push("Timestamp", call.timestamp.to_string());
    push("Version", version.to_owned());
    if let Some(region) = call.region {
        push("Region", region.to_owned());
    }
    if let Some(token) = call.token {
        push("Token", token.to_owned());
    }
    push("SecretId", call.credentials.secret_id.clone());
    let method = if call.sign == SignForm::HmacSha256 {
        "HmacSHA256"
    } else {
        "HmacSHA1"
    };
    push("SignatureMethod", method.to_owned());
    let encoded = urlencode(&pairs);
    let mut request = Request {
        method: call.method.to_owned(),
        target: "/".to_owned(),
        headers: vec![
            (
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("Host".into(), ENDPOINT.into()),
        ],
        body: Vec::new(),
    };
    if call.method == "GET" {
        request.set_query(&encoded);
    } else {
        request.body = encoded.into_bytes();
        request
            .headers
            .push(("Content-Length".into(), request.body.len().to_string()));
    }
    request
}

/// `InstanceIds = ["a", "b"]` → `InstanceIds.0=a`, `InstanceIds.1=b`; booleans as Python prints them.
pub fn flatten(params: &Map<String, Value>) -> Vec<(String, String)> {
    fn walk(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
        match value {
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    walk(&format!("{prefix}.{index}"), item, out);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    walk(&format!("{prefix}.{key}"), item, out);
                }
            }
            Value::Bool(true) => out.push((prefix.to_owned(), "True".into())),
            Value::Bool(false) => out.push((prefix.to_owned(), "False".into())),
            Value::String(text) => out.push((prefix.to_owned(), text.clone())),
            Value::Null => {}
            other => out.push((prefix.to_owned(), other.to_string())),
        }
    }
    let mut out = Vec::new();
    for (key, value) in params {
        walk(key, value, &mut out);
    }
    out
}

fn urlencode(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// JSON as Python's `json.dumps` writes it by default.
pub fn python_json(value: &Value) -> String {
    let mut out = String::new();
    write_python_json(value, &mut out);
    out
}

fn write_python_json(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_python_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_python_string(key, out);
                out.push_str(": ");
                write_python_json(item, out);
            }
            out.push('}');
        }
        Value::String(text) => write_python_string(text, out),
        other => out.push_str(&other.to_string()),
    }
}

/// A JSON string with every non-ASCII character as `\uXXXX` (UTF-16), as `ensure_ascii=True` does.
fn write_python_string(text: &str, out: &mut String) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            ' '..='~' => out.push(ch),
            _ => {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_written_as_python_writes_it() {
        // The body of the Python SDK vectors, and the payload of the documentation's worked example D1.
        let value: Value =
            serde_json::from_str(r#"{"InstanceIds": ["ins-r8hr2upy", "ins-09dx96dg"]}"#).unwrap();
        assert_eq!(
            python_json(&value),
            r#"{"InstanceIds": ["ins-r8hr2upy", "ins-09dx96dg"]}"#
        );
        let value = serde_json::json!({"Limit": 1, "Filters": [{"Values": ["未命名"], "Name": "instance-name"}]});
        assert_eq!(
            python_json(&value),
            r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#
        );
    }
}
