//! Why a signature was rejected, in words: the diagnosis a real gateway never gives.
//!
//! A gateway answers a bad signature with one terse code. The mock knows the key, so it can do better: it
//! recomputes the request as it reads it (canonical request, string to sign) and as a client that made one of the
//! common mistakes would have signed it, and reports the mistake whose signature is the very one the request
//! carries. For TC3 the tries are, each alone:
//!
//! - the credential scope as the request states it (`scope-date-not-utc`: the local date instead of the UTC date
//!   of `X-TC-Timestamp`; `scope-service`: another service);
//! - the host without its port (`host-without-port`);
//! - signed header values not lowercased (`header-value-case`: `x-tc-action:TerminateInstances`);
//! - the JSON body in another serialisation than the one sent (`body-reserialised-compact`,
//!   `body-reserialised-spaced` as Python's `json.dumps`, `body-reserialised-pretty`).
//!
//! For ZC2 and the `Signature` parameter, the host without its port and the body re-serialised are tried the same
//! way.
//!
//! When one verifies, the diagnosis names it, its cause in a sentence, and the first step at which what the client
//! signed departs from what the server computes. When none does, the secret key or a change terminus does not try
//! is left, and the server's canonical request and string to sign are there to compare with the client's.
//!
//! A diagnosis holds no secret: no key, no derived key, and a session token in a canonical request is `[TOKEN]`.

use serde::Serialize;
use serde_json::Value;

pub use crate::message::Diagnosis;

use super::{Claim, Policy, Scheme, Secret, Step, Trace, tokens};
use crate::message::Request;

/// A diagnosis that could not recompute anything.
pub(super) fn unexplained(scheme: Scheme, why: &str) -> Diagnosis {
    Diagnosis {
        scheme: scheme.name(),
        mistake: None,
        cause: why.to_owned(),
        step: Step::Signature.name(),
        difference: why.to_owned(),
        canonical_request: None,
        string_to_sign: None,
    }
}

/// From the server's trace and, when one verified, the mistake and the trace its client signed.
pub(super) fn from_traces(
    scheme: Scheme,
    server: &Trace,
    found: Option<(&'static str, String, Trace)>,
) -> Diagnosis {
    let canonical_request = server.get(Step::CanonicalRequest).map(tokens::text);
    // The `Signature` form signs the parameters, a `Token=` among them.
    let string_to_sign = server.get(Step::StringToSign).map(tokens::text);
    match found {
        Some((mistake, cause, signed)) => {
            let difference = server.first_difference(&signed);
            Diagnosis {
                scheme: scheme.name(),
                mistake: Some(mistake),
                cause,
                step: difference
                    .as_ref()
                    .map_or(Step::Signature.name(), |d| d.step.name()),
                difference: difference.map(|d| tokens::text(&d.to_string())).unwrap_or_default(),
                canonical_request,
                string_to_sign,
            }
        }
        None => Diagnosis {
            scheme: scheme.name(),
            mistake: None,
            cause: "no common client mistake explains the signature: the secret key is not the one it was \
                    signed with, or a signed part of the request changed in a way terminus does not try; \
                    compare the client's canonical request and string to sign with the server's"
                .to_owned(),
            step: Step::Signature.name(),
            difference: "the signature the request carries is not the one its key and the request give"
                .to_owned(),
            canonical_request,
            string_to_sign,
        },
    }
}

/// The diagnosis of a scheme whose tries change only the request (ZC2, the `Signature` parameter): the host
/// without its port, the JSON body in each other serialisation; `claimed` is the signature the request carries.
pub(super) fn by_variants(
    claim: &Claim,
    request: &Request,
    secret_key: &Secret,
    policy: &Policy,
    claimed: &str,
) -> Diagnosis {
    let server = match claim.recompute(request, secret_key, policy) {
        Ok(trace) => trace,
        Err(rejection) => return unexplained(claim.scheme, &rejection.to_string()),
    };
    let mut tries: Vec<(&'static str, String, Request)> = Vec::new();
    if let Some((portless, cause)) = super::signed_without_port(request) {
        tries.push(("host-without-port", cause, portless));
    }
    if let Ok(value) = serde_json::from_slice::<Value>(&request.body) {
        for (id, form, text) in reserialisations(&value) {
            if text != request.body {
                let mut other = request.clone();
                other.body = text;
                tries.push((
                    id,
                    format!(
                        "the body was re-serialised after signing: the signature is over the {form} JSON text of the \
                         body, and the body sent is another text of the same JSON"
                    ),
                    other,
                ));
            }
        }
    }
    let found = tries.into_iter().find_map(|(id, cause, variant)| {
        let trace = claim.recompute(&variant, secret_key, policy).ok()?;
        let signature = trace.get(Step::Signature)?;
        super::hash::constant_time_eq(signature, claimed).then_some((id, cause, trace))
    });
    from_traces(claim.scheme, &server, found)
}

/// The same JSON value in the serialisations clients produce: compact (Go, Java, Node, `serde_json`), spaced
/// (Python's `json.dumps` default separators `", "` and `": "`), pretty (two-space indent).
pub(super) fn reserialisations(value: &Value) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut forms = Vec::with_capacity(3);
    if let Ok(compact) = serde_json::to_vec(value) {
        forms.push(("body-reserialised-compact", "compact", compact));
    }
    let mut spaced = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut spaced, PythonJson);
    if value.serialize(&mut serializer).is_ok() {
        forms.push((
            "body-reserialised-spaced",
            "spaced (Python json.dumps)",
            spaced,
        ));
    }
    if let Ok(pretty) = serde_json::to_vec_pretty(value) {
        forms.push(("body-reserialised-pretty", "pretty-printed", pretty));
    }
    forms
}

/// serde_json's compact output with Python's default `json.dumps` separators: `", "` between items, `": "` after
/// keys. Also the layout of the CVM backend's success bodies (`provider::tencent::wire::success`).
#[derive(Clone, Copy, Debug)]
pub struct PythonJson;

/// `, ` before every item of an array or object but the first (Python's `item_separator`).
fn python_item_separator<W: ?Sized + std::io::Write>(
    writer: &mut W,
    first: bool,
) -> std::io::Result<()> {
    if first {
        Ok(())
    } else {
        writer.write_all(b", ")
    }
}

impl serde_json::ser::Formatter for PythonJson {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        python_item_separator(writer, first)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        python_item_separator(writer, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spaced_form_is_pythons_json_dumps() {
        // json.dumps({"InstanceIds": ["ins-1", "ins-2"], "ReleaseAddress": True})
        let value =
            serde_json::json!({ "InstanceIds": ["ins-1", "ins-2"], "ReleaseAddress": true });
        let forms = reserialisations(&value);
        assert_eq!(
            String::from_utf8_lossy(&forms[1].2),
            r#"{"InstanceIds": ["ins-1", "ins-2"], "ReleaseAddress": true}"#
        );
        assert_eq!(
            String::from_utf8_lossy(&forms[0].2),
            r#"{"InstanceIds":["ins-1","ins-2"],"ReleaseAddress":true}"#
        );
    }

    #[test]
    fn a_signed_session_token_never_shows() {
        assert_eq!(
            tokens::text("host:a\nx-tc-token:secret\nx"),
            "host:a\nx-tc-token:[TOKEN]\nx"
        );
    }
}
