//! `TC3-HMAC-SHA256`: Tencent Cloud API 3.0 signature v3.
//!
//! Spec: <https://cloud.tencent.com/document/api/213/30654> (current CN edition, which signs
//! `content-type;host;x-tc-action`) and <https://www.tencentcloud.com/document/product/213/33224>; the official
//! SDKs sign `content-type;host`. The verifier follows whatever `SignedHeaders` the request names.
//!
//! Decisions where the sources leave room, each checked against the official examples and captured vectors:
//! - the canonical URI is always `/` (API 3.0 serves only `/`; the Go SDK keeps `/` even for endpoints with a path);
//! - the canonical query string is the query exactly as sent (SDK GETs send it unsorted; POSTs send none);
//! - header values are lowercased and trimmed, as the documentation's example does (`x-tc-action:describeinstances`);
//! - `X-TC-Content-SHA256: UNSIGNED-PAYLOAD` replaces the body by the literal `UNSIGNED-PAYLOAD` in the payload hash.

use std::cell::RefCell;

use super::hash::hmac_sha256;
use super::{
    Canonical, Claim, ClaimDetail, Credentials, Policy, Rejection, Scheme, Secret, SignOptions,
    Signed, Step, Trace, Unusable,
};
use crate::message::Request;

/// The algorithm name, first word of the `Authorization` header.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
/// The `X-TC-Content-SHA256` value that leaves the body out of the signature.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// What every official SDK signs.
pub const DEFAULT_SIGNED_HEADERS: &str = "content-type;host";
/// The headers the documentation requires in `SignedHeaders`.
const REQUIRED_SIGNED_HEADERS: [&str; 2] = ["content-type", "host"];
/// The last element of the credential scope.
const TERMINATOR: &str = "tc3_request";

/// A parsed `Authorization: TC3-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header, its parts kept
/// in one buffer (read on every request the mock serves).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// SecretId, date, service, terminator, signed headers and signature, one after another.
    parts: String,
    /// Where each part ends in `parts`.
    ends: [usize; 6],
}

impl Authorization {
    /// The SecretId of the credential.
    pub fn secret_id(&self) -> &str {
        self.part(0)
    }

    /// The scope date, `YYYY-MM-DD`.
    pub fn date(&self) -> &str {
        self.part(1)
    }

    /// The scope service, e.g. `cvm`.
    pub fn service(&self) -> &str {
        self.part(2)
    }

    /// The scope terminator, `tc3_request` when well formed.
    pub fn terminator(&self) -> &str {
        self.part(3)
    }

    /// The `;`-separated signed header names.
    pub fn signed_headers(&self) -> &str {
        self.part(4)
    }

    /// The lowercase hex signature.
    pub fn signature(&self) -> &str {
        self.part(5)
    }

    fn part(&self, index: usize) -> &str {
        let start = index.checked_sub(1).map_or(0, |before| self.ends[before]);
        &self.parts[start..self.ends[index]]
    }

