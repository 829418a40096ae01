//! The `Signature` parameter scheme: `HmacSHA1` (the default) and `HmacSHA256`.
//!
//! Spec: the legacy API 2.0 "签名方法" page (`tencentyun/qcloud-documents`,
//! `api/API文档公用部分/调用方式/签名方法.md`) and the API 3.0 "Signature" (v1) page, e.g.
//! <https://www.tencentcloud.com/document/api/1271/71920>. The same algorithm serves the API 3.0 hosts (path `/`)
//! and the legacy gateway (`/v2/index.php`):
//!
//! 1. take every parameter but `Signature` (GET: the query; POST: the form body), URL-decoded;
//! 2. replace `_` by `.` in the names (`Placement_Zone` is signed as `Placement.Zone`);
//! 3. sort by name, byte-wise; join `name=value` with `&`, values raw (not URL-encoded);
//! 4. string to sign = METHOD + host + path + `?` + that string;
//! 5. signature = base64(HMAC(key, string to sign)), SHA-256 when `SignatureMethod=HmacSHA256`, else SHA-1;
//! 6. send it URL-encoded as the last parameter.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::hash::{hmac_sha1, hmac_sha256};
use super::{Claim, ClaimDetail, Credentials, Scheme, Signed, Step, Trace, Unusable};
use crate::message::Request;

/// The parameter that carries the signature.
const SIGNATURE: &str = "Signature";

/// The decoded parameters of a request, from its query (GET) or its form body (POST).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Reads the parameters where the scheme carries them: a POST's form body, otherwise the query.
    pub fn read(request: &Request) -> Result<Self, Unusable> {
        Ok(Self {
            pairs: form_urlencoded::parse(raw_params(request)?.as_bytes())
                .into_owned()
                .collect(),
        })
    }

    /// The first value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The parameters in wire order, decoded.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }
}

/// What a request signed this way claims.
#[derive(Clone, Debug)]
pub(super) struct Claimed {
    pub(super) params: Params,
    pub(super) signature: String,
}

/// The scheme the parameters ask for: `HmacSHA256` only when `SignatureMethod` says exactly that.
pub(super) fn scheme_of(params: &Params) -> Scheme {
    match params.get("SignatureMethod") {
        Some("HmacSHA256") => Scheme::HmacSha256,
        _ => Scheme::HmacSha1,
    }
}

fn is_form(request: &Request) -> bool {
    let content_type = request.header("content-type").unwrap_or_default();
    content_type
        .trim_start()
        .starts_with("application/x-www-form-urlencoded")
}

/// The raw (still URL-encoded) parameter string: a POST's body, otherwise the query.
///
/// A POST's body is read as a form whatever its `Content-Type` says, as the API 3.0 gateway does: the
/// Serverless Framework's `@tencent-sdk/capi` labels its `Signature`-parameter form bodies
/// `Content-Type: application/json` (`packages/capi/src/index.ts`: `headers: {'Content-Type': 'application/json'}`
/// then `reqOption.form = payload`; got 11 keeps a content type that is set), and its live test
/// (`packages/capi/__tests__/index.test.ts`, `[v1] should get api result success`) expects the real
/// `scf.tencentcloudapi.com` to answer `ListFunctions` with a success. A body that is no form (JSON) simply has no
/// `Signature` parameter.
fn raw_params(request: &Request) -> Result<&str, Unusable> {
    if !request.method.eq_ignore_ascii_case("POST") {
        return Ok(request.query());
    }
    std::str::from_utf8(&request.body)
        .map_err(|_| Unusable::Parameters("the form body is not UTF-8".to_owned()))
}

/// Computes the string to sign and the signature of `params` for `scheme`.
pub(super) fn compute(
    request: &Request,
    params: &Params,
    scheme: Scheme,
    secret_key: &str,
) -> Trace {
    let mut trace = Trace::new(scheme);

    // Steps 1-3: every parameter but Signature, `_` → `.` in names, sorted byte-wise, joined raw.
    let mut sorted: Vec<(String, &str)> = params
        .pairs()
        .filter(|(key, _)| *key != SIGNATURE)
        .map(|(key, value)| (key.replace('_', "."), value))
        .collect();
    sorted.sort_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes()));

    // Step 4: METHOD + host + path + "?" + the sorted parameters.
    let mut string_to_sign = format!(
        "{}{}{}?",
        request.method.to_ascii_uppercase(),
        request.host().unwrap_or_default(),
        request.path()
    );
    for (index, (key, value)) in sorted.iter().enumerate() {
        if index > 0 {
            string_to_sign.push('&');
        }
        string_to_sign.push_str(key);
        string_to_sign.push('=');
        string_to_sign.push_str(value);
    }

    // Step 5: base64 of the HMAC.
    let key = secret_key.as_bytes();
    let signature = match scheme {
        Scheme::HmacSha256 => BASE64.encode(hmac_sha256(key, string_to_sign.as_bytes())),
        _ => BASE64.encode(hmac_sha1(key, string_to_sign.as_bytes())),
    };

    // Step 6: URL-encoded for the wire.
    let parameter: String = form_urlencoded::byte_serialize(signature.as_bytes()).collect();

    trace.record(Step::StringToSign, string_to_sign);
    trace.record(Step::Signature, signature);
    trace.record(Step::SignatureParameter, parameter);
    trace
}

