//! The trace of a signature: every intermediate step of a scheme ([`Step`]) and its value ([`Trace`]), as the
//! signer computed them and as verification recomputes them, so that a mismatch can name its step.

use std::fmt;

use super::{Difference, REDACTED, Scheme};

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
