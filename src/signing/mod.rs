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
//! [`redact_all`] scrubs known secrets from text built out of requests (a failed case's message).

pub mod hash;
pub mod hmac_param;
mod secret;
pub mod tc3;
pub mod zc2;

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

/// One intermediate step of signing, in the order the algorithms compute them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// Lowercase hex SHA-256 of the payload (the body bytes, or `UNSIGNED-PAYLOAD`).
    HashedPayload,
    /// The canonical request (TC3, ZC2).
    CanonicalRequest,
    /// Lowercase hex SHA-256 of the canonical request.
    HashedCanonicalRequest,
    /// TC3 `date/service/tc3_request`.
    CredentialScope,
    /// The string the final HMAC signs.
    StringToSign,
    /// TC3 derived key `HMAC("TC3" + key, date)`.
    KDate,
    /// TC3 derived key `HMAC(kDate, service)`.
    KService,
    /// TC3 derived key `HMAC(kService, "tc3_request")`.
    KSigning,
    /// The signature: lowercase hex (TC3, ZC2) or base64 (`Signature` parameter).
    Signature,
    /// The `Signature` parameter's value URL-encoded, as sent.
    SignatureParameter,
    /// The `Authorization` header's value.
    Authorization,
}

impl Step {
    /// Every step, in computation order.
    pub const ALL: [Step; 11] = [
        Self::HashedPayload,
        Self::CanonicalRequest,
        Self::HashedCanonicalRequest,
        Self::CredentialScope,
        Self::StringToSign,
        Self::KDate,
        Self::KService,
        Self::KSigning,
        Self::Signature,
        Self::SignatureParameter,
        Self::Authorization,
    ];

