//! Redaction that keeps the evidence. A recorded exchange reaches the cassette only as a [`Redacted`], which only
//! [`Redactor::redact`] builds; the cassette writer then runs the one leak check ([`crate::signing::leak::find`])
//! over every byte it is about to write, file names included, against every secret of the session the
//! [`Redacted`] carries: there is no path to the file for a secret (feint's rule, `reference/recorder.md` §2.4).
//!
//! What becomes what, wherever it stands (target, header names and values, bodies) and in whatever encoding
//! ([`crate::signing::leak::replace`]: raw, percent- or form-encoded in any mix of cases, JSON-escaped):
//! - the SecretId / AccessKeyId → the fixture id of its provider ([`FIXTURE_TENCENT`], [`FIXTURE_ZENLAYER`]), and
//!   the request is **re-signed with the fixture key** (its timestamp, signed headers, scope and body kept), so the
//!   stored request verifies and its canonical request and string to sign stay the client's;
//! - session tokens (`X-TC-Token`, the `Token` parameter, a Bearer token however spelled) → `[TOKEN]`;
//! - account ids in answers (`Uin`, `OwnerUin`, `AppId`, …) → `[OWNER-1]`, `[APPID-1]`; `X-TC-TraceId` values →
//!   `[TRACE-1]`: the same value the same placeholder across the cassette;
//! - the user's own list of strings (`--redact`) and the secrets given up front (a secret key) → `[REDACTED-1]`, …;
//! - the client's real signature never survives: re-signing replaces it, and a request that cannot be re-signed
//!   keeps `[SIGNATURE]` in its place. A signature that re-signing with the fixture key reproduces (the client
//!   signed with the public example key) is no secret, and is kept.
//!
//! A body in a content coding (`gzip`, `deflate`, `br`) is decoded first and stored decoded (its coding named in
//! `X-Terminus-Content-Encoding`); one that does not decode is replaced by a marker that says why, never kept raw.
//!
//! Replacement is textual, so the JSON layout of an answer (spaced or compact separators: evidence) is kept;
//! `Content-Length` is set to the new length.

use std::sync::Arc;

use indexmap::IndexMap;

use crate::exchange::Response;
use crate::message::Request;
use crate::signing::leak::{self, Known, Needles};
use crate::signing::{self, Credentials, Scheme, SignOptions, Trace};

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
/// The header that names the content coding a stored body was recorded in (it is stored decoded).
pub const DECODED_FROM: &str = "X-Terminus-Content-Encoding";
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
const SHORTEST_SECRET: usize = leak::SHORTEST;
/// The largest body decoded from its content coding (more is replaced by a marker).
const LARGEST_DECODED: usize = 16 * 1024 * 1024;

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
    /// The redacted request is no longer HTTP (cannot happen for a request that parsed; reported, not panicked).
    #[error("the redacted request does not parse: {0}")]
    Unparsable(String),
}

/// An exchange that has been through redaction, with the secrets the leak check must not find in it.
#[derive(Clone, Debug)]
pub struct Redacted {
    request: Request,
    trace: Option<Trace>,
    response: Option<Response>,
    needles: Arc<Needles>,
    replacements: Vec<(String, String)>,
    applied: Vec<String>,
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
    /// Every secret of the session as of this exchange, as the leak check searches for them before writing it.
    pub fn needles(&self) -> &Needles {
        &self.needles
    }
    /// `text` (an index field: the host, the action) with this exchange's replacements made.
    pub fn redact_text(&self, text: &str) -> String {
        let (bytes, _) = replace_all(text.as_bytes(), &self.replacements);
        String::from_utf8(bytes)
            .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
    }
    /// What redaction did, one phrase each (`secret id → fixture`, `[TOKEN] ×2`, `re-signed`).
    pub fn applied(&self) -> &[String] {
        &self.applied
    }
}