    /// Reads the header value. Whitespace around the `,` separators is tolerated.
    pub fn parse(value: &str) -> Result<Self, Unusable> {
        let malformed = |why: &str| Unusable::MalformedAuthorization(why.to_owned());
        let rest = value
            .strip_prefix(ALGORITHM)
            .filter(|rest| rest.starts_with(' '))
            .ok_or_else(|| malformed("it does not start with \"TC3-HMAC-SHA256 \""))?;
        let (mut credential, mut signed_headers, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let part = part.trim();
            let (slot, value) = if let Some(value) = part.strip_prefix("Credential=") {
                (&mut credential, value)
            } else if let Some(value) = part.strip_prefix("SignedHeaders=") {
                (&mut signed_headers, value)
            } else if let Some(value) = part.strip_prefix("Signature=") {
                (&mut signature, value)
            } else {
                return Err(Unusable::MalformedAuthorization(format!(
                    "unexpected part {:?}; expected Credential=, SignedHeaders= and Signature=",
                    part.chars().take(40).collect::<String>()
                )));
            };
            if slot.replace(value).is_some() {
                return Err(malformed("a part appears twice"));
            }
        }
        let credential = credential.ok_or_else(|| malformed("no Credential="))?;
        let signed_headers = signed_headers
            .filter(|v| !v.is_empty())
            .ok_or_else(|| malformed("no SignedHeaders="))?;
        let signature = signature
            .filter(|v| !v.is_empty())
            .ok_or_else(|| malformed("no Signature="))?;
        let mut scope = credential.split('/');
        let (Some(secret_id), Some(date), Some(service), Some(terminator), None) = (
            scope.next(),
            scope.next(),
            scope.next(),
            scope.next(),
            scope.next(),
        ) else {
            return Err(malformed(
                "Credential is not SecretId/date/service/tc3_request",
            ));
        };
        if secret_id.is_empty() {
            return Err(malformed("Credential names no SecretId"));
        }
        let mut parts =
            String::with_capacity(credential.len() + signed_headers.len() + signature.len());
        let mut ends = [0; 6];
        for (end, part) in ends.iter_mut().zip([
            secret_id,
            date,
            service,
            terminator,
            signed_headers,
            signature,
        ]) {
            parts.push_str(part);
            *end = parts.len();
        }
        Ok(Self { parts, ends })
    }

    /// The header value for these parts.
    fn render(secret_id: &str, scope: &str, signed_headers: &str, signature: &str) -> String {
        format!(
            "{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
        )
    }
}

/// The UTC date (`YYYY-MM-DD`) of a Unix timestamp: the credential-scope date.
pub fn utc_date(timestamp: i64) -> Option<ScopeDate> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let mut date = ScopeDate::default();
    let mut out = &mut date.text[..];
    date.len = time::OffsetDateTime::from_unix_timestamp(timestamp)
        .ok()?
        .format_into(&mut out, &format)
        .ok()?;
    Some(date)
}

/// A credential-scope date as text, on the stack: the server checks one on every request.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScopeDate {
    /// Room for any year the `time` crate formats (`-9999-12-31`).
    text: [u8; 16],
    len: usize,
}

impl std::ops::Deref for ScopeDate {
    type Target = str;

    fn deref(&self) -> &str {
        std::str::from_utf8(&self.text[..self.len]).expect("a formatted date is ASCII")
    }
}

/// The scope service a host name implies: its first label (`cvm` for `cvm.intl.tencentcloudapi.com`).
///
/// `None` for IP addresses and single-label names, which imply nothing (the SDKs then use the service they
/// were built for).
pub fn service_of_host(host: &str) -> Option<&str> {
    let name = host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            host
        }
    });
    let (first, rest) = name.split_once('.')?;
    let is_ip = name.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    (!is_ip && !first.is_empty() && !rest.is_empty()).then_some(first)
}

/// The service a real endpoint serves, for verification: the first label of `*.tencentcloudapi.com` hosts.
pub fn service_of_endpoint(host: &str) -> Option<&str> {
    let name = host.split(':').next().unwrap_or(host);
    name.ends_with(".tencentcloudapi.com")
        .then(|| service_of_host(host))
        .flatten()
}

/// Everything a TC3 signature is computed from besides the request and the key.
struct Inputs<'a> {
    secret_id: &'a str,
    timestamp: &'a str,
    date: &'a str,
    service: &'a str,
    signed_headers: &'a str,
}

/// Computes every step (the derived keys' hex only when `derived_keys`). Fails only when a signed header is absent,
/// naming it.
fn compute(
    request: &Request,
    inputs: &Inputs<'_>,
    secret_key: &str,
    derived_keys: bool,
) -> Result<Trace, String> {
    // Steps 1 and 2: the payload hash, the canonical request.
    let canonical = Canonical::of(
        request,
        request.query(),
        inputs.signed_headers,
        payload(request),
    )?;
    Ok(finish(inputs, secret_key, derived_keys, canonical))
}

