//! Redaction that keeps the evidence. A recorded exchange reaches the cassette only as a [`Redacted`], which only
//! [`Redactor::redact`] builds, and which it builds only after checking that no secret it knows of is left in any
//! byte: there is no path to the file for an unredacted exchange (feint's rule, `reference/recorder.md` §2.4).
//!
//! What becomes what:
//! - the SecretId / AccessKeyId → the fixture id of its provider ([`FIXTURE_TENCENT`], [`FIXTURE_ZENLAYER`]), and
//!   the request is **re-signed with the fixture key** (its timestamp, signed headers, scope and body kept), so the
//!   stored request verifies and its canonical request and string to sign stay the client's;
//! - session tokens (`X-TC-Token`, the `Token` parameter, a Bearer token) → `[TOKEN]`;
//! - account ids in answers (`Uin`, `OwnerUin`, `AppId`, …) → `[OWNER-1]`, `[APPID-1]`; `X-TC-TraceId` values →
//!   `[TRACE-1]`: the same value the same placeholder across the cassette;
//! - the user's own list of strings → `[REDACTED-1]`, …;
//! - the client's real signature never survives: re-signing replaces it, and a request that cannot be re-signed
//!   keeps `[SIGNATURE]` in its place.
//!
//! Replacement is textual, so the JSON layout of an answer (spaced or compact separators: evidence) is kept;
//! `Content-Length` is set to the new length.

use indexmap::IndexMap;

use crate::exchange::Response;
use crate::message::Request;
use crate::signing::{self, Credentials, Scheme, Secret, SignOptions, Trace};

/// The fixture credentials Tencent requests are re-signed with: the example key pair of Tencent's documentation
/// (the default world's first account).
pub const FIXTURE_TENCENT: (&str, &str) = (
    "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
    "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
);
/// The fixture credentials Zenlayer requests are re-signed with: the key pair of Zenlayer's signing document.
pub const FIXTURE_ZENLAYER: (&str, &str) = ("0D9UtpyKYcHxms5v", "Gu5t9xGARNpq86cd98joQYCN3");
/// What a session token becomes.
pub const TOKEN: &str = "[TOKEN]";
/// What a signature that could not be recomputed becomes.
pub const SIGNATURE: &str = "[SIGNATURE]";
/// The JSON keys whose values are account ids, and the placeholder family each takes.
const ACCOUNT_KEYS: [(&str, &str); 7] = [
    ("uin", "OWNER"),
    ("owneruin", "OWNER"),
    ("subaccountuin", "OWNER"),
    ("creatoruin", "OWNER"),
    ("operatoruin", "OWNER"),
    ("appid", "APPID"),
    ("accountid", "OWNER"),
];
/// Secrets shorter than this are not searched for (a one-letter "secret" would match everything).
const SHORTEST_SECRET: usize = 4;

/// The fixture credentials for a scheme.
pub fn fixture_for(scheme: Scheme) -> Credentials {
    let (id, key) = match scheme {
        Scheme::Zc2 | Scheme::Bearer => FIXTURE_ZENLAYER,
        _ => FIXTURE_TENCENT,
    };
    Credentials::new(id, key)
}

/// Why an exchange cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    /// A secret survived redaction (a bug, or a secret in a place no rule knows): nothing is written.
    #[error(
        "a secret ({kind}) is still present after redaction in the {place}: the exchange is not written"
    )]
    Leak {
        /// Which kind of secret (never its value).
        kind: &'static str,
        /// Request or response.
        place: &'static str,
    },
    /// The redacted request is no longer HTTP (cannot happen for a request that parsed; reported, not panicked).
    #[error("the redacted request does not parse: {0}")]
    Unparsable(String),
}

/// An exchange that has been through redaction and the leak check.
#[derive(Clone, Debug)]
pub struct Redacted {
    request: Request,
    trace: Option<Trace>,
    response: Option<Response>,
}

impl Redacted {
    /// The request, fixture-signed.
    pub fn request(&self) -> &Request {
        &self.request
    }
    /// The fixture signing's trace.
    pub fn trace(&self) -> Option<&Trace> {
        self.trace.as_ref()
    }
    /// The answer (none when the upstream gave none).
    pub fn response(&self) -> Option<&Response> {
        self.response.as_ref()
    }
}