/// One cassette's redaction state: the placeholders handed out so far, the user's extra strings, and every secret
/// of the session seen so far.
#[derive(Debug, Default)]
pub struct Redactor {
    extras: Vec<String>,
    /// The secrets' values, to learn each once.
    session: std::collections::HashSet<String>,
    needles: Arc<Needles>,
    placeholders: IndexMap<String, String>,
    counts: IndexMap<&'static str, usize>,
}

impl Redactor {
    /// A redactor that also replaces each of `extras` (the `--redact` strings) and `given` (secrets known up front:
    /// a secret key, a token from the environment), empty strings ignored.
    pub fn new(extras: Vec<String>, given: Vec<Known>) -> Self {
        let extras: Vec<String> = extras.into_iter().filter(|s| !s.is_empty()).collect();
        let mut redactor = Self::default();
        for extra in &extras {
            redactor.learn("--redact string", extra);
        }
        redactor.extras = extras;
        for known in given {
            if !known.value.is_empty() {
                redactor.extras.push(known.value.expose().to_owned());
                redactor.learn(known.kind, known.value.expose());
            }
        }
        redactor
    }

    /// The secrets every write of this session is checked against (so far: the `--redact` strings, the given
    /// ones, and every one the exchanges showed).
    pub fn needles(&self) -> &Needles {
        &self.needles
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

    /// Remembers a secret for the rest of the session (a later answer may echo an earlier request's id).
    fn learn(&mut self, kind: &'static str, value: &str) {
        if value.len() >= SHORTEST_SECRET && self.session.insert(value.to_owned()) {
            // Copied only while a [`Redacted`] of an earlier exchange still holds the old set.
            Arc::make_mut(&mut self.needles).push(&Known::new(kind, value));
        }
    }

    /// Redacts one exchange: the request as the client sent it (origin form), the answer as received.
    pub fn redact(
        &mut self,
        request: &Request,
        response: Option<&Response>,
    ) -> Result<Redacted, RedactError> {
        let mut applied = Vec::new();
        let request = decoded_request(request, &mut applied);
        let response = response.map(|response| decoded_response(response, &mut applied));
        let claim = signing::inspect(&request).ok();
        let scheme = claim.as_ref().map(|claim| claim.scheme);
        let fixture = scheme.map(fixture_for);
        let mut replacements: Vec<(String, String)> = Vec::new();

        if let (Some(claim), Some(fixture)) = (&claim, &fixture)
            && let Some(id) = &claim.secret_id
            && *id != fixture.secret_id
        {
            // As claimed, and percent-decoded (a client that escaped a letter of it: `AKID%4b…`).
            let decoded = percent_decoded(id);
            for form in [id.clone(), decoded] {
                self.learn("secret id", &form);
                replacements.push((form, fixture.secret_id.clone()));
            }
        }
        for token in tokens_of(&request) {
            self.learn("session token", &token);
            replacements.push((token, TOKEN.to_owned()));
        }
        let client_signature = signature_of(&request);
        for (index, extra) in self.extras.iter().enumerate() {
            replacements.push((extra.clone(), format!("[REDACTED-{}]", index + 1)));
        }
        let mut traces: Vec<String> = request
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("x-tc-traceid"))
            .map(|(_, value)| value.clone())
            .collect();
        let mut accounts = Vec::new();
        if let Some(response) = &response {
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
                self.learn(
                    if family == "APPID" {
                        "AppId"
                    } else {
                        "owner uin"
                    },
                    &value,
                );
                let placeholder = self.placeholder(family, &value);
                replacements.push((value, placeholder));
            }
        }
        // Longest first, so a value that contains another is replaced whole.
        replacements.retain(|(from, _)| from.len() >= SHORTEST_SECRET);
        replacements.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        replacements.dedup_by(|a, b| a.0 == b.0);
        // The client's signature goes too (re-signing puts the fixture one in its place), after the rest: it is
        // computed over them.
        let mut with_signature = replacements.clone();
        if let Some(signature) = &client_signature
            && signature.len() >= SHORTEST_SECRET
        {
            with_signature.push((signature.clone(), SIGNATURE.to_owned()));
        }

