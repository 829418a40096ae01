//! The malformed-request corpus (`tests/malformed/corpus.toml`) against the mock's Tencent endpoint.
//!
//! Every entry is sent over its own raw TCP connection (most are not valid HTTP, so no HTTP client library), with a
//! deadline. For each: an answer, or the documented close, arrives in time; the status is never 500; an expected
//! error code comes in the documented envelope `{"Response":{"Error":{"Code","Message"},"RequestId"}}` with HTTP 200
//! and `Content-Type: application/json`. After the whole corpus the world is exactly as it started, and a valid
//! signed TerminateInstances still succeeds. The expectations are the corpus's, taken from the documentation and
//! the mock's written precedence; entries marked `known-bug` are run and must not hang, answer 500 or change the
//! world, and must still disagree with their expectation (when one starts agreeing, the mark has to go).

use std::collections::{HashSet, VecDeque};
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;
use terminus::message::Request;
use terminus::mock::{Limits, MockServer};
use terminus::signing::{self, Credentials, Scheme, SignOptions};
use terminus::world::lifecycle::Operation;
use terminus::world::{InstanceState, WorldSpec};

use crate::common::raw::{self, Answer, Response};
use crate::common::signed_terminate;

/// How long an entry may take by default before it counts as a hang.
const DEFAULT_WAIT: Duration = Duration::from_secs(5);
/// The server's body timeout here: shorter than the default 10 s, so that the one case that waits it out
/// (`body-short-client-silent`) costs 2 s, and still long enough for the largest body to arrive under load.
const BODY_TIMEOUT: Duration = Duration::from_secs(2);
/// Entries run at once.
const PARALLEL: usize = 8;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Corpus {
    world: WorldSpec,
    case: Vec<Case>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Case {
    name: String,
    why: String,
    request: Option<String>,
    request_base64: Option<String>,
    sign: Option<String>,
    #[serde(default = "main_key")]
    key: String,
    signed_headers: Option<String>,
    #[serde(default)]
    edits: Vec<Edit>,
    #[serde(default)]
    close_after_send: bool,
    #[serde(default)]
    no_body: bool,
    wait: Option<u64>,
    expect: String,
    known_bug: Option<String>,
}

fn main_key() -> String {
    "main".to_owned()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Edit {
    find: String,
    replace: String,
}

/// What an entry expects.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Expected {
    /// The envelope with this error code, HTTP 200, `Content-Type: application/json`.
    Code(String),
    /// A bare status from the HTTP layer (`http-400`: the bytes are not an HTTP/1.1 request; `http-414`: a request
    /// line longer than hyper reads).
    Bare(u16),
    /// The connection closes without an answer.
    Closed,
}

impl Expected {
    fn parse(text: &str) -> Self {
        match text {
            bare if bare.starts_with("http-") && bare[5..].parse::<u16>().is_ok() => {
                Self::Bare(bare[5..].parse().expect("checked"))
            }
            "closed" => Self::Closed,
            code => Self::Code(code.to_owned()),
        }
    }
}

fn load_corpus() -> Corpus {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/malformed/corpus.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{} is not a corpus: {e}", path.display()))
}

/// The credentials a case's `key` names.
fn credentials(world: &WorldSpec, key: &str) -> Credentials {
    let account = |index: usize| {
        let account = &world.accounts[index];
        Credentials::new(account.secret_id.clone(), account.secret_key.clone())
    };
    match key {
        "main" => account(0),
        "other" => account(1),
        "wrong-secret" => Credentials::new(
            world.accounts[0].secret_id.clone(),
            "NotTheKeyNotTheKeyNotTheKey12345",
        ),
        "unknown" => Credentials::new(
            "AKIDnobodyHASthisKEYz8krbsJ5yEXAMPLE",
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        ),
        "not-akid" => Credentials::new(
            "XYZz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        ),
        other => panic!("unknown key {other:?}"),
    }
}

/// Expands `{pad:N}`, `{ids:N}`, `{flat-ids:N}`, `{byte:XX}` and `{repeat:N:TEXT}`; other braces (JSON) are kept
/// as they are.
fn expand(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.iter().position(|&b| b == b'{') {
        out.extend_from_slice(&rest[..start]);
        rest = &rest[start..];
        let end = rest.iter().position(|&b| b == b'}');
        let token = end.and_then(|end| std::str::from_utf8(&rest[1..end]).ok());
        let expanded = token.and_then(|token| {
            let (name, argument) = token.split_once(':')?;
            let number = || argument.parse::<usize>().ok();
            Some(match name {
                "pad" => vec![b'a'; number()?],
                "ids" => (0..number()?)
                    .map(|i| format!("\"ins-{i:08}\""))
                    .collect::<Vec<_>>()
                    .join(",")
                    .into_bytes(),
                "flat-ids" => (0..number()?)
                    .map(|i| format!("InstanceIds.{i}=ins-{i:08}"))
                    .collect::<Vec<_>>()
                    .join("&")
                    .into_bytes(),
                "byte" => vec![u8::from_str_radix(argument, 16).ok()?],
                "repeat" => {
                    let (times, text) = argument.split_once(':')?;
                    text.repeat(times.parse().ok()?).into_bytes()
                }
                _ => return None,
            })
        });
        match (expanded, end) {
            (Some(bytes), Some(end)) => {
                out.extend_from_slice(&bytes);
                rest = &rest[end + 1..];
            }
            _ => {
                out.push(b'{');
                rest = &rest[1..];
            }
        }
    }
    out.extend_from_slice(rest);
    out
}

/// Replaces `{len}` by the length of what follows the first blank line.
fn fill_length(bytes: Vec<u8>) -> Vec<u8> {
    let Some(at) = find(&bytes, b"{len}") else {
        return bytes;
    };
    let body_len = find(&bytes, b"\r\n\r\n")
        .map(|head| bytes.len() - head - 4)
        .expect("a request with {len} has a blank line");
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(body_len.to_string().as_bytes());
    out.extend_from_slice(&bytes[at + 5..]);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The exact bytes a case sends: placeholders filled, signed if asked, then edited.
fn bytes_of(case: &Case, world: &WorldSpec) -> Vec<u8> {
    let raw = match (&case.request, &case.request_base64) {
        (Some(text), None) => expand(text.as_bytes()),
        (None, Some(encoded)) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap_or_else(|e| panic!("{}: request-base64: {e}", case.name)),
        _ => panic!("{}: exactly one of request, request-base64", case.name),
    };
    let mut bytes = fill_length(raw);
    if let Some(scheme) = &case.sign {
        let scheme =
            Scheme::from_name(scheme).unwrap_or_else(|| panic!("{}: scheme {scheme}", case.name));
        let unsigned = Request::parse(&bytes)
            .unwrap_or_else(|e| panic!("{}: cannot be parsed for signing: {e}", case.name));
        let options = SignOptions {
            signed_headers: case.signed_headers.clone(),
            service: None,
        };
        bytes = signing::sign(&unsigned, &credentials(world, &case.key), scheme, &options)
            .unwrap_or_else(|e| panic!("{}: cannot be signed: {e}", case.name))
            .request
            .to_bytes();
    }
    for edit in &case.edits {
        let from = expand(edit.find.as_bytes());
        let to = expand(edit.replace.as_bytes());
        let at = find(&bytes, &from)
            .unwrap_or_else(|| panic!("{}: edit {:?} finds nothing", case.name, edit.find));
        bytes.splice(at..at + from.len(), to);
    }
    bytes
}

/// Sends `bytes` on a fresh connection and waits for the outcome. The bytes are written by another thread, so a
/// server that answers before reading everything (an oversized body) is heard.
fn exchange(address: SocketAddr, bytes: Vec<u8>, case: &Case) -> (Answer, Duration) {
    let wait = case.wait.map_or(DEFAULT_WAIT, Duration::from_secs);
    let started = Instant::now();
    let mut stream = TcpStream::connect(address).expect("the mock accepts connections");
    let mut writer = stream.try_clone().expect("a socket can be cloned");
    let half_close = case.close_after_send;
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(&bytes);
        let _ = writer.flush();
        if half_close {
            let _ = writer.shutdown(Shutdown::Write);
        }
    });
    let mut buffer = Vec::new();
    let answer = raw::read_answer(&mut stream, &mut buffer, started + wait, case.no_body);
    let elapsed = started.elapsed();
    // Unblocks a writer still pushing a body the server stopped reading.
    let _ = stream.shutdown(Shutdown::Both);
    let _ = sender.join();
    (answer, elapsed)
}

/// The error code of a documented error envelope, or why the body is not one.
fn envelope_code(response: &Response) -> Result<String, String> {
    let content_types = response.header_values("content-type");
    if content_types != ["application/json"] {
        return Err(format!(
            "Content-Type {content_types:?}, not application/json"
        ));
    }
    let body: Value = serde_json::from_slice(&response.body).map_err(|e| {
        format!(
            "body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&response.body)
        )
    })?;
    let shape = || format!("body is not the error envelope: {body}");
    let outer = body
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(shape)?;
    let inner = outer
        .get("Response")
        .and_then(Value::as_object)
        .ok_or_else(shape)?;
    let keys: HashSet<&str> = inner.keys().map(String::as_str).collect();
    if keys != HashSet::from(["Error", "RequestId"]) {
        return Err(shape());
    }
    if inner["RequestId"].as_str().is_none_or(str::is_empty) {
        return Err(shape());
    }
    let error = inner["Error"].as_object().ok_or_else(shape)?;
    let keys: HashSet<&str> = error.keys().map(String::as_str).collect();
    if keys != HashSet::from(["Code", "Message"]) || !error["Message"].is_string() {
        return Err(shape());
    }
    error["Code"].as_str().map(str::to_owned).ok_or_else(shape)
}

/// A short description of an answer for reports.
fn describe(answer: &Answer) -> String {
    match answer {
        Answer::Response(response) => format!(
            "HTTP {} {}",
            response.status,
            String::from_utf8_lossy(&response.body)
                .chars()
                .take(300)
                .collect::<String>()
        ),
        Answer::Closed => "closed without an answer".to_owned(),
        Answer::Truncated(bytes) => format!(
            "closed after {} bytes that are no response: {:?}",
            bytes.len(),
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        ),
        Answer::Silent(bytes) => format!("nothing conclusive in time ({} bytes)", bytes.len()),
    }
}

/// Checks one outcome. `Err(hard)` for what no entry may do (hang, a 5xx); `Ok(Err(mismatch))` when the answer
/// is not the expected one. `no_body`: the answer to a HEAD request, which has headers only.
fn judge(
    expected: &Expected,
    answer: &Answer,
    no_body: bool,
) -> Result<Result<(), String>, String> {
    match answer {
        Answer::Silent(_) => return Err(format!("hang: {}", describe(answer))),
        Answer::Response(response) if response.status >= 500 => {
            return Err(format!("server error: {}", describe(answer)));
        }
        _ => {}
    }
    let mismatch = |why: &str| Ok(Err(format!("{why}; got {}", describe(answer))));
    match (expected, answer) {
        (Expected::Closed, Answer::Closed) => Ok(Ok(())),
        (Expected::Closed, _) => mismatch("expected the connection to close without an answer"),
        (Expected::Bare(status), Answer::Response(response)) if response.status == *status => {
            Ok(Ok(()))
        }
        (Expected::Bare(status), _) => mismatch(&format!("expected a bare HTTP {status}")),
        (Expected::Code(code), Answer::Response(response)) => {
            if response.status != 200 {
                return mismatch(&format!("expected HTTP 200 with {code}"));
            }
            if no_body {
                // HEAD: no body to read; the status and Content-Type are all there is.
                let json = response.header_values("content-type") == ["application/json"];
                return Ok(if json {
                    Ok(())
                } else {
                    Err("HEAD answer without Content-Type application/json".into())
                });
            }
            match envelope_code(response) {
                Ok(got) if got == *code => Ok(Ok(())),
                Ok(got) => mismatch(&format!("expected {code}, not {got}")),
                Err(why) => mismatch(&format!("expected {code}: {why}")),
            }
        }
        (Expected::Code(code), _) => mismatch(&format!("expected an answer with {code}")),
    }
}

#[test]
fn the_corpus_is_well_formed() {
    let corpus = load_corpus();
    assert!(corpus.case.len() >= 50, "{} entries", corpus.case.len());
    let mut names = HashSet::new();
    for case in &corpus.case {
        assert!(names.insert(case.name.as_str()), "{} twice", case.name);
        assert!(
            !case.why.trim().is_empty(),
            "{}: say why it is malformed",
            case.name
        );
        assert!(
            case.known_bug.as_deref().is_none_or(|bug| !bug.is_empty()),
            "{}: a known bug says what it is",
            case.name
        );
        // Building the bytes checks placeholders, signing and edits.
        assert!(!bytes_of(case, &corpus.world).is_empty() || case.close_after_send);
    }
    let slow = corpus
        .case
        .iter()
        .filter(|case| case.wait.is_some_and(|wait| wait > 5))
        .count();
    assert!(slow <= 1, "keep to one slow entry, not {slow}");
}

/// One case's result.
struct Outcome {
    name: String,
    known_bug: Option<String>,
    elapsed: Duration,
    verdict: Result<Result<(), String>, String>,
}

#[test]
fn every_malformed_request_is_refused_as_documented_and_changes_nothing() {
    let corpus = load_corpus();
    let server = MockServer::builder()
        .world(corpus.world.clone())
        .limits(Limits {
            body_timeout: BODY_TIMEOUT,
            ..Limits::default()
        })
        .start()
        .expect("the mock starts");
    let address = server.address();
    let before = server.snapshot();

    // Slowest first, so the one that waits for the server's body timeout overlaps all the others.
    let mut cases = corpus.case.clone();
    cases.sort_by_key(|case| std::cmp::Reverse(case.wait.unwrap_or(0)));
    let queue = Mutex::new(cases.into_iter().collect::<VecDeque<_>>());
    let outcomes = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL {
            scope.spawn(|| {
                loop {
                    let Some(case) = queue.lock().unwrap().pop_front() else {
                        break;
                    };
                    let bytes = bytes_of(&case, &corpus.world);
                    let (answer, elapsed) = exchange(address, bytes, &case);
                    let verdict = judge(&Expected::parse(&case.expect), &answer, case.no_body);
                    outcomes.lock().unwrap().push(Outcome {
                        name: case.name.clone(),
                        known_bug: case.known_bug.clone(),
                        elapsed,
                        verdict,
                    });
                }
            });
        }
    });
    let outcomes = outcomes.into_inner().unwrap();
    let total = started.elapsed();

    let mut failures = Vec::new();
    let mut still_known = Vec::new();
    for outcome in &outcomes {
        match (&outcome.verdict, &outcome.known_bug) {
            (Err(hard), _) => failures.push(format!(
                "{} ({:.1} s): {hard}",
                outcome.name,
                outcome.elapsed.as_secs_f64()
            )),
            (Ok(Err(mismatch)), None) => failures.push(format!("{}: {mismatch}", outcome.name)),
            (Ok(Err(mismatch)), Some(bug)) => {
                still_known.push(format!("{}: {mismatch} [known bug: {bug}]", outcome.name))
            }
            (Ok(Ok(())), Some(_)) => failures.push(format!(
                "{}: now answers as documented; remove its known-bug mark",
                outcome.name
            )),
            (Ok(Ok(())), None) => {}
        }
    }
    println!(
        "{} malformed requests in {:.1} s; {} known bugs still open:",
        outcomes.len(),
        total.as_secs_f64(),
        still_known.len()
    );
    for line in &still_known {
        println!("  {line}");
    }

    let after = server.snapshot();
    if after != before {
        let changed: Vec<String> = before
            .instances
            .iter()
            .zip(&after.instances)
            .filter(|(was, is)| was != is)
            .map(|(was, is)| format!("{was:?}\n  became {is:?}"))
            .collect();
        failures.push(format!(
            "the corpus changed the world:\n{}",
            if changed.is_empty() {
                format!("before {before:?}\nafter {after:?}")
            } else {
                changed.join("\n")
            }
        ));
    }
    assert!(
        failures.is_empty(),
        "{} of {} entries failed:\n{}",
        failures.len(),
        outcomes.len(),
        failures.join("\n")
    );

    // The mock still works: a valid signed TerminateInstances succeeds and changes exactly its instance.
    let mut stream = TcpStream::connect(address).expect("the mock accepts connections");
    stream
        .write_all(&signed_terminate(
            &["ins-3jaw1j8m"],
            false,
            false,
            1_700_000_000,
        ))
        .expect("the request is sent");
    let mut buffer = Vec::new();
    let answer = raw::read_answer(
        &mut stream,
        &mut buffer,
        Instant::now() + DEFAULT_WAIT,
        false,
    );
    let Answer::Response(response) = &answer else {
        panic!("the valid request got {}", describe(&answer));
    };
    let body: Value = serde_json::from_slice(&response.body).expect("a JSON answer");
    assert_eq!(response.status, 200, "{body}");
    assert!(body["Response"]["Error"].is_null(), "{body}");
    assert!(body["Response"]["RequestId"].is_string(), "{body}");
    let mut expected = before;
    expected.instances.update_all(|instance| {
        if instance.id == "ins-3jaw1j8m" {
            // Destroyed, and listed as terminating for the default 5 s, stamped with the call's RequestId.
            instance.state = InstanceState::Terminated;
            instance.gone_at = Some(1_700_000_000 + 5);
            instance.latest_operation = Some(Box::new(Operation {
                action: "TerminateInstances".into(),
                state: "OPERATING".into(),
                request_id: body["Response"]["RequestId"].as_str().map(str::to_owned),
                succeeds_at: None,
            }));
        }
    });
    assert_eq!(server.snapshot(), expected);
}
