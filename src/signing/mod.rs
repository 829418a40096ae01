//! Request signing and signature verification for the three schemes of our providers.
//!
//! | scheme | module | used by |
//! |---|---|---|
//! | `TC3-HMAC-SHA256` | [`tc3`] | Tencent Cloud API 3.0 (`cvm.tencentcloudapi.com`) |
//! | `HmacSHA1` / `HmacSHA256` `Signature` parameter | [`hmac_param`] | API 3.0 hosts ("v1") and the legacy API 2.0 gateway |
//! | `ZC2-HMAC-SHA256`, and `Bearer` tokens | [`zc2`] | Zenlayer Cloud API 2.0 |
//!
//! Signing is pure: the timestamp and nonce are inputs carried by the request itself, and [`sign`] returns the
//! signed request together with a [`Trace`] of every intermediate step. Verification is the same code run on a
//! received request: [`inspect`] reads what the request claims without any key (scheme, secret id, timestamp),
//! then [`Claim::verify`] rebuilds the trace with the key and either accepts or returns a [`Rejection`] that
//! names the step that differs. Given a reference trace (the signer's own, or an official example's), the
//! rejection names the first step at which the two disagree.
//!
//! Keys and tokens travel as [`Secret`] everywhere (credentials, world accounts, case steps, flags): it prints as
//! `[REDACTED]` and is read only through [`Secret::expose`], where an HMAC key or a header value is computed.
//! [`redact_all`] scrubs known secrets from text built out of requests (a failed case's message); [`leak`] finds a
//! known secret in bytes in any encoding it can travel in (the check before anything is written to a file).

pub mod diagnose;
pub mod hash;
pub mod hmac_param;
pub mod leak;
mod secret;
pub mod tc3;
pub mod tokens;
mod trace;
mod verify;
pub mod zc2;

pub use trace::{Step, Trace};
use verify::ClaimDetail;
pub use verify::{Claim, Difference, Policy, Rejection, Unusable, inspect};

use std::fmt;

pub use secret::{REDACTED, Secret, redact_all};

use crate::message::Request;

/// A signing scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// Tencent Cloud `TC3-HMAC-SHA256`, in the `Authorization` header.
    Tc3,
    /// Tencent Cloud `Signature` parameter with `HmacSHA1` (the default when `SignatureMethod` is absent).
    HmacSha1,
    /// Tencent Cloud `Signature` parameter with `SignatureMethod=HmacSHA256`.
    HmacSha256,
    /// Zenlayer Cloud `ZC2-HMAC-SHA256`, in the `Authorization` header.
    Zc2,
    /// Zenlayer Cloud personal access token: `Authorization: Bearer <token>`.
    Bearer,
}

impl Scheme {
    /// Every scheme, in documentation order.
    pub const ALL: [Scheme; 5] = [
        Self::Tc3,
        Self::HmacSha1,
        Self::HmacSha256,
        Self::Zc2,
        Self::Bearer,
    ];

    /// The name the providers use on the wire (`TC3-HMAC-SHA256`, `HmacSHA1`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Tc3 => tc3::ALGORITHM,
            Self::HmacSha1 => "HmacSHA1",
            Self::HmacSha256 => "HmacSHA256",
            Self::Zc2 => zc2::ALGORITHM,
            Self::Bearer => "Bearer",
        }
    }

    /// The short name used on the command line and in case files (`tc3`, `hmac-sha1`, …).
    pub fn short_name(self) -> &'static str {
        match self {
            Self::Tc3 => "tc3",
            Self::HmacSha1 => "hmac-sha1",
            Self::HmacSha256 => "hmac-sha256",
            Self::Zc2 => "zc2",
            Self::Bearer => "bearer",
        }
    }

    /// Reads a wire name or a short name, ignoring case.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scheme| {
            scheme.name().eq_ignore_ascii_case(name)
                || scheme.short_name().eq_ignore_ascii_case(name)
        })
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A secret id and its secret key (for Zenlayer: AccessKeyId and AccessKeyPassword; for Bearer: the token as key).
///
/// The key is a [`Secret`], so `Debug` shows the id and `[REDACTED]`: credentials can sit in any struct that is
/// logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// The public half: `SecretId` / `AccessKeyId`.
    pub secret_id: String,
    secret_key: Secret,
}

impl Credentials {
    /// Pairs a secret id with its key.
    pub fn new(secret_id: impl Into<String>, secret_key: impl Into<Secret>) -> Self {
        Self {
            secret_id: secret_id.into(),
            secret_key: secret_key.into(),
        }
    }

    /// The secret key.
    pub fn secret_key(&self) -> &Secret {
        &self.secret_key
    }
}

/// What the request itself cannot say about how to sign it.
#[derive(Clone, Debug, Default)]
pub struct SignOptions {
    /// TC3 and ZC2: the headers to sign, `;`-separated. Default `content-type;host`, as every official SDK does.
    pub signed_headers: Option<String>,
    /// TC3: the credential-scope service. Default: the first label of the host name.
    pub service: Option<String>,
}

/// A signed request and the trace of its signing.
#[derive(Clone, Debug)]
pub struct Signed {
    /// The input request plus its `Authorization` header or `Signature` parameter.
    pub request: Request,
    /// Every intermediate step.
    pub trace: Trace,
}

/// Signs a request that carries everything but its signature (an existing one is replaced).
pub fn sign(
    request: &Request,
    credentials: &Credentials,
    scheme: Scheme,
    options: &SignOptions,
) -> Result<Signed, Unusable> {
    match scheme {
        Scheme::Tc3 => tc3::sign(request, credentials, options),
        Scheme::HmacSha1 | Scheme::HmacSha256 => hmac_param::sign(request, credentials, scheme),
        Scheme::Zc2 => zc2::sign(request, credentials, options),
        Scheme::Bearer => Ok(zc2::sign_bearer(request, credentials)),
    }
}