    /// The step's name in traces, JSON and vector files (`canonical-request`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::HashedPayload => "hashed-payload",
            Self::CanonicalRequest => "canonical-request",
            Self::HashedCanonicalRequest => "hashed-canonical-request",
            Self::CredentialScope => "credential-scope",
            Self::StringToSign => "string-to-sign",
            Self::KDate => "k-date",
            Self::KService => "k-service",
            Self::KSigning => "k-signing",
            Self::Signature => "signature",
            Self::SignatureParameter => "signature-parameter",
            Self::Authorization => "authorization",
        }
    }

    /// Reads a step name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|step| step.name() == name)
    }

    /// Derived keys are secret material: masked in `Debug`, never logged.
    pub fn is_secret(self) -> bool {
        matches!(self, Self::KDate | Self::KService | Self::KSigning)
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every intermediate of one signing, in computation order.
#[derive(Clone, PartialEq, Eq)]
pub struct Trace {
    /// The scheme that produced it.
    pub scheme: Scheme,
    steps: Vec<(Step, String)>,
}

impl Trace {
    /// An empty trace, to be filled in computation order (or from an outside source, as a reference).
    pub fn new(scheme: Scheme) -> Self {
        Self {
            scheme,
            steps: Vec::with_capacity(Step::ALL.len()),
        }
    }

    /// Records a step's value, replacing an earlier one for the same step.
    pub fn record(&mut self, step: Step, value: impl Into<String>) {
        let value = value.into();
        match self.steps.iter_mut().find(|(known, _)| *known == step) {
            Some((_, existing)) => *existing = value,
            None => self.steps.push((step, value)),
        }
    }

    /// The value of a step, if the scheme has it.
    pub fn get(&self, step: Step) -> Option<&str> {
        self.steps
            .iter()
            .find(|(known, _)| *known == step)
            .map(|(_, value)| value.as_str())
    }

    /// Whether a step's value is secret material: a derived key, or a Bearer request's `Authorization` (the
    /// token itself). Printed only when asked for (`--trace`), never logged.
    pub fn is_secret(&self, step: Step) -> bool {
        step.is_secret() || (self.scheme == Scheme::Bearer && step == Step::Authorization)
    }

    /// The steps in computation order.
    pub fn steps(&self) -> impl Iterator<Item = (Step, &str)> {
        self.steps
            .iter()
            .map(|(step, value)| (*step, value.as_str()))
    }

    /// The first step at which this (recomputed) trace and a reference trace disagree, explained.
    ///
    /// Only steps present in both are compared, in computation order, so a reference may hold just the
    /// stages its source published.
    pub fn first_difference(&self, reference: &Trace) -> Option<Difference> {
        let reference = reference.with_implied_steps();
        let mut compared_before = false;
        for (step, received) in self.steps() {
            let Some(signed) = reference.get(step) else {
                continue;
            };
            if signed != received {
                return Some(if step == Step::Signature && !compared_before {
                    Difference::signature(signed, received, false)
                } else {
                    Difference::new(step, signed, received)
                });
            }
            compared_before = true;
        }
        None
    }

    /// This trace plus the steps its published ones contain: the payload hash is the last line of a TC3 or ZC2
    /// canonical request, the hashed canonical request the last line of its string to sign, the TC3 scope the
    /// third, the signature the end of the `Authorization` header or the decoded `Signature` parameter.
    fn with_implied_steps(&self) -> Trace {
        let mut trace = self.clone();
        let last_line = |step| {
            self.get(step)
                .and_then(|text: &str| text.rsplit('\n').next())
        };
        if matches!(self.scheme, Scheme::Tc3 | Scheme::Zc2) {
            if let Some(hash) = last_line(Step::CanonicalRequest)
                .filter(|_| self.get(Step::HashedPayload).is_none())
            {
                trace.record(Step::HashedPayload, hash);
            }
            if let Some(hash) = last_line(Step::StringToSign)
                .filter(|_| self.get(Step::HashedCanonicalRequest).is_none())
            {
                trace.record(Step::HashedCanonicalRequest, hash);
            }
            if let Some(signature) = self
                .get(Step::Authorization)
                .and_then(|value| value.rsplit_once("Signature="))
                .filter(|_| self.get(Step::Signature).is_none())
            {
                trace.record(Step::Signature, signature.1.trim());
            }
        }
        if self.scheme == Scheme::Tc3
            && self.get(Step::CredentialScope).is_none()
            && let Some(scope) = self
                .get(Step::StringToSign)
                .and_then(|text| text.split('\n').nth(2))
        {
            trace.record(Step::CredentialScope, scope);
        }
        if self.get(Step::Signature).is_none()
            && let Some(parameter) = self.get(Step::SignatureParameter)
        {
            let decoded: String = form_urlencoded::parse(format!("s={parameter}").as_bytes())
                .map(|(_, value)| value.into_owned())
                .collect();
            trace.record(Step::Signature, decoded);
        }
        // Keep computation order, so the first difference is the earliest step.
        trace
            .steps
            .sort_by_key(|(step, _)| Step::ALL.iter().position(|known| known == step));
        trace
    }
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        map.entry(&"scheme", &self.scheme.name());
        for (step, value) in self.steps() {
            let value = if self.is_secret(step) {
                REDACTED
            } else {
                value
            };
            map.entry(&step.name(), &value);
        }
        map.finish()
    }
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

/// What a signed request claims about its signature, read without any key.
#[derive(Clone, Debug)]
pub struct Claim {
    /// The scheme the request was signed with.
    pub scheme: Scheme,
    /// The secret id it names (`None` for Bearer tokens, which name none).
    pub secret_id: Option<String>,
    /// The signing time it carries, in Unix seconds (`None` for Bearer tokens).
    pub timestamp: Option<i64>,
    detail: ClaimDetail,
}

#[derive(Clone, Debug)]
enum ClaimDetail {
    Tc3(tc3::Authorization),
    Param(hmac_param::Claimed),
    Zc2(zc2::Authorization),
    Bearer,
}

/// Reads the signature claim of a request: its scheme, secret id, timestamp and signature.
pub fn inspect(request: &Request) -> Result<Claim, Unusable> {
    if request.host().is_none() {
        return Err(Unusable::NoHost);
    }
    if let Some(authorization) = request.header("authorization") {
        let algorithm = authorization.split_whitespace().next().unwrap_or("");
        return match algorithm {
            tc3::ALGORITHM => tc3::inspect(request, authorization),
            zc2::ALGORITHM => zc2::inspect(request, authorization),
            "Bearer" => Ok(Claim {
                scheme: Scheme::Bearer,
                secret_id: None,
                timestamp: None,
                detail: ClaimDetail::Bearer,
            }),
            other => Err(Unusable::UnknownScheme(other.chars().take(40).collect())),
        };
    }
    hmac_param::inspect(request)
}

/// How strict verification is.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The largest accepted distance, in seconds, between the request's timestamp and now (TC3: 300).
    pub max_skew: u64,
    /// TC3: the only credential-scope service accepted; `None` accepts the one the request names.
    pub service: Option<String>,
}

impl Default for Policy {
    /// Tencent's documented window: five minutes either way; any service.
    fn default() -> Self {
        Self {
            max_skew: 300,
            service: None,
        }
    }
}