/// One cassette's redaction state: the placeholders handed out so far, and the user's extra strings.
#[derive(Debug, Default)]
pub struct Redactor {
    extras: Vec<String>,
    placeholders: IndexMap<String, String>,
    counts: IndexMap<&'static str, usize>,
}

/// A secret found in one exchange, by kind (for the leak report) and value (a [`Secret`]: never printed).
struct Found {
    kind: &'static str,
    value: Secret,
}

impl Redactor {
    /// A redactor that also replaces each of `extras` (empty strings ignored).
    pub fn new(extras: Vec<String>) -> Self {
        Self {
            extras: extras.into_iter().filter(|s| !s.is_empty()).collect(),
            ..Self::default()
        }
    }

    /// The stable placeholder of `value` in `family` (`[OWNER-1]`).
    fn placeholder(&mut self, family: &'static str, value: &str) -> String {
        if let Some(known) = self.placeholders.get(value) {
            return known.clone();
        }
        let count = self.counts.entry(family).or_insert(0);
        *count += 1;
        let placeholder = format!("[{family}-{count}]");
        self.placeholders
            .insert(value.to_owned(), placeholder.clone());
        placeholder
    }

    /// Redacts one exchange: the request as the client sent it (origin form), the answer as received.
    pub fn redact(
        &mut self,
        request: &Request,
        response: Option<&Response>,
    ) -> Result<Redacted, RedactError> {
        let claim = signing::inspect(request).ok();
        let scheme = claim.as_ref().map(|claim| claim.scheme);
        let fixture = scheme.map(fixture_for);
        let mut secrets: Vec<Found> = Vec::new();
        let mut replacements: Vec<(String, String)> = Vec::new();

        if let (Some(claim), Some(fixture)) = (&claim, &fixture)
            && let Some(id) = &claim.secret_id
            && *id != fixture.secret_id
        {
            secrets.push(Found {
                kind: "secret id",
                value: Secret::new(id.clone()),
            });
            replacements.push((id.clone(), fixture.secret_id.clone()));
        }
        for token in tokens_of(request) {
            secrets.push(Found {
                kind: "session token",
                value: Secret::new(token.clone()),
            });
            replacements.push((token, TOKEN.to_owned()));
        }
        if let Some(signature) = signature_of(request) {
            secrets.push(Found {
                kind: "signature",
                value: Secret::new(signature.clone()),
            });
            replacements.push((signature, SIGNATURE.to_owned()));
        }
        for (index, extra) in self.extras.clone().into_iter().enumerate() {
            secrets.push(Found {
                kind: "user-given string",
                value: Secret::new(extra.clone()),
            });
            replacements.push((extra, format!("[REDACTED-{}]", index + 1)));
        }
        let mut traces: Vec<String> = request
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("x-tc-traceid"))
            .map(|(_, value)| value.clone())
            .collect();
        let mut accounts = Vec::new();
        if let Some(response) = response {
            traces.extend(
                response
                    .headers
                    .iter()
                    .filter(|(name, _)| name.eq_ignore_ascii_case("x-tc-traceid"))
                    .map(|(_, value)| value.clone()),
            );
            if let Ok(json) = serde_json::from_slice::<serde_json::Value>(&response.body) {
                account_values(&json, &mut accounts);
            }
        }
        for trace in traces {
            if trace.len() >= SHORTEST_SECRET {
                let placeholder = self.placeholder("TRACE", &trace);
                replacements.push((trace, placeholder));
            }
        }
        for (family, value) in accounts {
            if value.len() >= SHORTEST_SECRET {
                let placeholder = self.placeholder(family, &value);
                replacements.push((value, placeholder));
            }
        }
        // Longest first, so a value that contains another is replaced whole.
        replacements.retain(|(from, _)| from.len() >= SHORTEST_SECRET);
        replacements.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        replacements.dedup_by(|a, b| a.0 == b.0);
        secrets.retain(|secret| secret.value.expose().len() >= SHORTEST_SECRET);

