//! Verification: what a received request claims ([`inspect`] into a [`Claim`], read without any key), and the
//! claim checked with the key ([`Claim::verify`]) into acceptance, a [`Rejection`] naming the step that differs
//! ([`Difference`]), or the reason the request cannot be verified at all ([`Unusable`]).

use std::fmt;

use super::{Scheme, Secret, Step, Trace, diagnose, hash, hmac_param, tc3, zc2};
use crate::message::Request;

/// What a signed request claims about its signature, read without any key.
#[derive(Clone, Debug)]
pub struct Claim {
    /// The scheme the request was signed with.
    pub scheme: Scheme,
    /// The secret id it names (`None` for Bearer tokens, which name none).
    pub secret_id: Option<String>,
    /// The signing time it carries, in Unix seconds (`None` for Bearer tokens).
    pub timestamp: Option<i64>,
    pub(super) detail: ClaimDetail,
}

#[derive(Clone, Debug)]
pub(super) enum ClaimDetail {
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
    pub service: Option<std::borrow::Cow<'static, str>>,
    /// TC3: record the derived keys (`kDate`, `kService`, `kSigning`, hex) in the trace, for a reader of it (a
    /// reference to compare with always gets them). A server that only needs the verdict leaves them out.
    pub derived_keys: bool,
}

impl Default for Policy {
    /// Tencent's documented window: five minutes either way; any service.
    fn default() -> Self {
        Self {
            max_skew: 300,
            service: None,
            derived_keys: true,
        }
    }
}

impl Claim {
    /// TC3: the credential-scope service the `Authorization` header names, as read (`None` for other schemes).
    pub fn scope_service(&self) -> Option<&str> {
        match &self.detail {
            ClaimDetail::Tc3(authorization) => Some(authorization.service()),
            _ => None,
        }
    }

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
                let derived_keys = policy.derived_keys || reference.is_some();
                let trace = tc3::verify(request, authorization, secret_key, policy, derived_keys)?;
                (trace, authorization.signature())
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

impl Claim {
    /// Whether `secret_key` signed the request: [`Claim::verify`] without a reference or derived keys, for a
    /// server that needs only the verdict. TC3 (every API 3.0 request) keeps no trace on the way; a rejection is
    /// explained by [`Claim::verify`] itself, so it is the same rejection.
    pub fn accepts(
        &self,
        request: &Request,
        secret_key: &Secret,
        now: Option<i64>,
        policy: &Policy,
    ) -> Result<(), Rejection> {
        let lean = Policy {
            derived_keys: false,
            ..policy.clone()
        };
        if let ClaimDetail::Tc3(authorization) = &self.detail {
            let in_window = match (now, self.timestamp) {
                (Some(now), Some(timestamp)) => now.abs_diff(timestamp) <= policy.max_skew,
                _ => true,
            };
            if in_window && tc3::matches(request, authorization, secret_key, &lean)? {
                return Ok(());
            }
        }
        self.verify(request, secret_key, now, &lean, None).map(drop)
    }

    /// The steps the key gives for this request, whether or not its signature is the one it carries (what
    /// `verify --trace` shows on a rejection): TC3 with the UTC date of its timestamp and `policy`'s service in
    /// the scope. `Err` when nothing can be computed (a signed header the request lacks).
    pub fn recompute(
        &self,
        request: &Request,
        secret_key: &Secret,
        policy: &Policy,
    ) -> Result<Trace, Rejection> {
        let key = secret_key.expose();
        match &self.detail {
            ClaimDetail::Tc3(authorization) => tc3::recompute(request, authorization, key, policy),
            ClaimDetail::Param(claimed) => Ok(hmac_param::compute(
                request,
                &claimed.params,
                self.scheme,
                key,
            )),
            ClaimDetail::Zc2(authorization) => zc2::verify(request, authorization, key),
            ClaimDetail::Bearer => zc2::verify_bearer(request, key),
        }
    }

    /// Explains why the request's signature is not the one `secret_key` gives ([`diagnose`]): the server's
    /// canonical request and string to sign, and the common client mistake that produced the signature, if one did.
    /// Call it on a rejected request only (it recomputes the signature several times).
    pub fn diagnose(
        &self,
        request: &Request,
        secret_key: &Secret,
        policy: &Policy,
    ) -> diagnose::Diagnosis {
        match &self.detail {
            ClaimDetail::Tc3(authorization) => {
                tc3::diagnose(request, authorization, secret_key.expose(), policy)
            }
            ClaimDetail::Bearer => {
                diagnose::unexplained(self.scheme, "the bearer token is not the account's")
            }
            ClaimDetail::Param(claimed) => {
                diagnose::by_variants(self, request, secret_key, policy, &claimed.signature)
            }
            ClaimDetail::Zc2(authorization) => {
                diagnose::by_variants(self, request, secret_key, policy, &authorization.signature)
            }
        }
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
    /// `SignedHeaders` names a header with upper-case letters: the canonical header names are lowercase.
    #[error(
        "SignedHeaders {0:?} names headers in upper case; the canonical header names, and SignedHeaders, are lowercase (content-type;host)"
    )]
    SignedHeaderNames(String),
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
            Self::SignedHeaders { .. }
            | Self::SignedHeaderAbsent(_)
            | Self::SignedHeaderNames(_) => "signed-headers",
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
    pub(super) fn new(step: Step, signed: &str, received: &str) -> Self {
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
    pub(super) fn bearer_token() -> Self {
        Self {
            step: Step::Authorization,
            message: "the bearer token is not the expected one".to_owned(),
        }
    }

    /// A mismatch known only by its final signature.
    pub(super) fn signature(claimed: &str, computed: &str, had_reference: bool) -> Self {
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