/// The scheme an unsigned request is meant for, read from its shape.
///
/// A `SecretId` parameter means the `Signature` parameter scheme (`HmacSHA256` when `SignatureMethod` says so);
/// `X-ZC-*` headers mean ZC2; `X-TC-*` headers mean TC3.
pub fn infer_scheme(request: &Request) -> Option<Scheme> {
    if let Ok(params) = hmac_param::Params::read(request)
        && params.get("SecretId").is_some()
    {
        return Some(hmac_param::scheme_of(&params));
    }
    let has_prefix = |prefix: &str| {
        request.headers.iter().any(|(name, _)| {
            name.len() > prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix)
        })
    };
    if has_prefix("x-zc-") {
        Some(Scheme::Zc2)
    } else if has_prefix("x-tc-") {
        Some(Scheme::Tc3)
    } else {
        None
    }
}

/// The request as a client that signs the endpoint's host name only would have signed it (its `Host` without the
/// port), and that mistake in words; none when the host names no port.
pub(crate) fn signed_without_port(request: &Request) -> Option<(Request, String)> {
    let host = request.host()?;
    let (name, port) = host.rsplit_once(':')?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let cause = format!(
        "the host was signed without its port: the request was signed for host {name}, and it was sent to {host}"
    );
    let mut portless = request.clone();
    portless.set_header("Host", name);
    Some((portless, cause))
}

/// The raw value of a timestamp header (`X-TC-Timestamp`, `X-ZC-Timestamp`) and its seconds.
pub(crate) fn timestamp_header<'r>(
    request: &'r Request,
    name: &'static str,
) -> Result<(&'r str, i64), Unusable> {
    let raw = request
        .header(name)
        .ok_or(Unusable::MissingHeader(name))?
        .trim();
    let seconds = raw.parse::<i64>().map_err(|_| Unusable::Timestamp {
        name,
        value: raw.to_owned(),
    })?;
    Ok((raw, seconds))
}

/// The request with its `Authorization` header replaced by (or set to) `value`, placed last.
pub(crate) fn with_authorization(request: &Request, value: &str) -> Request {
    let mut signed = request.clone();
    signed.remove_header("authorization");
    signed
        .headers
        .push(("Authorization".to_owned(), value.to_owned()));
    signed
}

/// Steps 1 and 2 of TC3, and of ZC2, which copies TC3's canonical request (with the query always empty): the
/// payload hash, the canonical request, and its hash.
pub(crate) struct Canonical {
    pub(crate) hashed_payload: String,
    pub(crate) canonical_request: String,
    pub(crate) hashed_canonical_request: String,
}

impl Canonical {
    /// Computes them over `payload` (the body, or TC3's literal `UNSIGNED-PAYLOAD`); fails only when a signed
    /// header is absent, naming it.
    pub(crate) fn of(
        request: &Request,
        query: &str,
        signed_headers: &str,
        payload: &[u8],
    ) -> Result<Self, String> {
        let canonical_headers = canonical_headers(request, signed_headers)?;
        Ok(Self::with_headers(
            request,
            query,
            &canonical_headers,
            signed_headers,
            payload,
        ))
    }

    /// The same from canonical headers the caller computed (a diagnosis tries other spellings of them).
    pub(crate) fn with_headers(
        request: &Request,
        query: &str,
        canonical_headers: &str,
        signed_headers: &str,
        payload: &[u8],
    ) -> Self {
        let hashed_payload = hash::sha256_hex(payload);
        let canonical_request = format!(
            "{method}\n/\n{query}\n{canonical_headers}\n{signed_headers}\n{hashed_payload}",
            method = request.method,
        );
        let hashed_canonical_request = hash::sha256_hex(canonical_request.as_bytes());
        Self {
            hashed_payload,
            canonical_request,
            hashed_canonical_request,
        }
    }

    /// Records the three steps, in computation order.
    pub(crate) fn record(self, trace: &mut Trace) {
        trace.record(Step::HashedPayload, self.hashed_payload);
        trace.record(Step::CanonicalRequest, self.canonical_request);
        trace.record(Step::HashedCanonicalRequest, self.hashed_canonical_request);
    }
}

/// `name:value\n` for each header `SignedHeaders` names, in that order, names and values lowercased and trimmed
/// (the TC3 and ZC2 documents both say so). `Err` names a header the request does not carry.
pub(crate) fn canonical_headers(request: &Request, signed_headers: &str) -> Result<String, String> {
    let mut canonical = String::with_capacity(96);
    push_canonical_headers(&mut canonical, request, signed_headers)?;
    Ok(canonical)
}

/// [`canonical_headers`], appended to `canonical`.
pub(crate) fn push_canonical_headers(
    canonical: &mut String,
    request: &Request,
    signed_headers: &str,
) -> Result<(), String> {
    for name in signed_headers.split(';') {
        let value = signed_header_value(request, name)?;
        canonical.extend(name.chars().map(|c| c.to_ascii_lowercase()));
        canonical.push(':');
        canonical.extend(value.trim().chars().map(|c| c.to_ascii_lowercase()));
        canonical.push('\n');
    }
    Ok(())
}

/// The value of a header `SignedHeaders` names: `host` is the request's host (the authority of an absolute-form
/// target when there is no `Host` header). `Err` names a header the request does not carry.
pub(crate) fn signed_header_value<'r>(request: &'r Request, name: &str) -> Result<&'r str, String> {
    let value = if name.eq_ignore_ascii_case("host") {
        request.host()
    } else {
        request.header(name)
    };
    value.ok_or_else(|| name.to_owned())
}