        // The request: replace, then sign again with the fixture key (the signature is over the new bytes).
        // Target and headers, then the body (whose length may change: `Content-Length` follows).
        let mut redacted = Request {
            method: request.method.clone(),
            target: replace_all(&request.target, &replacements),
            headers: request
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), replace_all(value, &replacements)))
                .collect(),
            body: Vec::new(),
        };
        redacted.set_body(match std::str::from_utf8(&request.body) {
            Ok(body) => replace_all(body, &replacements).into_bytes(),
            // Not text: kept only if no secret is in it (checked below).
            Err(_) => request.body.clone(),
        });
        let text = String::from_utf8_lossy(&redacted.to_bytes()).into_owned();
        redacted =
            Request::parse(text.as_bytes()).map_err(|e| RedactError::Unparsable(e.to_string()))?;
        let mut trace = None;
        if let (Some(scheme), Some(fixture)) = (scheme, &fixture)
            && scheme != Scheme::Bearer
        {
            let options = sign_options(request);
            if let Ok(signed) = signing::sign(&redacted, fixture, scheme, &options) {
                redacted = signed.request;
                trace = Some(signed.trace);
            }
        }

        let response = response.map(|response| {
            let mut answer = Response {
                status: response.status,
                headers: response
                    .headers
                    .iter()
                    .map(|(name, value)| (name.clone(), replace_all(value, &replacements)))
                    .collect(),
                body: match std::str::from_utf8(&response.body) {
                    Ok(body) => replace_all(body, &replacements).into_bytes(),
                    // Not text: kept only if no secret is in it (checked below).
                    Err(_) => response.body.clone(),
                },
            };
            let length = answer.body.len().to_string();
            for (name, value) in &mut answer.headers {
                if name.eq_ignore_ascii_case("content-length") {
                    value.clone_from(&length);
                }
            }
            answer
        });

        // The leak check, over every byte that will be written.
        let request_bytes = redacted.to_bytes();
        let trace_text = trace
            .as_ref()
            .map(|trace: &Trace| {
                trace
                    .steps()
                    .filter(|(step, _)| !step.is_secret())
                    .map(|(_, value)| value.to_owned())
                    .collect::<String>()
            })
            .unwrap_or_default();
        for secret in &secrets {
            let value = secret.value.expose();
            if contains(&request_bytes, value) || trace_text.contains(value) {
                return Err(RedactError::Leak {
                    kind: secret.kind,
                    place: "request",
                });
            }
            if let Some(answer) = &response {
                let head = answer
                    .headers
                    .iter()
                    .any(|(name, text)| name.contains(value) || text.contains(value));
                if head || contains(&answer.body, value) {
                    return Err(RedactError::Leak {
                        kind: secret.kind,
                        place: "response",
                    });
                }
            }
        }
        Ok(Redacted {
            request: redacted,
            trace,
            response,
        })
    }
}

/// How the client signed: its signed headers and, for TC3, its scope service, kept when re-signing.
fn sign_options(request: &Request) -> SignOptions {
    let mut options = SignOptions::default();
    if let Some(value) = request.header("authorization") {
        if let Ok(authorization) = signing::tc3::Authorization::parse(value) {
            options.signed_headers = Some(authorization.signed_headers().to_owned());
            options.service = Some(authorization.service().to_owned());
        } else if let Ok(authorization) = signing::zc2::Authorization::parse(value) {
            options.signed_headers = Some(authorization.signed_headers);
        }
    }
    options
}

/// The session tokens a request carries: `X-TC-Token`, a `Token` parameter, a Bearer token.
fn tokens_of(request: &Request) -> Vec<String> {
    let mut tokens = Vec::new();
    for (name, value) in &request.headers {
        if name.eq_ignore_ascii_case("x-tc-token") && !value.is_empty() {
            tokens.push(value.clone());
        }
        if name.eq_ignore_ascii_case("authorization")
            && let Some(token) = value.trim().strip_prefix("Bearer ")
        {
            tokens.push(token.trim().to_owned());
        }
    }
    if let Ok(params) = signing::hmac_param::Params::read(request)
        && let Some(token) = params.get("Token")
        && !token.is_empty()
    {
        tokens.push(token.to_owned());
        let encoded: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
        if encoded != token {
            tokens.push(encoded);
        }
    }
    tokens
}

/// The client's signature: the `Signature=` of a TC3/ZC2 `Authorization`, or the `Signature` parameter (raw and
/// as encoded on the wire).
fn signature_of(request: &Request) -> Option<String> {
    if let Some(value) = request.header("authorization") {
        return value
            .rsplit_once("Signature=")
            .map(|(_, signature)| signature.trim().to_owned());
    }
    let params = signing::hmac_param::Params::read(request).ok()?;
    params.get("Signature").map(str::to_owned)
}

