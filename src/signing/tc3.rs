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

use super::hash::{hmac_sha256, sha256_hex};
use super::{
    Claim, ClaimDetail, Credentials, Policy, Rejection, Scheme, SignOptions, Signed, Step, Trace,
    Unusable,
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

/// A parsed `Authorization: TC3-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// The SecretId of the credential.
    pub secret_id: String,
    /// The scope date, `YYYY-MM-DD`.
    pub date: String,
    /// The scope service, e.g. `cvm`.
    pub service: String,
    /// The scope terminator, `tc3_request` when well formed.
    pub terminator: String,
    /// The `;`-separated signed header names.
    pub signed_headers: String,
    /// The lowercase hex signature.
    pub signature: String,
}

impl Authorization {
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
        let scope: Vec<&str> = credential.split('/').collect();
        let [secret_id, date, service, terminator] = scope[..] else {
            return Err(malformed(
                "Credential is not SecretId/date/service/tc3_request",
            ));
        };
        if secret_id.is_empty() {
            return Err(malformed("Credential names no SecretId"));
        }
        Ok(Self {
            secret_id: secret_id.to_owned(),
            date: date.to_owned(),
            service: service.to_owned(),
            terminator: terminator.to_owned(),
            signed_headers: signed_headers.to_owned(),
            signature: signature.to_owned(),
        })
    }

    /// The header value for these parts.
    fn render(secret_id: &str, scope: &str, signed_headers: &str, signature: &str) -> String {
        format!(
            "{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
        )
    }
}

/// The UTC date (`YYYY-MM-DD`) of a Unix timestamp: the credential-scope date.
pub fn utc_date(timestamp: i64) -> Option<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::OffsetDateTime::from_unix_timestamp(timestamp)
        .ok()?
        .format(&format)
        .ok()
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

/// Computes every step. Fails only when a signed header is absent, naming it.
fn compute(request: &Request, inputs: &Inputs<'_>, secret_key: &str) -> Result<Trace, String> {
    let mut trace = Trace::new(Scheme::Tc3);

    // Step 1: the payload hash, of the body bytes as received (or of the literal UNSIGNED-PAYLOAD).
    let unsigned = request.header("x-tc-content-sha256").map(str::trim) == Some(UNSIGNED_PAYLOAD);
    let payload: &[u8] = if unsigned {
        UNSIGNED_PAYLOAD.as_bytes()
    } else {
        &request.body
    };
    let hashed_payload = sha256_hex(payload);

    // Step 2: the canonical request.
    let canonical_headers = super::canonical_headers(request, inputs.signed_headers)?;
    let canonical_request = format!(
        "{method}\n/\n{query}\n{canonical_headers}\n{signed_headers}\n{hashed_payload}",
        method = request.method,
        query = request.query(),
        signed_headers = inputs.signed_headers,
    );
    let hashed_canonical_request = sha256_hex(canonical_request.as_bytes());

    // Step 3: the string to sign.
    let scope = format!("{}/{}/{TERMINATOR}", inputs.date, inputs.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{scope}\n{hashed_canonical_request}",
        inputs.timestamp
    );

    // Step 4: the derived keys and the signature.
    let k_date = hmac_sha256(
        format!("TC3{secret_key}").as_bytes(),
        inputs.date.as_bytes(),
    );
    let k_service = hmac_sha256(&k_date, inputs.service.as_bytes());
    let k_signing = hmac_sha256(&k_service, TERMINATOR.as_bytes());
    let signature = hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()));

    // Step 5: the Authorization header.
    let authorization =
        Authorization::render(inputs.secret_id, &scope, inputs.signed_headers, &signature);

    trace.record(Step::HashedPayload, hashed_payload);
    trace.record(Step::CanonicalRequest, canonical_request);
    trace.record(Step::HashedCanonicalRequest, hashed_canonical_request);
    trace.record(Step::CredentialScope, scope);
    trace.record(Step::StringToSign, string_to_sign);
    trace.record(Step::KDate, hex::encode(k_date));
    trace.record(Step::KService, hex::encode(k_service));
    trace.record(Step::KSigning, hex::encode(k_signing));
    trace.record(Step::Signature, signature);
    trace.record(Step::Authorization, authorization);
    Ok(trace)
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
    let trace = compute(request, &inputs, credentials.secret_key().expose())
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
        secret_id: Some(authorization.secret_id.clone()),
        timestamp: Some(seconds),
        detail: ClaimDetail::Tc3(authorization),
    })
}

pub(super) fn verify(
    request: &Request,
    authorization: &Authorization,
    secret_key: &str,
    policy: &Policy,
) -> Result<Trace, Rejection> {
    let (raw_timestamp, seconds) = timestamp(request).expect("inspect() read the timestamp");
    let names: Vec<&str> = authorization.signed_headers.split(';').collect();
    if let Some(missing) = REQUIRED_SIGNED_HEADERS
        .into_iter()
        .find(|required| !names.contains(required))
    {
        return Err(Rejection::SignedHeaders {
            signed_headers: authorization.signed_headers.clone(),
            missing,
        });
    }
    if authorization.terminator != TERMINATOR {
        return Err(Rejection::ScopeTerminator(authorization.terminator.clone()));
    }
    let expected_date = utc_date(seconds).unwrap_or_else(|| "no date (out of range)".to_owned());
    if authorization.date != expected_date {
        return Err(Rejection::ScopeDate {
            scope: authorization.date.clone(),
            expected: expected_date,
            timestamp: seconds,
        });
    }
    if let Some(expected) = policy
        .service
        .as_deref()
        .filter(|expected| *expected != authorization.service)
    {
        return Err(Rejection::ScopeService {
            scope: authorization.service.clone(),
            expected: expected.to_owned(),
        });
    }
    let inputs = Inputs {
        secret_id: &authorization.secret_id,
        timestamp: raw_timestamp,
        date: &authorization.date,
        service: &authorization.service,
        signed_headers: &authorization.signed_headers,
    };
    compute(request, &inputs, secret_key).map_err(Rejection::SignedHeaderAbsent)
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
        assert_eq!(
            (parsed.date.as_str(), parsed.service.as_str()),
            ("2019-02-25", "cvm")
        );
        assert_eq!(parsed.signed_headers, "content-type;host");
    }

    #[test]
    fn a_credential_without_four_parts_is_malformed() {
        let error = Authorization::parse(
            "TC3-HMAC-SHA256 Credential=AKID/2019-02-25, SignedHeaders=host, Signature=ab",
        );
        assert!(matches!(error, Err(Unusable::MalformedAuthorization(_))));
    }
}