/// Every step, from canonical headers computed by the caller (a diagnosis tries other spellings of them).
fn compute_with(
    request: &Request,
    inputs: &Inputs<'_>,
    secret_key: &str,
    canonical_headers: &str,
    derived_keys: bool,
) -> Trace {
    let canonical = Canonical::with_headers(
        request,
        request.query(),
        canonical_headers,
        inputs.signed_headers,
        payload(request),
    );
    finish(inputs, secret_key, derived_keys, canonical)
}

/// Step 1's payload: the body bytes as received, or the literal UNSIGNED-PAYLOAD.
fn payload(request: &Request) -> &[u8] {
    let unsigned = request.header("x-tc-content-sha256").map(str::trim) == Some(UNSIGNED_PAYLOAD);
    if unsigned {
        UNSIGNED_PAYLOAD.as_bytes()
    } else {
        &request.body
    }
}

/// Steps 3 to 5 from the canonical request, and the trace of all of them.
fn finish(
    inputs: &Inputs<'_>,
    secret_key: &str,
    derived_keys: bool,
    canonical: Canonical,
) -> Trace {
    let mut trace = Trace::new(Scheme::Tc3);

    // Step 3: the string to sign.
    let scope = format!("{}/{}/{TERMINATOR}", inputs.date, inputs.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{scope}\n{}",
        inputs.timestamp, canonical.hashed_canonical_request
    );

    // Step 4: the derived keys and the signature.
    let [k_date, k_service, k_signing] = derive_keys(secret_key, inputs.date, inputs.service);
    let signature = hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()));

    // Step 5: the Authorization header.
    let authorization =
        Authorization::render(inputs.secret_id, &scope, inputs.signed_headers, &signature);

    canonical.record(&mut trace);
    trace.record(Step::CredentialScope, scope);
    trace.record(Step::StringToSign, string_to_sign);
    if derived_keys {
        trace.record(Step::KDate, hex::encode(k_date));
        trace.record(Step::KService, hex::encode(k_service));
        trace.record(Step::KSigning, hex::encode(k_signing));
    }
    trace.record(Step::Signature, signature);
    trace.record(Step::Authorization, authorization);
    trace
}

fn timestamp(request: &Request) -> Result<(&str, i64), Unusable> {
    super::timestamp_header(request, "X-TC-Timestamp")
}

pub(super) fn sign(
    request: &Request,
    credentials: &Credentials,
    options: &SignOptions,
) -> Result<Signed, Unusable> {
    let (raw_timestamp, seconds) = timestamp(request)?;
    let host = request.host().ok_or(Unusable::NoHost)?;
    let service = match &options.service {
        Some(service) => service.as_str(),
        None => service_of_host(host).ok_or_else(|| {
            Unusable::Conflict(format!(
                "host {host} names no service; pass the credential-scope service (e.g. cvm)"
            ))
        })?,
    };
    let date = utc_date(seconds).ok_or_else(|| Unusable::Timestamp {
        name: "X-TC-Timestamp",
        value: raw_timestamp.to_owned(),
    })?;
    let inputs = Inputs {
        secret_id: &credentials.secret_id,
        timestamp: raw_timestamp,
        date: &date,
        service,
        signed_headers: options
            .signed_headers
            .as_deref()
            .unwrap_or(DEFAULT_SIGNED_HEADERS),
    };
    let trace = compute(request, &inputs, credentials.secret_key().expose(), true)
        .map_err(Unusable::SignedHeaderAbsent)?;
    let request =
        super::with_authorization(request, trace.get(Step::Authorization).unwrap_or_default());
    Ok(Signed { request, trace })
}

pub(super) fn inspect(request: &Request, authorization: &str) -> Result<Claim, Unusable> {
    let authorization = Authorization::parse(authorization)?;
    let (_, seconds) = timestamp(request)?;
    Ok(Claim {
        scheme: Scheme::Tc3,
        secret_id: Some(authorization.secret_id().to_owned()),
        timestamp: Some(seconds),
        detail: ClaimDetail::Tc3(authorization),
    })
}