impl Claim {
    /// Verifies the request with `secret_key`: accepts with the recomputed trace, or names what differs.
    ///
    /// Expiry is checked only when `now` (Unix seconds) is given. With a `reference` trace, a signature
    /// mismatch is explained by the first step at which the recomputed trace departs from it.
    pub fn verify(
        &self,
        request: &Request,
        secret_key: &Secret,
        now: Option<i64>,
        policy: &Policy,
        reference: Option<&Trace>,
    ) -> Result<Trace, Rejection> {
        if let (Some(now), Some(timestamp)) = (now, self.timestamp)
            && now.abs_diff(timestamp) > policy.max_skew
        {
            return Err(Rejection::Expired {
                timestamp,
                now,
                max_skew: policy.max_skew,
            });
        }
        let secret_key = secret_key.expose();
        let (trace, claimed) = match &self.detail {
            ClaimDetail::Tc3(authorization) => {
                let trace = tc3::verify(request, authorization, secret_key, policy)?;
                (trace, authorization.signature.as_str())
            }
            ClaimDetail::Param(claimed) => (
                hmac_param::compute(request, &claimed.params, self.scheme, secret_key),
                claimed.signature.as_str(),
            ),
            ClaimDetail::Zc2(authorization) => {
                let trace = zc2::verify(request, authorization, secret_key)?;
                (trace, authorization.signature.as_str())
            }
            ClaimDetail::Bearer => return zc2::verify_bearer(request, secret_key),
        };
        let computed = trace.get(Step::Signature).unwrap_or_default();
        if hash::constant_time_eq(computed, claimed) {
            return Ok(trace);
        }
        let difference = reference
            .and_then(|reference| trace.first_difference(reference))
            .unwrap_or_else(|| Difference::signature(claimed, computed, reference.is_some()));
        Err(Rejection::Differs(Box::new(difference)))
    }
}

/// Why a request cannot be verified or signed at all: it is not a signed request of a known shape.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unusable {
    /// No `Host` header and no absolute-form target.
    #[error("the request has no Host header")]
    NoHost,
    /// Neither an `Authorization` header nor a `Signature` parameter.
    #[error("the request carries no signature: no Authorization header and no Signature parameter")]
    NoSignature,
    /// The `Authorization` header names an algorithm we do not know.
    #[error("unknown signing scheme {0:?} in the Authorization header")]
    UnknownScheme(String),
    /// The `Authorization` header does not have its scheme's syntax.
    #[error("malformed Authorization header: {0}")]
    MalformedAuthorization(String),
    /// A header the scheme needs is absent.
    #[error("the request has no {0} header")]
    MissingHeader(&'static str),
    /// A parameter the scheme needs is absent.
    #[error("the request has no {0} parameter")]
    MissingParameter(&'static str),
    /// A timestamp is not a whole number of seconds in range.
    #[error("{name} {value:?} is not a Unix time in seconds")]
    Timestamp {
        /// Where the timestamp was read.
        name: &'static str,
        /// What it said.
        value: String,
    },
    /// A header named in `SignedHeaders` is absent, so nothing can be signed.
    #[error("signed header {0} is not in the request")]
    SignedHeaderAbsent(String),
    /// The parameters cannot be read (a POST body that is not a form, say).
    #[error("cannot read the parameters: {0}")]
    Parameters(String),
    /// The request contradicts the signing inputs.
    #[error("{0}")]
    Conflict(String),
}

/// Why a signature is not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The timestamp is too far from now.
    #[error(
        "signature expired: timestamp {timestamp} is {} s {} now ({now}); at most {max_skew} s is accepted",
        timestamp.abs_diff(*now),
        if timestamp < now { "before" } else { "after" }
    )]
    Expired {
        /// The request's timestamp.
        timestamp: i64,
        /// The verifier's now.
        now: i64,
        /// The accepted distance.
        max_skew: u64,
    },
    /// TC3: the credential-scope date is not the UTC date of `X-TC-Timestamp`.
    #[error(
        "credential scope date {scope} is not {expected}, the UTC date of X-TC-Timestamp {timestamp}"
    )]
    ScopeDate {
        /// The date in the scope.
        scope: String,
        /// The UTC date of the timestamp.
        expected: String,
        /// The timestamp.
        timestamp: i64,
    },
    /// TC3: the credential-scope service is not the one this endpoint serves.
    #[error("credential scope service {scope:?} is not {expected:?}, the service of this endpoint")]
    ScopeService {
        /// The service in the scope.
        scope: String,
        /// The service expected.
        expected: String,
    },
    /// TC3: the credential scope does not end in `tc3_request`.
    #[error("credential scope terminator {0:?} is not \"tc3_request\"")]
    ScopeTerminator(String),
    /// `SignedHeaders` leaves out a header that must be signed.
    #[error("SignedHeaders {signed_headers:?} does not include {missing}, which must be signed")]
    SignedHeaders {
        /// The `SignedHeaders` value.
        signed_headers: String,
        /// The header that must be in it.
        missing: &'static str,
    },
    /// A header named in `SignedHeaders` is not in the request.
    #[error("signed header {0} is not in the request")]
    SignedHeaderAbsent(String),
    /// The recomputed signature differs; the first differing step is named.
    #[error("{0}")]
    Differs(Box<Difference>),
}

