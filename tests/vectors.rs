//! Signing vectors from outside sources, replayed through the `terminus` binary.
//!
//! Every directory `tests/vectors/<scheme>/<id>/` holds a signed `request.http` exactly as an official client
//! sent it (or as the official documentation prints it) and a `vector.toml` with the credentials and the
//! stages its source publishes. Three trials per vector, discovered from disk:
//!
//! - `[sign]`: the request with its signature removed, signed by `terminus sign`, reproduces every published
//!   stage and the very signature the source shows, and changes nothing else in the request;
//! - `[verify]`: `terminus verify` accepts the request at its own time and recomputes the published stages;
//! - `[tamper]`: a one-byte change to the payload, a signed header, the timestamp or the key is rejected, and
//!   with the published stages as reference the rejection names the first step that differs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use libtest_mimic::{Arguments, Failed, Trial};
use serde::Deserialize;
use terminus::message::Request;

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let vectors = discover(&root);
    assert!(
        vectors.len() >= 12,
        "expected the vectors under {}, found {}",
        root.display(),
        vectors.len()
    );
    let trials = vectors
        .into_iter()
        .flat_map(|dir| {
            let name = dir
                .strip_prefix(&root)
                .expect("under root")
                .display()
                .to_string();
            let trial = |kind: &'static str, run: fn(&Vector) -> Result<(), Failed>| {
                let dir = dir.clone();
                Trial::test(name.clone(), move || run(&Vector::load(&dir, kind)?)).with_kind(kind)
            };
            [
                trial("sign", sign_reproduces_every_published_stage),
                trial("verify", verify_accepts_it),
                trial("tamper", every_one_byte_change_is_rejected_naming_its_step),
                trial("accepts", the_servers_lean_verdict_is_verifys),
            ]
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

/// Every directory two levels below the root that holds a `vector.toml`.
fn discover(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for scheme in std::fs::read_dir(root)
        .expect("tests/vectors is readable")
        .flatten()
    {
        for vector in std::fs::read_dir(scheme.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if vector.path().join("vector.toml").is_file() {
                found.push(vector.path());
            }
        }
    }
    found.sort();
    found
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[allow(dead_code)] // description, source and note are for readers
struct Spec {
    description: String,
    source: String,
    scheme: String,
    secret_id: Option<String>,
    secret_key: String,
    now: Option<i64>,
    signed_headers: Option<String>,
    service: Option<String>,
    note: Option<String>,
    expected: BTreeMap<String, String>,
}

struct Vector {
    dir: PathBuf,
    /// The trial it was loaded for (`sign`, `verify`, `tamper`): trials run in parallel, so each writes its
    /// scratch files in a directory of its own.
    trial: &'static str,
    /// The signed request, as sent.
    raw: Vec<u8>,
    request: Request,
    spec: Spec,
}

const STEPS: [&str; 11] = [
    "hashed-payload",
    "canonical-request",
    "hashed-canonical-request",
    "credential-scope",
    "string-to-sign",
    "k-date",
    "k-service",
    "k-signing",
    "signature",
    "signature-parameter",
    "authorization",
];

impl Vector {
    /// Reads a vector, naming the file and field of anything wrong with it.
    fn load(dir: &Path, trial: &'static str) -> Result<Self, Failed> {
        let spec_path = dir.join("vector.toml");
        let text = std::fs::read_to_string(&spec_path)
            .map_err(|e| format!("cannot read {}: {e}", spec_path.display()))?;
        let spec: Spec =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", spec_path.display()))?;
        if let Some(unknown) = spec
            .expected
            .keys()
            .find(|key| !STEPS.contains(&key.as_str()))
        {
            return Err(format!(
                "{}: [expected] has unknown stage {unknown:?}",
                spec_path.display()
            )
            .into());
        }
        let request_path = dir.join("request.http");
        let raw = std::fs::read(&request_path)
            .map_err(|e| format!("cannot read {}: {e}", request_path.display()))?;
        let request =
            Request::parse(&raw).map_err(|e| format!("{}: {e}", request_path.display()))?;
        if request.to_bytes() != raw {
            return Err(format!(
                "{}: not a CRLF request that serialises back to itself",
                request_path.display()
            )
            .into());
        }
        Ok(Self {
            dir: dir.to_owned(),
            trial,
            raw,
            request,
            spec,
        })
    }

    fn is_param_scheme(&self) -> bool {
        self.spec.scheme.starts_with("Hmac")
    }

    fn published(&self, stage: &str) -> bool {
        self.spec.expected.contains_key(stage)
    }

    /// A scratch file of this vector's trial, in a directory no other trial writes to.
    fn scratch(&self, name: &str) -> PathBuf {
        let relative = self.dir.components().rev().take(2).collect::<Vec<_>>();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("vectors")
            .join(relative[1].as_os_str())
            .join(relative[0].as_os_str())
            .join(self.trial);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        dir.join(name)
    }
}

/// `[sign]`: strip the signature, sign it again, compare every published stage and the signed request.
fn sign_reproduces_every_published_stage(vector: &Vector) -> Result<(), Failed> {
    let unsigned = strip_signature(&vector.request);
    let input = vector.scratch("unsigned.http");
    std::fs::write(&input, unsigned.to_bytes()).expect("write scratch file");

    // `--trace`: the vectors publish derived keys, which JSON output holds only when asked for.
    let mut args = vec![
        "sign".to_owned(),
        "--format".into(),
        "json".into(),
        "--trace".into(),
    ];
    args.extend([
        "--secret-id".into(),
        vector
            .spec
            .secret_id
            .clone()
            .unwrap_or_else(|| "unused".into()),
    ]);
    args.extend(["--secret-key".into(), vector.spec.secret_key.clone()]);
    if vector.spec.scheme == "Bearer" {
        // An unsigned Bearer request is indistinguishable from an unsigned ZC2 one; everything else is inferred.
        args.extend(["--scheme".into(), "bearer".into()]);
    }
    for (flag, value) in [
        ("--signed-headers", &vector.spec.signed_headers),
        ("--service", &vector.spec.service),
    ] {
        if let Some(value) = value {
            args.extend([flag.into(), value.clone()]);
        }
    }
    args.push(input.display().to_string());
    let output = terminus(&args);
    if !output.status.success() {
        return Err(format!(
            "terminus sign failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    if json["scheme"] != vector.spec.scheme.as_str() {
        return Err(format!(
            "signed as {}, the source used {}",
            json["scheme"], vector.spec.scheme
        )
        .into());
    }
    for (stage, expected) in &vector.spec.expected {
        let actual = json["trace"][stage].as_str().unwrap_or("<absent>");
        if actual != expected {
            return Err(format!("stage {stage} differs from the source\n  source: {expected:?}\n  signed: {actual:?}").into());
        }
    }
    let signed = Request::parse(json["request"].as_str().unwrap_or_default().as_bytes())?;
    if strip_signature(&signed) != unsigned {
        return Err(format!("signing changed more than the signature:\n{signed:#?}").into());
    }
    if signature_of(&signed) != signature_of(&vector.request) {
        return Err(format!(
            "the signed request carries {:?}, the source {:?}",
            signature_of(&signed),
            signature_of(&vector.request)
        )
        .into());
    }
    Ok(())
}

/// `[verify]`: accepted at its own time, and the recomputed trace agrees with every published stage.
fn verify_accepts_it(vector: &Vector) -> Result<(), Failed> {
    let (output, json) = verify(vector, &vector.raw, &vector.spec.secret_key, None);
    if output.status.code() != Some(0) || json["ok"] != true {
        return Err(format!(
            "verify did not accept it: {}{}",
            json,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    if json["scheme"] != vector.spec.scheme.as_str() {
        return Err(format!(
            "verified as {}, the source used {}",
            json["scheme"], vector.spec.scheme
        )
        .into());
    }
    for (stage, expected) in &vector.spec.expected {
        if json["trace"][stage].as_str() != Some(expected) {
            return Err(format!(
                "recomputed {stage} {} is not the source's {expected:?}",
                json["trace"][stage]
            )
            .into());
        }
    }
    Ok(())
}

/// `[tamper]`: each applicable one-byte change is rejected (exit 1), naming the first step that differs.
fn every_one_byte_change_is_rejected_naming_its_step(vector: &Vector) -> Result<(), Failed> {
    let reference = vector.scratch("expected.json");
    std::fs::write(&reference, serde_json::to_vec(&vector.spec.expected)?)
        .expect("write scratch file");
    for tamper in tamperings(vector) {
        let key = match tamper.kind {
            Kind::Key => flip_last(&vector.spec.secret_key),
            _ => vector.spec.secret_key.clone(),
        };
        let bytes = tamper
            .request
            .as_ref()
            .map_or_else(|| vector.raw.clone(), Request::to_bytes);
        if tamper.kind != Kind::Key && bytes == vector.raw {
            return Err(format!("tampering the {:?} changed nothing", tamper.kind).into());
        }
        let (output, json) = verify(vector, &bytes, &key, Some(&reference));
        let Some(step) = tamper.step else {
            if output.status.code() != Some(0) {
                return Err(format!("a change outside the signature was rejected: {json}").into());
            }
            continue;
        };
        if output.status.code() != Some(1) || json["ok"] != false {
            return Err(format!(
                "a changed {:?} was not rejected: {json} {}",
                tamper.kind,
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        if json["step"] != step {
            return Err(format!(
                "a changed {:?} should be rejected at {step}, was rejected at {}: {}",
                tamper.kind, json["step"], json["reason"]
            )
            .into());
        }
        // Without the published stages the change is still caught, by the signature alone.
        let (output, _) = verify(vector, &bytes, &key, None);
        if output.status.code() != Some(1) {
            return Err(format!(
                "without a reference, a changed {:?} was accepted",
                tamper.kind
            )
            .into());
        }
    }
    Ok(())
}

/// `[accepts]`: the verdict the mock's providers ask for (`Claim::accepts`, which keeps no trace) accepts the
/// request, and rejects each tampering exactly as `Claim::verify` does.
fn the_servers_lean_verdict_is_verifys(vector: &Vector) -> Result<(), Failed> {
    use terminus::signing::{Policy, Secret, inspect};
    let policy = Policy {
        service: vector.spec.service.clone().map(Into::into),
        ..Policy::default()
    };
    let verdicts = |request: &Request, key: &str| {
        let claim = inspect(request).map_err(|error| format!("unreadable: {error}"))?;
        let key = Secret::new(key);
        let lean = claim.accepts(request, &key, None, &policy);
        let full = claim.verify(request, &key, None, &policy, None).map(drop);
        Ok::<_, String>((lean, full))
    };
    let (lean, _) = verdicts(&vector.request, &vector.spec.secret_key)?;
    if let Err(rejection) = lean {
        return Err(format!("accepts() rejected the vector: {rejection:?}").into());
    }
    for tamper in tamperings(vector) {
        let key = match tamper.kind {
            Kind::Key => flip_last(&vector.spec.secret_key),
            _ => vector.spec.secret_key.clone(),
        };
        let request = tamper.request.as_ref().unwrap_or(&vector.request);
        let (lean, full) = verdicts(request, &key)?;
        if format!("{lean:?}") != format!("{full:?}") {
            return Err(format!(
                "a changed {:?}: accepts() says {lean:?}, verify() says {full:?}",
                tamper.kind
            )
            .into());
        }
        if tamper.step.is_some() && lean.is_ok() {
            return Err(format!("a changed {:?} was accepted by accepts()", tamper.kind).into());
        }
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Payload,
    SignedHeader,
    Timestamp,
    Key,
}

struct Tampering {
    kind: Kind,
    /// The changed request, or `None` when the request stays and the key changes.
    request: Option<Request>,
    /// The step the rejection must name, given the stages this vector publishes; `None` when the change must be
    /// accepted because the scheme leaves that part unsigned.
    step: Option<&'static str>,
}

/// The one-byte changes that apply to this vector, with the step each must be caught at.
///
/// The expected step follows from which stages the source publishes: a changed body shows first in the payload
/// hash, which a published canonical request contains; a changed timestamp first in the string to sign; and so
/// on. A change no published stage can reveal is caught by the signature.
fn tamperings(vector: &Vector) -> Vec<Tampering> {
    let reveals =
        |stages: &[&'static str]| stages.iter().copied().find(|stage| vector.published(stage));
    let or_signature = |step: Option<&'static str>| step.unwrap_or("signature");
    let mut found = Vec::new();
    if vector.spec.scheme == "Bearer" {
        return vec![Tampering {
            kind: Kind::Key,
            request: None,
            step: Some("authorization"),
        }];
    }
    let body_is_params = vector.is_param_scheme() && vector.request.method == "POST";
    let payload = if !vector.request.body.is_empty() && !body_is_params {
        let mut request = vector.request.clone();
        let middle = request.body.len() / 2;
        request.body[middle] ^= 1;
        let step = if vector.request.header("x-tc-content-sha256") == Some("UNSIGNED-PAYLOAD") {
            // The client opted out of signing the body: the hash covers the literal UNSIGNED-PAYLOAD instead.
            None
        } else if vector.published("hashed-payload") || vector.published("canonical-request") {
            Some("hashed-payload")
        } else {
            Some(or_signature(
                reveals(&["string-to-sign"]).map(|_| "hashed-canonical-request"),
            ))
        };
        Some((request, step))
    } else {
        let mut request = vector.request.clone();
        let text = if body_is_params {
            String::from_utf8(request.body.clone()).unwrap()
        } else {
            request.query().to_owned()
        };
        text.find('=').map(|at| {
            let mut bytes = text.into_bytes();
            bytes[at + 1] ^= 1;
            if body_is_params {
                request.body = bytes;
            } else {
                request.set_query(&String::from_utf8(bytes).unwrap());
            }
            (request, Some(or_signature(signed_text_step(vector))))
        })
    };
    if let Some((request, step)) = payload {
        found.push(Tampering {
            kind: Kind::Payload,
            request: Some(request),
            step,
        });
    }

    let mut request = vector.request.clone();
    let host = request
        .header("host")
        .expect("every vector has a Host header")
        .to_owned();
    request.set_header("Host", flip_last(&host));
    found.push(Tampering {
        kind: Kind::SignedHeader,
        request: Some(request),
        step: Some(or_signature(signed_text_step(vector))),
    });

    let mut request = vector.request.clone();
    if vector.is_param_scheme() {
        let text = if body_is_params {
            String::from_utf8(request.body.clone()).unwrap()
        } else {
            request.query().to_owned()
        };
        let changed = bump_param(&text, "Timestamp");
        if body_is_params {
            request.body = changed.into_bytes();
        } else {
            request.set_query(&changed);
        }
    } else {
        let name = if vector.spec.scheme == "TC3-HMAC-SHA256" {
            "X-TC-Timestamp"
        } else {
            "X-ZC-Timestamp"
        };
        let value: i64 = request
            .header(name)
            .expect("timestamp header")
            .trim()
            .parse()
            .unwrap();
        request.set_header(name, (value + 1).to_string());
    }
    found.push(Tampering {
        kind: Kind::Timestamp,
        request: Some(request),
        step: Some(or_signature(reveals(&["string-to-sign"]))),
    });

    let key_step = reveals(&["k-date", "k-service", "k-signing"]);
    found.push(Tampering {
        kind: Kind::Key,
        request: None,
        step: Some(or_signature(key_step)),
    });
    found
}

/// The step at which a change to the signed text (parameters, a signed header) shows first.
fn signed_text_step(vector: &Vector) -> Option<&'static str> {
    if vector.is_param_scheme() {
        return vector
            .published("string-to-sign")
            .then_some("string-to-sign");
    }
    if vector.published("canonical-request") {
        Some("canonical-request")
    } else if vector.published("hashed-canonical-request") || vector.published("string-to-sign") {
        Some("hashed-canonical-request")
    } else {
        None
    }
}

/// Runs `terminus verify --format json` on these bytes.
fn verify(
    vector: &Vector,
    bytes: &[u8],
    key: &str,
    reference: Option<&Path>,
) -> (Output, serde_json::Value) {
    let file = vector.scratch(if reference.is_some() {
        "tampered.http"
    } else {
        "request.http"
    });
    std::fs::write(&file, bytes).expect("write scratch file");
    let mut args = vec![
        "verify".to_owned(),
        "--format".into(),
        "json".into(),
        "--trace".into(),
        "--secret-key".into(),
        key.into(),
    ];
    if let Some(now) = vector.spec.now {
        args.extend(["--now".into(), now.to_string()]);
    }
    if let Some(reference) = reference {
        args.extend(["--expect".into(), reference.display().to_string()]);
    }
    args.push(file.display().to_string());
    let output = terminus(&args);
    let json = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (output, json)
}

fn terminus(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_terminus"))
        .args(args)
        .env_remove("TERMINUS_SECRET_KEY")
        .output()
        .expect("the terminus binary runs")
}

/// The request without its `Authorization` header or `Signature` parameter.
fn strip_signature(request: &Request) -> Request {
    let mut request = request.clone();
    request.remove_header("authorization");
    let drop_signature = |text: &str| -> String {
        text.split('&')
            .filter(|pair| !pair.starts_with("Signature="))
            .collect::<Vec<_>>()
            .join("&")
    };
    let query = drop_signature(request.query());
    request.set_query(&query);
    if request
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"))
    {
        let body = drop_signature(&String::from_utf8_lossy(&request.body));
        request.set_body(body.into_bytes());
    }
    request
}

/// The `Authorization` header, or the raw `Signature=` pair of the query or form body.
fn signature_of(request: &Request) -> Option<String> {
    if let Some(authorization) = request.header("authorization") {
        return Some(authorization.to_owned());
    }
    let body = String::from_utf8_lossy(&request.body).into_owned();
    [request.query(), body.as_str()]
        .iter()
        .flat_map(|text| text.split('&'))
        .find(|pair| pair.starts_with("Signature="))
        .map(str::to_owned)
}

/// The string with the low bit of its last byte flipped: one byte changed, still ASCII.
fn flip_last(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    String::from_utf8(bytes).expect("ASCII stays ASCII")
}

/// The parameter string with `name`'s numeric value plus one.
fn bump_param(text: &str, name: &str) -> String {
    text.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if key == name => {
                format!("{key}={}", value.parse::<i64>().expect("numeric") + 1)
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}