/// The checks of the claim that come before any hash: signed-header names, the required headers, the scope's
/// terminator, date (the UTC date of the timestamp) and service (`policy`'s, when it names one). The raw timestamp.
fn check_claim<'r>(
    request: &'r Request,
    authorization: &Authorization,
    policy: &Policy,
) -> Result<&'r str, Rejection> {
    let (raw_timestamp, seconds) = timestamp(request).expect("inspect() read the timestamp");
    if authorization
        .signed_headers()
        .bytes()
        .any(|b| b.is_ascii_uppercase())
    {
        return Err(Rejection::SignedHeaderNames(
            authorization.signed_headers().to_owned(),
        ));
    }
    if let Some(missing) = REQUIRED_SIGNED_HEADERS.into_iter().find(|required| {
        !authorization
            .signed_headers()
            .split(';')
            .any(|name| name == *required)
    }) {
        return Err(Rejection::SignedHeaders {
            signed_headers: authorization.signed_headers().to_owned(),
            missing,
        });
    }
    if authorization.terminator() != TERMINATOR {
        return Err(Rejection::ScopeTerminator(
            authorization.terminator().to_owned(),
        ));
    }
    let expected_date = utc_date(seconds);
    let expected_date = expected_date.as_deref().unwrap_or("no date (out of range)");
    if authorization.date() != expected_date {
        return Err(Rejection::ScopeDate {
            scope: authorization.date().to_owned(),
            expected: expected_date.to_owned(),
            timestamp: seconds,
        });
    }
    if let Some(expected) = policy
        .service
        .as_deref()
        .filter(|expected| *expected != authorization.service())
    {
        return Err(Rejection::ScopeService {
            scope: authorization.service().to_owned(),
            expected: expected.to_owned(),
        });
    }
    Ok(raw_timestamp)
}

pub(super) fn verify(
    request: &Request,
    authorization: &Authorization,
    secret_key: &str,
    policy: &Policy,
    derived_keys: bool,
) -> Result<Trace, Rejection> {
    let raw_timestamp = check_claim(request, authorization, policy)?;
    let inputs = Inputs {
        secret_id: authorization.secret_id(),
        timestamp: raw_timestamp,
        date: authorization.date(),
        service: authorization.service(),
        signed_headers: authorization.signed_headers(),
    };
    compute(request, &inputs, secret_key, derived_keys).map_err(Rejection::SignedHeaderAbsent)
}

/// Whether the request carries the signature `secret_key` gives it: the same checks and steps as [`verify`], with
/// no trace kept. The server's path for every request: one buffer for the canonical request, the derived key's
/// input and the string to sign in turn, the hashes on the stack. `Ok(false)`: the signature differs (the caller
/// asks [`verify`] how, off this path).
pub(super) fn matches(
    request: &Request,
    authorization: &Authorization,
    secret_key: &Secret,
    policy: &Policy,
) -> Result<bool, Rejection> {
    use std::fmt::Write as _;
    let raw_timestamp = check_claim(request, authorization, policy)?;
    let signed_headers = authorization.signed_headers();
    let query = request.query();
    TEXT.with_borrow_mut(|text| {
        // Steps 1 and 2: the canonical request and its hash (as `Canonical::of` builds them).
        text.clear();
        let _ = write!(text, "{}\n/\n{query}\n", request.method);
        super::push_canonical_headers(text, request, signed_headers)
            .map_err(Rejection::SignedHeaderAbsent)?;
        text.push('\n');
        text.push_str(signed_headers);
        text.push('\n');
        text.push_str(hex_of(&super::hash::sha256(payload(request)), &mut [0; 64]));
        let hashed_canonical_request = super::hash::sha256(text.as_bytes());

        // Step 3: the string to sign; step 4: the signature.
        text.clear();
        let _ = write!(
            text,
            "{ALGORITHM}\n{raw_timestamp}\n{}/{}/{TERMINATOR}\n{}",
            authorization.date(),
            authorization.service(),
            hex_of(&hashed_canonical_request, &mut [0; 64]),
        );
        let k_signing = signing_key(secret_key, authorization.date(), authorization.service());
        let signature = hmac_sha256(&k_signing, text.as_bytes());
        if text.capacity() > TEXT_KEPT {
            *text = String::new();
        }
        Ok(super::hash::constant_time_eq(
            hex_of(&signature, &mut [0; 64]),
            authorization.signature(),
        ))
    })
}