impl Rejection {
    /// The name of the step (or check) that failed, for reports and JSON.
    pub fn step(&self) -> &'static str {
        match self {
            Self::Expired { .. } => "timestamp",
            Self::ScopeDate { .. } | Self::ScopeService { .. } | Self::ScopeTerminator(_) => {
                Step::CredentialScope.name()
            }
            Self::SignedHeaders { .. } | Self::SignedHeaderAbsent(_) => "signed-headers",
            Self::Differs(difference) => difference.step.name(),
        }
    }
}

/// The first step at which a recomputed trace departs from what was signed, with a sentence that says how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The step.
    pub step: Step,
    message: String,
}

impl Difference {
    fn new(step: Step, signed: &str, received: &str) -> Self {
        let message = match step {
            Step::HashedPayload => {
                format!("payload hash differs: signed {signed}, body hashes to {received}")
            }
            Step::CanonicalRequest | Step::StringToSign => {
                let what = if step == Step::CanonicalRequest {
                    "canonical request"
                } else {
                    "string to sign"
                };
                describe_line_difference(what, signed, received)
            }
            Step::KDate | Step::KService | Step::KSigning => format!(
                "derived key {step} differs while the string to sign matches: the secret key is not the one the \
                 request was signed with"
            ),
            Step::Signature => format!(
                "signature differs while every earlier step matches: the secret key is not the one the request \
                 was signed with (signed {}, recomputed {})",
                abbreviate(signed),
                abbreviate(received)
            ),
            _ => format!("{step} differs: signed {signed:?}, recomputed {received:?}"),
        };
        Self { step, message }
    }

    /// A bearer token that is not the expected one (never quoted: it is the secret).
    fn bearer_token() -> Self {
        Self {
            step: Step::Authorization,
            message: "the bearer token is not the expected one".to_owned(),
        }
    }

    /// A mismatch known only by its final signature.
    fn signature(claimed: &str, computed: &str, had_reference: bool) -> Self {
        let hint = if had_reference {
            "every published step matches, so the secret key differs"
        } else {
            "the key or a signed part of the request differs; compare with the signer's trace to find which"
        };
        Self {
            step: Step::Signature,
            message: format!(
                "signature differs: the request carries {}, the key and the request give {}; {hint}",
                abbreviate(claimed),
                abbreviate(computed)
            ),
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
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

/// `name:value\n` for each header `SignedHeaders` names, in that order, names and values lowercased and trimmed
/// (the TC3 and ZC2 documents both say so). `Err` names a header the request does not carry.
pub(crate) fn canonical_headers(request: &Request, signed_headers: &str) -> Result<String, String> {
    let mut canonical = String::with_capacity(96);
    for name in signed_headers.split(';') {
        let value = if name.eq_ignore_ascii_case("host") {
            request.host()
        } else {
            request.header(name)
        };
        let value = value.ok_or_else(|| name.to_owned())?;
        canonical.push_str(&name.to_ascii_lowercase());
        canonical.push(':');
        canonical.push_str(&value.trim().to_ascii_lowercase());
        canonical.push('\n');
    }
    Ok(canonical)
}

/// Names the first differing line of two multi-line strings, quoting both sides.
fn describe_line_difference(what: &str, signed: &str, received: &str) -> String {
    let mut signed_lines = signed.split('\n');
    let mut received_lines = received.split('\n');
    for number in 1.. {
        match (signed_lines.next(), received_lines.next()) {
            (Some(a), Some(b)) if a == b => continue,
            (None, None) => break,
            (a, b) => {
                return format!(
                    "{what} differs at line {number}: signed {:?}, received {:?}",
                    a.unwrap_or("<end>"),
                    b.unwrap_or("<end>")
                );
            }
        }
    }
    format!("{what} differs")
}

/// The first 8 characters and an ellipsis: enough to tell signatures apart, never a whole one in a message.
fn abbreviate(signature: &str) -> String {
    let prefix: String = signature.chars().take(8).collect();
    format!("{prefix}…")
}