        // The request: replace, then sign again with the fixture key (the signature is over the new bytes).
        let mut counted = IndexMap::new();
        let mut redacted = Request {
            method: request.method.clone(),
            target: replace_text(&request.target, &with_signature, &mut counted),
            headers: request
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        replace_text(name, &with_signature, &mut counted),
                        replace_text(value, &with_signature, &mut counted),
                    )
                })
                .collect(),
            body: Vec::new(),
        };
        let (body, body_counts) = replace_all(&request.body, &with_signature);
        merge(&mut counted, body_counts);
        redacted.set_body(body);
        let bytes = redacted.to_bytes();
        redacted = Request::parse(&bytes).map_err(|e| RedactError::Unparsable(e.to_string()))?;
        let mut trace = None;
        if let (Some(scheme), Some(fixture)) = (scheme, &fixture)
            && scheme != Scheme::Bearer
        {
            let options = sign_options(&request);
            if let Ok(signed) = signing::sign(&redacted, fixture, scheme, &options) {
                redacted = signed.request;
                trace = Some(signed.trace);
                applied.push("re-signed with the fixture key".to_owned());
            }
        }
        // A signature that the fixture key reproduces is public (the client signed with the example key): it is
        // the one now in the request, and no secret.
        let reproduced = client_signature.is_some() && signature_of(&redacted) == client_signature;
        if let Some(signature) = client_signature.filter(|_| !reproduced) {
            self.learn("client signature", &signature);
        }

        let response = response.map(|response| {
            let mut answer = Response {
                status: response.status,
                headers: response
                    .headers
                    .iter()
                    .map(|(name, value)| {
                        (
                            replace_text(name, &replacements, &mut counted),
                            replace_text(value, &replacements, &mut counted),
                        )
                    })
                    .collect(),
                body: {
                    let (body, body_counts) = replace_all(&response.body, &replacements);
                    merge(&mut counted, body_counts);
                    body
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
        for (placeholder, count) in counted {
            // The client's signature, replaced then signed over: "re-signed" says it.
            if placeholder != SIGNATURE || trace.is_none() {
                applied.push(format!("{placeholder} ×{count}"));
            }
        }
        Ok(Redacted {
            request: redacted,
            trace,
            response,
            needles: Arc::clone(&self.needles),
            replacements,
            applied,
        })
    }
}

/// The request with a content-coded body stored decoded (or replaced by a marker).
fn decoded_request(request: &Request, applied: &mut Vec<String>) -> Request {
    let mut request = request.clone();
    let (headers, body) = decoded(&request.headers, &request.body, applied);
    request.headers = headers;
    request.set_body(body);
    request
}

/// The answer with a content-coded body stored decoded (or replaced by a marker).
fn decoded_response(response: &Response, applied: &mut Vec<String>) -> Response {
    let (headers, body) = decoded(&response.headers, &response.body, applied);
    Response {
        status: response.status,
        headers,
        body,
    }
}

/// Headers and body with the body decoded from its `Content-Encoding` (the header renamed [`DECODED_FROM`]); a
/// body that does not decode becomes a marker saying why. No coding: as they are.
fn decoded(
    headers: &[(String, String)],
    body: &[u8],
    applied: &mut Vec<String>,
) -> (Vec<(String, String)>, Vec<u8>) {
    let Some(coding) = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-encoding"))
        .map(|(_, value)| value.trim().to_owned())
    else {
        return (headers.to_vec(), body.to_vec());
    };
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| {
            if name.eq_ignore_ascii_case("content-encoding") {
                (DECODED_FROM.to_owned(), value.clone())
            } else {
                (name.clone(), value.clone())
            }
        })
        .collect();
    // Codings applied in order; decoded last first.
    let mut body = body.to_vec();
    for step in coding.rsplit(',').map(str::trim).filter(|s| !s.is_empty()) {
        match leak::decode_body(step, &body, LARGEST_DECODED) {
            Ok(decoded) => body = decoded,
            Err(why) => {
                applied.push(format!("{step} body replaced by a marker"));
                return (
                    headers,
                    format!("[terminus: the body was not recorded: {why}]").into_bytes(),
                );
            }
        }
    }
    applied.push(format!("{coding} body decoded"));
    (headers, body)
}

/// `value` with `%XX` escapes decoded (what a client that escaped letters meant).
fn percent_decoded(value: &str) -> String {
    let bytes: Vec<u8> = percent_decode(value.as_bytes());
    String::from_utf8(bytes).unwrap_or_else(|_| value.to_owned())
}

fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes
            .get(at + 1..at + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[at], hex) {
            (b'%', Some(value)) => {
                out.push(value);
                at += 3;
            }
            (byte, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    out
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

/// The session tokens a request carries: `X-TC-Token`, a `Token` parameter, a Bearer token (any spelling).
fn tokens_of(request: &Request) -> Vec<String> {
    let mut tokens = Vec::new();
    for (name, value) in &request.headers {
        if name.eq_ignore_ascii_case("x-tc-token") && !value.trim().is_empty() {
            tokens.push(value.trim().to_owned());
        }
        if (name.eq_ignore_ascii_case("authorization")
            || name.eq_ignore_ascii_case("proxy-authorization"))
            && let Some(token) = leak::bearer_token(value)
        {
            tokens.push(token.to_owned());
        }
    }
    if let Ok(params) = signing::hmac_param::Params::read(request)
        && let Some(token) = params.get("Token")
        && !token.is_empty()
    {
        tokens.push(token.to_owned());
    }
    tokens
}

/// The client's signature: the `Signature=` of a TC3/ZC2 `Authorization`, or the `Signature` parameter.
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

/// `bytes` with every replacement made in every encoding [`leak::replace`] reads, and how many of each
/// placeholder were put in.
fn replace_all(
    bytes: &[u8],
    replacements: &[(String, String)],
) -> (Vec<u8>, IndexMap<String, usize>) {
    let mut bytes = bytes.to_vec();
    let mut counts = IndexMap::new();
    for (from, to) in replacements {
        let (replaced, count) = leak::replace(&bytes, from, to);
        if count > 0 {
            bytes = replaced;
            *counts.entry(to.clone()).or_insert(0) += count;
        }
    }
    (bytes, counts)
}

/// A header name, value or target with the replacements made (still text: placeholders are ASCII, and a
/// replacement never splits a character it does not match whole).
fn replace_text(
    text: &str,
    replacements: &[(String, String)],
    counted: &mut IndexMap<String, usize>,
) -> String {
    let (bytes, counts) = replace_all(text.as_bytes(), replacements);
    merge(counted, counts);
    String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

fn merge(into: &mut IndexMap<String, usize>, from: IndexMap<String, usize>) {
    for (placeholder, count) in from {
        *into.entry(placeholder).or_insert(0) += count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::Secret;

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
        let redacted = Redactor::new(vec![], vec![])
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
        let mut redactor = Redactor::new(vec!["my-project-name".into()], vec![]);
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
        let redacted = Redactor::new(vec![], vec![])
            .redact(&request, Some(&answer))
            .unwrap();
        let response = redacted.response().unwrap();
        assert_eq!(response.headers[0].1, FIXTURE_TENCENT.0);
        assert!(leak::find(&response.body, &[Known::new("id", REAL_ID)]).is_none());
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
        let redacted = Redactor::new(vec![], vec![])
            .redact(&request, None)
            .unwrap();
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
        let redacted = Redactor::new(vec![], vec![])
            .redact(&request, None)
            .unwrap();
        let stored = redacted.request();
        let bytes = String::from_utf8_lossy(&stored.to_bytes()).into_owned();
        assert!(!bytes.contains("zlREALaccessKEY01"), "{bytes}");
        let claim = signing::inspect(stored).unwrap();
        assert_eq!(claim.secret_id.as_deref(), Some(FIXTURE_ZENLAYER.0));
        assert_verifies_with(stored, FIXTURE_ZENLAYER.1);
    }
}