/// The most capacity [`matches`]' buffer keeps between requests (a canonical request holds a GET's whole query).
const TEXT_KEPT: usize = 16 * 1024;

thread_local! {
    /// [`matches`]' buffer for the canonical request and the string to sign, reused by each request a thread
    /// serves.
    static TEXT: RefCell<String> = const { RefCell::new(String::new()) };
    /// The last signing key [`matches`] derived on this thread.
    static SIGNING_KEY: RefCell<Option<SigningKey>> = const { RefCell::new(None) };
}

/// Step 4's `kSigning` and exactly what it was derived from. A client signs request after request with one key,
/// for one service, on one date: the mock derives once per day rather than with four HMACs per request.
struct SigningKey {
    secret_key: Secret,
    date: String,
    service: String,
    k_signing: [u8; 32],
}

/// `kSigning` for this key, date and service: the cached one only when all three are the ones it was derived from.
fn signing_key(secret_key: &Secret, date: &str, service: &str) -> [u8; 32] {
    SIGNING_KEY.with_borrow_mut(|cached| {
        if let Some(hit) = cached.as_ref().filter(|cached| {
            cached.secret_key == *secret_key && cached.date == date && cached.service == service
        }) {
            return hit.k_signing;
        }
        let [_, _, k_signing] = derive_keys(secret_key.expose(), date, service);
        *cached = Some(SigningKey {
            secret_key: secret_key.clone(),
            date: date.to_owned(),
            service: service.to_owned(),
            k_signing,
        });
        k_signing
    })
}

/// Step 4's derived keys: `kDate`, `kService`, `kSigning`.
fn derive_keys(secret_key: &str, date: &str, service: &str) -> [[u8; 32]; 3] {
    let k_date = hmac_sha256(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = hmac_sha256(&k_date, service.as_bytes());
    let k_signing = hmac_sha256(&k_service, TERMINATOR.as_bytes());
    [k_date, k_service, k_signing]
}

/// Lowercase hex of 32 bytes, written into `buffer`.
fn hex_of<'b>(bytes: &[u8; 32], buffer: &'b mut [u8; 64]) -> &'b str {
    hex::encode_to_slice(bytes, buffer).expect("64 hex digits for 32 bytes");
    std::str::from_utf8(buffer).expect("hex is ASCII")
}

/// The trace the server computes for the request, whatever its signature: the UTC date of its timestamp and the
/// endpoint's service (`policy`, else the scope's) in the scope; `Err` only when a signed header is absent.
pub(super) fn recompute(
    request: &Request,
    authorization: &Authorization,
    secret_key: &str,
    policy: &Policy,
) -> Result<Trace, Rejection> {
    let (raw_timestamp, seconds) = timestamp(request).map_err(|_| Rejection::ScopeDate {
        scope: authorization.date().to_owned(),
        expected: "no date (the timestamp is unreadable)".to_owned(),
        timestamp: 0,
    })?;
    let utc = utc_date(seconds);
    let utc = utc.as_deref().unwrap_or_default();
    let inputs = Inputs {
        secret_id: authorization.secret_id(),
        timestamp: raw_timestamp,
        date: utc,
        service: policy.service.as_deref().unwrap_or(authorization.service()),
        signed_headers: authorization.signed_headers(),
    };
    compute(request, &inputs, secret_key, policy.derived_keys)
        .map_err(Rejection::SignedHeaderAbsent)
}