pub(super) fn sign(
    request: &Request,
    credentials: &Credentials,
    scheme: Scheme,
) -> Result<Signed, Unusable> {
    let params = Params::read(request)?;
    for required in ["SecretId", "Timestamp", "Nonce"] {
        if params.get(required).is_none() {
            return Err(Unusable::MissingParameter(required));
        }
    }
    if params.get("SecretId") != Some(credentials.secret_id.as_str()) {
        return Err(Unusable::Conflict(format!(
            "the SecretId parameter is not the secret id given ({})",
            credentials.secret_id
        )));
    }
    if scheme_of(&params) != scheme {
        return Err(Unusable::Conflict(format!(
            "{scheme} asked, but the request's SignatureMethod parameter means {}",
            scheme_of(&params)
        )));
    }
    let params = Params {
        pairs: params
            .pairs
            .into_iter()
            .filter(|(key, _)| key != SIGNATURE)
            .collect(),
    };
    let trace = compute(request, &params, scheme, credentials.secret_key().expose());

    // Keep the other parameters' bytes as they are; drop an old signature; append the new one.
    let raw = raw_params(request)?;
    let mut kept: Vec<&str> = raw
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            form_urlencoded::parse(pair.as_bytes())
                .next()
                .is_none_or(|(key, _)| key != SIGNATURE)
        })
        .collect();
    let appended = format!(
        "{SIGNATURE}={}",
        trace.get(Step::SignatureParameter).unwrap_or_default()
    );
    kept.push(&appended);
    let joined = kept.join("&");
    let mut signed = request.clone();
    if request.method.eq_ignore_ascii_case("POST") {
        signed.set_body(joined.into_bytes());
    } else {
        signed.set_query(&joined);
    }
    Ok(Signed {
        request: signed,
        trace,
    })
}

pub(super) fn inspect(request: &Request) -> Result<Claim, Unusable> {
    let params = match Params::read(request) {
        Ok(params) => params,
        // A POST that is not a form cannot carry the parameter: it is simply unsigned.
        Err(Unusable::Parameters(_)) if !is_form(request) => return Err(Unusable::NoSignature),
        Err(error) => return Err(error),
    };
    let signature = params
        .get(SIGNATURE)
        .ok_or(Unusable::NoSignature)?
        .to_owned();
    let secret_id = params
        .get("SecretId")
        .ok_or(Unusable::MissingParameter("SecretId"))?
        .to_owned();
    let raw = params
        .get("Timestamp")
        .ok_or(Unusable::MissingParameter("Timestamp"))?;
    let timestamp = raw.trim().parse::<i64>().map_err(|_| Unusable::Timestamp {
        name: "Timestamp",
        value: raw.to_owned(),
    })?;
    Ok(Claim {
        scheme: scheme_of(&params),
        secret_id: Some(secret_id),
        timestamp: Some(timestamp),
        detail: ClaimDetail::Param(Claimed { params, signature }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_in_a_form_value_is_a_space_and_percent_2b_a_plus() {
        let request = Request::parse(b"GET /?a=x+y&b=x%2By HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        let params = Params::read(&request).unwrap();
        assert_eq!(
            (params.get("a"), params.get("b")),
            (Some("x y"), Some("x+y"))
        );
    }

    #[test]
    fn a_json_body_is_unsigned_and_a_form_labelled_json_carries_its_parameters() {
        let json = Request::parse(
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n\r\n{\"InstanceIds\": []}",
        )
        .unwrap();
        assert!(matches!(inspect(&json), Err(Unusable::NoSignature)));
        // @tencent-sdk/capi's request: a form body under the JSON label.
        let form = Request::parse(
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n\r\n\
              Action=A&SecretId=AKID&Timestamp=1&Signature=s",
        )
        .unwrap();
        let claim = inspect(&form).unwrap();
        assert_eq!(claim.secret_id.as_deref(), Some("AKID"));
    }

    #[test]
    fn only_the_exact_method_name_selects_sha256() {
        let params = |query: &str| {
            Params::read(
                &Request::parse(format!("GET /?{query} HTTP/1.1\r\n\r\n").as_bytes()).unwrap(),
            )
            .unwrap()
        };
        assert_eq!(
            scheme_of(&params("SignatureMethod=HmacSHA256")),
            Scheme::HmacSha256
        );
        assert_eq!(
            scheme_of(&params("SignatureMethod=hmacsha256")),
            Scheme::HmacSha1
        );
        assert_eq!(scheme_of(&params("")), Scheme::HmacSha1);
    }
}