/// Account ids anywhere in an answer, by the key that holds them.
fn account_values(value: &serde_json::Value, out: &mut Vec<(&'static str, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                let lower = key.to_ascii_lowercase();
                if let Some((_, family)) = ACCOUNT_KEYS.iter().find(|(name, _)| *name == lower) {
                    match item {
                        serde_json::Value::String(text) => out.push((family, text.clone())),
                        serde_json::Value::Number(number) => out.push((family, number.to_string())),
                        _ => account_values(item, out),
                    }
                } else {
                    account_values(item, out);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| account_values(item, out)),
        _ => {}
    }
}

fn replace_all(text: &str, replacements: &[(String, String)]) -> String {
    let mut text = text.to_owned();
    for (from, to) in replacements {
        if text.contains(from.as_str()) {
            text = text.replace(from.as_str(), to);
        }
        // The same value percent-encoded (a form body, a query).
        let encoded: String = form_urlencoded::byte_serialize(from.as_bytes()).collect();
        if encoded != *from && text.contains(encoded.as_str()) {
            text = text.replace(encoded.as_str(), to);
        }
    }
    text
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL_ID: &str = "AKIDrealREALrealREALrealREALreal0001";
    const REAL_KEY: &str = "realKEYrealKEYrealKEYrealKEY0001";

    fn tc3_request(token: Option<&str>) -> Request {
        let mut text = String::from(
            "POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Type: application/json; charset=utf-8\r\n\
             X-TC-Action: TerminateInstances\r\nX-TC-Version: 2017-03-12\r\nX-TC-Region: ap-guangzhou\r\n\
             X-TC-Timestamp: 1700000000\r\nX-TC-TraceId: 7d2c0f8e-trace\r\n",
        );
        if let Some(token) = token {
            text.push_str(&format!("X-TC-Token: {token}\r\n"));
        }
        text.push_str("Content-Length: 33\r\n\r\n{\"InstanceIds\":[\"ins-r8hr2upy\"]}\n");
        signed(&text, (REAL_ID, REAL_KEY), Scheme::Tc3)
    }

    /// `text` parsed and signed under `scheme` with the real-looking `(id, key)` a recording would hold.
    fn signed(text: &str, (id, key): (&str, &str), scheme: Scheme) -> Request {
        signing::sign(
            &Request::parse(text.as_bytes()).unwrap(),
            &Credentials::new(id, key),
            scheme,
            &SignOptions::default(),
        )
        .unwrap()
        .request
    }

    /// The stored request verifies with the fixture `key` that redaction re-signed it with.
    fn assert_verifies_with(stored: &Request, key: &str) {
        signing::inspect(stored)
            .unwrap()
            .verify(
                stored,
                &Secret::new(key),
                None,
                &signing::Policy::default(),
                None,
            )
            .expect("the stored request verifies with the fixture key");
    }

    #[test]
    fn a_tc3_request_is_re_signed_with_the_fixture_key_and_verifies() {
        let request = tc3_request(Some("sessionTOKENvalue"));
        let answer = Response {
            status: 200,
            headers: vec![("Content-Length".into(), "60".into())],
            body: br#"{"Response": {"Uin": "100012345678", "RequestId": "r-1"}}"#.to_vec(),
        };
        let redacted = Redactor::new(vec![])
            .redact(&request, Some(&answer))
            .unwrap();
        let stored = redacted.request();
        let text = String::from_utf8_lossy(&stored.to_bytes()).into_owned();
        assert!(!text.contains(REAL_ID), "{text}");
        assert!(!text.contains("sessionTOKENvalue"), "{text}");
        assert!(text.contains("X-TC-Token: [TOKEN]"), "{text}");
        assert!(text.contains("X-TC-TraceId: [TRACE-1]"), "{text}");
        let claim = signing::inspect(stored).unwrap();
        assert_eq!(claim.secret_id.as_deref(), Some(FIXTURE_TENCENT.0));
        assert_verifies_with(stored, FIXTURE_TENCENT.1);
        let body = String::from_utf8_lossy(&redacted.response().unwrap().body).into_owned();
        assert_eq!(
            body,
            r#"{"Response": {"Uin": "[OWNER-1]", "RequestId": "r-1"}}"#
        );
        assert_eq!(
            redacted.response().unwrap().headers[0].1,
            body.len().to_string()
        );
    }

    #[test]
    fn placeholders_are_stable_across_a_cassette_and_extras_are_redacted() {
        let mut redactor = Redactor::new(vec!["my-project-name".into()]);
        let answer = |uin: &str| Response {
            status: 200,
            headers: vec![],
            body: format!(r#"{{"Response":{{"OwnerUin":"{uin}","Name":"my-project-name"}}}}"#)
                .into_bytes(),
        };
        let request = tc3_request(None);
        let first = redactor.redact(&request, Some(&answer("1001"))).unwrap();
        let second = redactor.redact(&request, Some(&answer("2002"))).unwrap();
        let third = redactor.redact(&request, Some(&answer("1001"))).unwrap();
        let body = |r: &Redacted| String::from_utf8_lossy(&r.response().unwrap().body).into_owned();
        assert!(body(&first).contains("[OWNER-1]") && body(&first).contains("[REDACTED-1]"));
        assert!(body(&second).contains("[OWNER-2]"));
        assert!(body(&third).contains("[OWNER-1]"));
    }

    #[test]
    fn a_secret_echoed_where_no_rule_looks_is_still_replaced() {
        let request = tc3_request(None);
        let answer = Response {
            status: 200,
            headers: vec![("X-Echo".into(), REAL_ID.into())],
            body: format!(
                r#"{{"Response":{{"Error":{{"Message":"SecretId {REAL_ID} not found"}}}}}}"#
            )
            .into_bytes(),
        };
        let redacted = Redactor::new(vec![])
            .redact(&request, Some(&answer))
            .unwrap();
        let response = redacted.response().unwrap();
        assert_eq!(response.headers[0].1, FIXTURE_TENCENT.0);
        assert!(!contains(&response.body, REAL_ID));
    }

    #[test]
    fn a_v1_request_is_re_signed_and_its_token_parameter_replaced() {
        let body = format!(
            "Action=TerminateInstances&InstanceIds.0=ins-r8hr2upy&Region=ap-guangzhou&Version=2017-03-12&\
             SecretId={REAL_ID}&Nonce=11886&Timestamp=1700000000&SignatureMethod=HmacSHA256&Token=tok%2Bsecret"
        );
        let text = format!(
            "POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let request = signed(&text, (REAL_ID, REAL_KEY), Scheme::HmacSha256);
        let redacted = Redactor::new(vec![]).redact(&request, None).unwrap();
        let stored = redacted.request();
        let bytes = String::from_utf8_lossy(&stored.to_bytes()).into_owned();
        assert!(
            !bytes.contains(REAL_ID) && !bytes.contains("tok%2Bsecret"),
            "{bytes}"
        );
        assert_verifies_with(stored, FIXTURE_TENCENT.1);
    }

    #[test]
    fn a_zc2_request_is_re_signed_with_the_zenlayer_fixture_key() {
        let body = r#"{"instanceIds":["564212148932313088"]}"#;
        let text = format!(
            "POST /api/v2/bmc HTTP/1.1\r\nHost: console.zenlayer.com\r\nContent-Type: application/json; charset=utf-8\r\n\
             X-ZC-Action: TerminateInstance\r\nX-ZC-Timestamp: 1673361177\r\nX-ZC-Signature-Method: ZC2-HMAC-SHA256\r\n\
             X-ZC-Version: 2022-11-20\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let request = signed(
            &text,
            ("zlREALaccessKEY01", "zlREALpassword0001"),
            Scheme::Zc2,
        );
        let redacted = Redactor::new(vec![]).redact(&request, None).unwrap();
        let stored = redacted.request();
        let bytes = String::from_utf8_lossy(&stored.to_bytes()).into_owned();
        assert!(!bytes.contains("zlREALaccessKEY01"), "{bytes}");
        let claim = signing::inspect(stored).unwrap();
        assert_eq!(claim.secret_id.as_deref(), Some(FIXTURE_ZENLAYER.0));
        assert_verifies_with(stored, FIXTURE_ZENLAYER.1);
    }
}