/// A known client mistake: how to rebuild the request its client signed, and what to call it.
struct Mistake {
    id: &'static str,
    cause: String,
    trace: Trace,
}

/// Explains a rejected TC3 signature: recomputes the request as the server reads it (the UTC scope date, the
/// endpoint's service) and as each common client mistake would have signed it, and reports the mistake whose
/// signature is the one the request carries (the tries are in the module docs of [`super::diagnose`]).
pub(super) fn diagnose(
    request: &Request,
    authorization: &Authorization,
    secret_key: &str,
    policy: &Policy,
) -> super::diagnose::Diagnosis {
    let Ok((raw_timestamp, seconds)) = timestamp(request) else {
        return super::diagnose::unexplained(Scheme::Tc3, "X-TC-Timestamp is not a Unix time");
    };
    let utc = utc_date(seconds);
    let utc = utc.as_deref().unwrap_or_default();
    let service = policy.service.as_deref().unwrap_or(authorization.service());
    let server_inputs = Inputs {
        secret_id: authorization.secret_id(),
        timestamp: raw_timestamp,
        date: utc,
        service,
        signed_headers: authorization.signed_headers(),
    };
    let server = match compute(request, &server_inputs, secret_key, false) {
        Ok(trace) => trace,
        Err(header) => {
            return super::diagnose::unexplained(
                Scheme::Tc3,
                &format!("SignedHeaders names {header}, which the request does not carry"),
            );
        }
    };
    let claimed = Inputs {
        date: authorization.date(),
        service: authorization.service(),
        ..server_inputs
    };
    let signed_headers = &authorization.signed_headers();
    let mut tries: Vec<Mistake> = Vec::new();
    // The scope as the request states it: a local date, another service.
    if (authorization.date() != utc || authorization.service() != service)
        && let Ok(trace) = compute(request, &claimed, secret_key, false)
    {
        let cause = if authorization.date() != utc {
            format!(
                "the scope date is the local date, not UTC: the credential scope says {}, and the UTC date of \
                 X-TC-Timestamp {seconds} is {utc}",
                authorization.date()
            )
        } else {
            format!(
                "the credential scope names the service {:?}; this endpoint's is {service:?}",
                authorization.service()
            )
        };
        let id = if authorization.date() != utc {
            "scope-date-not-utc"
        } else {
            "scope-service"
        };
        tries.push(Mistake { id, cause, trace });
    }
    // The host without its port (clients that sign the endpoint's host name only).
    if let Some((portless, cause)) = super::signed_without_port(request)
        && let Ok(trace) = compute(&portless, &claimed, secret_key, false)
    {
        tries.push(Mistake {
            id: "host-without-port",
            cause,
            trace,
        });
    }
    // Header values not lowercased (`x-tc-action:TerminateInstances`).
    if let Ok(as_sent) = canonical_headers_as_sent(request, signed_headers)
        && super::canonical_headers(request, signed_headers)
            .ok()
            .as_deref()
            != Some(as_sent.as_str())
    {
        let trace = compute_with(request, &claimed, secret_key, &as_sent, false);
        let upper: Vec<&str> = signed_headers
            .split(';')
            .filter(|name| {
                request
                    .header(name)
                    .is_some_and(|value| value.bytes().any(|b| b.is_ascii_uppercase()))
            })
            .collect();
        tries.push(Mistake {
            id: "header-value-case",
            cause: format!(
                "{} signed in upper case: TC3 lowercases the values of signed headers in the canonical request \
                 (x-tc-action:terminateinstances)",
                upper.join(", ")
            ),
            trace,
        });
    }
    // The body re-serialised after signing: the client signed one JSON text and sent another.
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&request.body) {
        for (id, form, text) in super::diagnose::reserialisations(&value) {
            if text == request.body {
                continue;
            }
            let mut other = request.clone();
            other.body = text;
            if let Ok(trace) = compute(&other, &claimed, secret_key, false) {
                tries.push(Mistake {
                    id,
                    cause: format!(
                        "the body was re-serialised after signing: the signature is over the {form} JSON text of \
                         the body, and the body sent is another text of the same JSON"
                    ),
                    trace,
                });
            }
        }
    }
    let found = tries.into_iter().find(|mistake| {
        mistake.trace.get(Step::Signature).is_some_and(|signature| {
            super::hash::constant_time_eq(signature, authorization.signature())
        })
    });
    super::diagnose::from_traces(
        Scheme::Tc3,
        &server,
        found.map(|mistake| (mistake.id, mistake.cause, mistake.trace)),
    )
}

