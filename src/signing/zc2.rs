//! `ZC2-HMAC-SHA256` ("Signature Algorithm v2") and `Bearer` tokens: Zenlayer Cloud API 2.0.
//!
//! Spec: <https://docs.console.zenlayer.com/api-reference/api-introduction/instruction/sign>. Like TC3 without
//! its credential scope or key chain: the canonical request always has URI `/` and an empty query (the request
//! itself goes to `/api/v2/<service>`), the string to sign is the algorithm, `X-ZC-Timestamp` and the hashed
//! canonical request, and the HMAC key is the raw AccessKeyPassword. A `Bearer` personal access token replaces
//! the whole signature; its requests carry no timestamp.

use super::hash::{constant_time_eq, hmac_sha256};
use super::{
    Canonical, Claim, ClaimDetail, Credentials, Difference, Rejection, Scheme, SignOptions, Signed,
    Step, Trace, Unusable,
};
use crate::message::Request;

/// The algorithm name, first word of the `Authorization` header.
pub const ALGORITHM: &str = "ZC2-HMAC-SHA256";
/// What every official SDK signs, and what the documentation requires at least.
pub const DEFAULT_SIGNED_HEADERS: &str = "content-type;host";
const REQUIRED_SIGNED_HEADERS: [&str; 2] = ["content-type", "host"];

/// A parsed `Authorization: ZC2-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// The AccessKeyId.
    pub access_key_id: String,
    /// The `;`-separated signed header names.
    pub signed_headers: String,
    /// The lowercase hex signature.
    pub signature: String,
}

impl Authorization {
    /// Reads the header value. Whitespace around the `,` separators is tolerated.
    pub fn parse(value: &str) -> Result<Self, Unusable> {
        let malformed = |why: String| Unusable::MalformedAuthorization(why);
        let rest = value
            .strip_prefix(ALGORITHM)
            .filter(|rest| rest.starts_with(' '))
            .ok_or_else(|| malformed(format!("it does not start with \"{ALGORITHM} \"")))?;
        let mut parts = [
            ("Credential=", None),
            ("SignedHeaders=", None),
            ("Signature=", None),
        ];
        for part in rest.split(',').map(str::trim) {
            let slot = parts
                .iter_mut()
                .find(|(prefix, _)| part.starts_with(prefix))
                .ok_or_else(|| {
                    malformed(format!(
                        "unexpected part {:?}",
                        part.chars().take(40).collect::<String>()
                    ))
                })?;
            if slot.1.replace(&part[slot.0.len()..]).is_some() {
                return Err(malformed("a part appears twice".to_owned()));
            }
        }
        let [credential, signed_headers, signature] = parts.map(|(prefix, value)| {
            value
                .filter(|value: &&str| !value.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| malformed(format!("no {prefix}")))
        });
        Ok(Self {
            access_key_id: credential?,
            signed_headers: signed_headers?,
            signature: signature?,
        })
    }
}

/// Computes every step. Fails only when a signed header is absent, naming it.
fn compute(
    request: &Request,
    access_key_id: &str,
    timestamp: &str,
    signed_headers: &str,
    password: &str,
) -> Result<Trace, String> {
    let mut trace = Trace::new(Scheme::Zc2);

    // Steps 1 and 2: the payload hash, of the body bytes as received; the canonical request, URI always `/`, query
    // always empty.
    let canonical = Canonical::of(request, "", signed_headers, &request.body)?;

    // Step 3: the string to sign.
    let string_to_sign = format!(
        "{ALGORITHM}\n{timestamp}\n{}",
        canonical.hashed_canonical_request
    );

    // Step 4: the signature, keyed by the raw password.
    let signature = hex::encode(hmac_sha256(password.as_bytes(), string_to_sign.as_bytes()));
    let authorization = format!(
        "{ALGORITHM} Credential={access_key_id}, SignedHeaders={signed_headers}, Signature={signature}"
    );

    canonical.record(&mut trace);
    trace.record(Step::StringToSign, string_to_sign);
    trace.record(Step::Signature, signature);
    trace.record(Step::Authorization, authorization);
    Ok(trace)
}

fn timestamp(request: &Request) -> Result<(&str, i64), Unusable> {
    super::timestamp_header(request, "X-ZC-Timestamp")
}

pub(super) fn sign(
    request: &Request,
    credentials: &Credentials,
    options: &SignOptions,
) -> Result<Signed, Unusable> {
    let (raw_timestamp, _) = timestamp(request)?;
    let signed_headers = options
        .signed_headers
        .as_deref()
        .unwrap_or(DEFAULT_SIGNED_HEADERS);
    let trace = compute(
        request,
        &credentials.secret_id,
        raw_timestamp,
        signed_headers,
        credentials.secret_key().expose(),
    )
    .map_err(Unusable::SignedHeaderAbsent)?;
    let request =
        super::with_authorization(request, trace.get(Step::Authorization).unwrap_or_default());
    Ok(Signed { request, trace })
}

pub(super) fn sign_bearer(request: &Request, credentials: &Credentials) -> Signed {
    let mut trace = Trace::new(Scheme::Bearer);
    trace.record(
        Step::Authorization,
        format!("Bearer {}", credentials.secret_key().expose()),
    );
    let request =
        super::with_authorization(request, trace.get(Step::Authorization).unwrap_or_default());
    Signed { request, trace }
}

pub(super) fn inspect(request: &Request, authorization: &str) -> Result<Claim, Unusable> {
    let authorization = Authorization::parse(authorization)?;
    let (_, seconds) = timestamp(request)?;
    Ok(Claim {
        scheme: Scheme::Zc2,
        secret_id: Some(authorization.access_key_id.clone()),
        timestamp: Some(seconds),
        detail: ClaimDetail::Zc2(authorization),
    })
}

pub(super) fn verify(
    request: &Request,
    authorization: &Authorization,
    password: &str,
) -> Result<Trace, Rejection> {
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
    let (raw_timestamp, _) = timestamp(request).expect("inspect() read the timestamp");
    compute(
        request,
        &authorization.access_key_id,
        raw_timestamp,
        &authorization.signed_headers,
        password,
    )
    .map_err(Rejection::SignedHeaderAbsent)
}

pub(super) fn verify_bearer(request: &Request, token: &str) -> Result<Trace, Rejection> {
    let presented = request.header("authorization").unwrap_or_default();
    let presented = presented.strip_prefix("Bearer").unwrap_or_default().trim();
    if !constant_time_eq(presented, token) {
        return Err(Rejection::Differs(Box::new(Difference::bearer_token())));
    }
    let mut trace = Trace::new(Scheme::Bearer);
    trace.record(Step::Authorization, format!("Bearer {token}"));
    Ok(trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_parts_must_all_be_present() {
        let error =
            Authorization::parse("ZC2-HMAC-SHA256 Credential=AK, Signature=ab").unwrap_err();
        assert_eq!(
            error,
            Unusable::MalformedAuthorization("no SignedHeaders=".to_owned())
        );
    }
}