/// The canonical headers with values as sent (trimmed, not lowercased): what a client that forgets to lowercase
/// them signs.
fn canonical_headers_as_sent(request: &Request, signed_headers: &str) -> Result<String, String> {
    let mut canonical = String::new();
    for name in signed_headers.split(';') {
        let value = super::signed_header_value(request, name)?;
        canonical.push_str(&name.to_ascii_lowercase());
        canonical.push(':');
        canonical.push_str(value.trim());
        canonical.push('\n');
    }
    Ok(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_date_is_the_utc_date_not_beijing_time() {
        // 1551113065 is 2019-02-26 in UTC+8; the documentation's scope says 2019-02-25.
        assert_eq!(utc_date(1551113065).as_deref(), Some("2019-02-25"));
    }

    #[test]
    fn the_service_is_the_first_label_of_a_host_name_only() {
        assert_eq!(service_of_host("cvm.intl.tencentcloudapi.com"), Some("cvm"));
        assert_eq!(service_of_host("cvm.tencentcloudapi.com:443"), Some("cvm"));
        assert_eq!(service_of_host("127.0.0.1:18080"), None);
        assert_eq!(service_of_host("localhost:80"), None);
        assert_eq!(service_of_endpoint("mock.example.com"), None);
    }

    #[test]
    fn authorization_parts_are_read_whatever_their_spacing() {
        let parsed = Authorization::parse(
            "TC3-HMAC-SHA256 Credential=AKID/2019-02-25/cvm/tc3_request,SignedHeaders=content-type;host, Signature=ab",
        )
        .unwrap();
        assert_eq!((parsed.date(), parsed.service()), ("2019-02-25", "cvm"));
        assert_eq!(parsed.signed_headers(), "content-type;host");
    }

    #[test]
    fn the_cached_signing_key_answers_only_for_its_own_key_date_and_service() {
        let derived = |key: &str, date, service| derive_keys(key, date, service)[2];
        let key = Secret::new("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE");
        let first = signing_key(&key, "2019-02-25", "cvm");
        assert_eq!(first, derived(key.expose(), "2019-02-25", "cvm"));
        assert_eq!(signing_key(&key, "2019-02-25", "cvm"), first, "a hit");
        // Each input changed alone, including to one of the same length, derives afresh.
        for (other_key, date, service) in [
            ("Gu5t9xGARNpq86cd98joQYCN3EXAMPLF", "2019-02-25", "cvm"),
            ("Gu5t9xGARNpq86cd98joQYCN3EXAMPL", "2019-02-25", "cvm"),
            ("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "2019-02-26", "cvm"),
            ("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "2019-02-25", "sts"),
            ("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "2019-02-25", "cvm2"),
        ] {
            let answer = signing_key(&Secret::new(other_key), date, service);
            assert_eq!(
                answer,
                derived(other_key, date, service),
                "{date} {service}"
            );
            assert_ne!(answer, first, "{date} {service}");
        }
        assert_eq!(
            signing_key(&key, "2019-02-25", "cvm"),
            first,
            "derived again"
        );
    }

    #[test]
    fn a_credential_without_four_parts_is_malformed() {
        let error = Authorization::parse(
            "TC3-HMAC-SHA256 Credential=AKID/2019-02-25, SignedHeaders=host, Signature=ab",
        );
        assert!(matches!(error, Err(Unusable::MalformedAuthorization(_))));
    }
}
