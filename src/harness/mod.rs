//! Runs cases against a target: seeds the case's world, sends each step's request (built and signed as the
//! official SDK would, tampered with if the step says so), checks the answer, the instance states and the
//! signing stages, and keeps every [`Exchange`] for the snapshot.
//!
//! Public: [`run_case`], [`CaseRun`], [`Outcome`], [`Target`]; `snapshot` renders exchanges as text for insta and
//! for `terminus diff`.

pub mod http1;
pub mod load;
pub mod report;
pub mod snapshot;
pub(crate) mod target;

use std::time::{Duration, Instant};

use serde_json::Value;
use similar::TextDiff;

use target::Session;
pub use target::Target;
pub(crate) use target::world_toml_with_keys;

use crate::case::{Loaded, Method, Step, Tamper};
use crate::exchange::{Exchange, NoAnswer, Response};
use crate::message::Request;
use crate::provider::ProviderId;
use crate::signing::{Credentials, Secret, Step as Stage, redact_all};

/// What running one case gave.
#[derive(Clone, Debug)]
pub struct CaseRun {
    /// The case id.
    pub id: String,
    /// Passed or failed, and where.
    pub outcome: Outcome,
    /// Every request sent and its answer.
    pub exchanges: Vec<Exchange>,
    /// Wall time.
    pub duration: Duration,
}

/// A case's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every expectation held.
    Passed,
    /// A step's expectation did not hold (`step` is 1-based; 0 means before any step).
    Failed {
        /// The step.
        step: usize,
        /// What was expected and what came instead.
        message: String,
    },
    /// The case could not be carried out as written (a tamper that changes nothing, a request that cannot be
    /// built), or the harness broke on it (a panic): no verdict on the target, and never a pass.
    Error {
        /// The step (0: before any step, or unknown).
        step: usize,
        /// What went wrong.
        message: String,
    },
}

impl Outcome {
    /// The step and message of a case that did not pass.
    pub fn problem(&self) -> Option<(usize, &str)> {
        match self {
            Outcome::Passed => None,
            Outcome::Failed { step, message } | Outcome::Error { step, message } => {
                Some((*step, message))
            }
        }
    }
}

/// Runs one case.
pub async fn run_case(loaded: &Loaded, target: &Target) -> CaseRun {
    let started = Instant::now();
    let mut exchanges = Vec::new();
    let outcome = match run_steps(loaded, target, &mut exchanges).await {
        Ok(()) => Outcome::Passed,
        // The message may quote a request or a signing stage holding a token or key (a `Token` parameter, a
        // Bearer header): whatever printed it, the case's secrets never leave here.
        Err(Stop::Failed(step, message)) => Outcome::Failed {
            step,
            message: redact_all(&message, loaded.case.secrets()),
        },
        Err(Stop::Error(step, message)) => Outcome::Error {
            step,
            message: redact_all(&message, loaded.case.secrets()),
        },
    };
    CaseRun {
        id: loaded.id.clone(),
        outcome,
        exchanges,
        duration: started.elapsed(),
    }
}

/// Runs many cases, `jobs` at a time, calling `progress` as each finishes; results in the order given, one for
/// every case: a case whose task panicked ends as [`Outcome::Error`] with the panic's message.
pub async fn run_cases(
    cases: Vec<Loaded>,
    target: &Target,
    jobs: usize,
    progress: impl Fn(&CaseRun) + Send + Sync + 'static,
) -> Vec<CaseRun> {
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let progress = std::sync::Arc::new(progress);
    let tasks: Vec<_> = cases
        .into_iter()
        .map(|loaded| {
            let id = loaded.id.clone();
            let (permits, progress, target) = (
                std::sync::Arc::clone(&permits),
                std::sync::Arc::clone(&progress),
                target.clone(),
            );
            let started = Instant::now();
            let task = tokio::spawn(async move {
                let _permit = permits.acquire().await;
                let run = run_case(&loaded, &target).await;
                progress(&run);
                run
            });
            (id, started, task)
        })
        .collect();
    let mut runs = Vec::with_capacity(tasks.len());
    for (id, started, task) in tasks {
        let run = match task.await {
            Ok(run) => run,
            Err(error) => {
                let why = if error.is_panic() {
                    format!(
                        "the harness panicked: {}",
                        panic_message(error.into_panic())
                    )
                } else {
                    format!("the case's task was cancelled: {error}")
                };
                let run = CaseRun {
                    id,
                    outcome: Outcome::Error {
                        step: 0,
                        message: why,
                    },
                    exchanges: Vec::new(),
                    duration: started.elapsed(),
                };
                progress(&run);
                run
            }
        };
        runs.push(run);
    }
    runs
}

/// The text a panic was raised with.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(|| "(no message)".to_owned(), |text| (*text).to_owned()),
    }
}

/// Why a case stopped early: an expectation that did not hold, or a case that cannot be carried out as written.
enum Stop {
    Failed(usize, String),
    Error(usize, String),
}

async fn run_steps(
    loaded: &Loaded,
    target: &Target,
    exchanges: &mut Vec<Exchange>,
) -> Result<(), Stop> {
    let case = &loaded.case;
    let session = Session::open(target, &case.world)
        .await
        .map_err(|message| Stop::Failed(0, message))?;
    // Every request of a case carries its own Nonce unless its step names one: 11886, 11887, … in sending order.
    let mut nonces = 11_886_u64..;
    for (index, step) in case.steps.iter().enumerate() {
        let number = index + 1;
        let fail = |message: String| Stop::Failed(number, message);
        let error = |message: String| Stop::Error(number, message);
        if let Some(advance) = step.advance {
            session
                .advance(i64::try_from(advance.as_secs()).unwrap_or(i64::MAX))
                .await
                .map_err(fail)?;
        }
        let now = session.now().await.map_err(fail)?;
        for _ in 0..step.repeat.unwrap_or(1) {
            let nonce = nonces.next().unwrap_or_default();
            let nonce = step.nonce.unwrap_or(nonce);
            let (request, trace) = build(loaded, step, nonce, now).map_err(error)?;
            let exchange = Exchange::timed(number, request, trace, async |request| {
                session
                    .send(request, step.timeout.unwrap_or(target::TIMEOUT))
                    .await
            })
            .await;
            let checked = check_answer(loaded.provider, step, &exchange)
                .and_then(|()| check_elapsed(step, &exchange));
            exchanges.push(exchange);
            checked.map_err(fail)?;
        }
        if let Some(trace) = exchanges
            .last()
            .and_then(|exchange| exchange.trace.as_ref())
        {
            check_signed(number, step, trace)?;
        } else if !step.expect.signed.is_empty() {
            return Err(error(
                "expect.signed is set but the request was not signed".into(),
            ));
        }
        let expect = &step.expect;
        if !(expect.instances.is_empty()
            && expect.every_instance.is_none()
            && expect.disks.is_empty()
            && expect.addresses.is_empty())
        {
            let world = session.world().await.map_err(fail)?;
            step.expect.check_states(&world).map_err(fail)?;
        }
    }
    Ok(())
}

/// Builds, signs and tampers with a step's request.
pub(crate) fn build(
    loaded: &Loaded,
    step: &Step,
    nonce: u64,
    now: i64,
) -> Result<(Request, Option<crate::signing::Trace>), String> {
    let resolved = loaded.resolve(step);
    let token = resolved.token.as_ref().map(Secret::expose);
    let credentials = Credentials::new(resolved.secret_id, resolved.secret_key);
    let method = match step.method {
        Method::Post => "POST",
        Method::Get => "GET",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
    };
    let headers: Vec<(String, String)> = step
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let call = crate::provider::Call {
        action: &resolved.action,
        params: &step.params,
        region: resolved.region.as_deref(),
        version: step.version.as_deref(),
        credentials: &credentials,
        token,
        timestamp: now.saturating_add(step.skew.unwrap_or(0)),
        nonce,
        sign: resolved.sign,
        method,
        headers: &headers,
    };
    let (mut request, trace) = loaded
        .provider
        .build_request(&call)
        .map_err(|error| format!("cannot build the request: {error}"))?;
    if let Some(tamper) = &step.tamper {
        let signed = request.to_bytes();
        apply_tamper(&mut request, tamper)?;
        if request.to_bytes() == signed {
            return Err(format!(
                "tamper {tamper:?} changes nothing in this request: the step proves nothing about tampering"
            ));
        }
    }
    Ok((request, trace))
}

/// Changes the signed request as the step says; errs when there is nothing of that kind to change.
fn apply_tamper(request: &mut Request, tamper: &Tamper) -> Result<(), String> {
    match tamper {
        Tamper::Body if !request.body.is_empty() => {
            let middle = request.body.len() / 2;
            request.body[middle] ^= 1;
        }
        Tamper::Body => {
            // No body: flip the first byte of the first non-empty parameter value of the query.
            let mut query = request.query().as_bytes().to_vec();
            let value = query
                .windows(2)
                .position(|pair| pair[0] == b'=' && pair[1] != b'&')
                .map(|at| at + 1)
                .ok_or("tamper = \"body\": the request has no body and no query parameter with a value")?;
            query[value] ^= 1;
            request.set_query(&String::from_utf8_lossy(&query));
        }
        Tamper::Signature => {
            if let Some(authorization) = request.header("authorization").map(str::to_owned) {
                let mut bytes = authorization.into_bytes();
                if let Some(last) = bytes.last_mut() {
                    *last = if *last == b'0' { b'1' } else { b'0' };
                }
                request.set_header(
                    "Authorization",
                    String::from_utf8_lossy(&bytes).into_owned(),
                );
            } else {
                let query = request.query().replacen("Signature=", "Signature=A", 1);
                request.set_query(&query);
                let body =
                    String::from_utf8_lossy(&request.body).replacen("Signature=", "Signature=A", 1);
                request.set_body(body.into_bytes());
            }
        }
        Tamper::DropHeader(name) => request.remove_header(name),
    }
    Ok(())
}

/// Checks status, error code and response fields.
pub(crate) fn check_answer(
    provider: ProviderId,
    step: &Step,
    exchange: &Exchange,
) -> Result<(), String> {
    if step.expect.dropped {
        return match &exchange.response {
            Err(NoAnswer::Closed(_)) => Ok(()),
            Err(other) => Err(format!(
                "expected the connection to close without an answer, but {other}"
            )),
            Ok(response) => Err(format!(
                "expected the connection to close without an answer, received HTTP {}",
                response.status
            )),
        };
    }
    let response = exchange
        .response
        .as_ref()
        .map_err(|error| format!("no answer: {error}"))?;
    let expected_status = step.expect.status.unwrap_or(200);
    if response.status != expected_status {
        return Err(format!(
            "expected HTTP {expected_status}, received {}\n{}",
            response.status,
            body_text(response)
        ));
    }
    if response.header("content-type") != Some("application/json") {
        return Err(format!(
            "expected Content-Type application/json, received {:?}",
            response.header("content-type")
        ));
    }
    let answer = provider
        .read_answer(&response.body)
        .map_err(|why| format!("{why}\n{}", body_text(response)))?;
    match (&step.expect.error, &answer) {
        (None, Ok(_)) => {}
        (Some(expected), Err(code)) if expected == code => {}
        (expected, received) => {
            let expected = expected
                .as_deref()
                .map_or("success".to_owned(), |code| format!("error {code}"));
            let received = match received {
                Ok(_) => "success".to_owned(),
                Err(code) => format!("error {code}"),
            };
            return Err(format!(
                "expected {expected}, received {received}\n{}",
                body_text(response)
            ));
        }
    }
    if let Ok(fields) = &answer {
        let whole = Value::Object(fields.clone());
        for (name, expected) in &step.expect.response {
            // A name is a field of the answer, or with a leading `/` a JSON pointer into it
            // (`/InstanceSet/0/InstanceState`).
            let received = if name.starts_with('/') {
                whole.pointer(name)
            } else {
                fields.get(name)
            };
            if received != Some(expected) {
                let diff = diff(&pretty(expected), &pretty(received.unwrap_or(&Value::Null)));
                return Err(format!(
                    "response field {name} differs (- expected, + received):\n{diff}"
                ));
            }
        }
    }
    Ok(())
}

/// Checks how long the answer took against the step's bounds.
fn check_elapsed(step: &Step, exchange: &Exchange) -> Result<(), String> {
    let Some(bounds) = step.expect.elapsed else {
        return Ok(());
    };
    let took = exchange.elapsed;
    let shown = |duration: Duration| humantime::format_duration(duration).to_string();
    if let Some(least) = bounds.at_least.filter(|least| took < *least) {
        return Err(format!(
            "expected the answer to take at least {}, it took {}",
            shown(least),
            shown(Duration::from_millis(took.as_millis() as u64))
        ));
    }
    if let Some(most) = bounds.at_most.filter(|most| took > *most) {
        return Err(format!(
            "expected the answer to take at most {}, it took {}",
            shown(most),
            shown(Duration::from_millis(took.as_millis() as u64))
        ));
    }
    Ok(())
}

/// Compares each expected signing stage (from an outside source) with the signer's.
fn check_signed(number: usize, step: &Step, trace: &crate::signing::Trace) -> Result<(), Stop> {
    for (name, expected) in &step.expect.signed {
        let stage = Stage::from_name(name).ok_or_else(|| {
            Stop::Error(number, format!("expect.signed has unknown stage {name:?}"))
        })?;
        let actual = trace.get(stage).unwrap_or("<absent>");
        if actual != expected {
            return Err(Stop::Failed(
                number,
                format!(
                    "signing stage {name} differs (- expected, + signed):\n{}",
                    diff(expected, actual)
                ),
            ));
        }
    }
    Ok(())
}

fn body_text(response: &Response) -> String {
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(value) => pretty(&value),
        Err(_) => String::from_utf8_lossy(&response.body).into_owned(),
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A unified diff of two texts. The diff algorithm gets a deadline: past it, the diff is still correct but may
/// be longer than the shortest (two large snapshots given to `terminus diff` cannot take minutes).
pub fn diff(expected: &str, actual: &str) -> String {
    TextDiff::configure()
        .timeout(Duration::from_secs(2))
        .diff_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .to_string()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_case_whose_task_panics_ends_as_an_error_with_the_panics_message() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
        let cases: Vec<Loaded> = [
            "tencent/terminate-instances/unknown-instance-is-not-found.toml",
            "tencent/terminate-instances/protected-instance-is-refused.toml",
        ]
        .iter()
        .map(|path| crate::case::load(&root, &root.join(path)).expect("a committed case"))
        .collect();
        let doomed = cases[0].id.clone();
        let struck = AtomicBool::new(false);
        // The task panics after its case ran (in the progress callback, which runs inside the task).
        let runs = run_cases(cases, &Target::Mock, 2, move |run| {
            if run.id == doomed && !struck.swap(true, Ordering::SeqCst) {
                panic!("struck on purpose");
            }
        })
        .await;
        let outcomes: Vec<(&str, &Outcome)> = runs
            .iter()
            .map(|run| (run.id.as_str(), &run.outcome))
            .collect();
        assert_eq!(
            outcomes,
            [
                (
                    "tencent/terminate-instances/unknown-instance-is-not-found",
                    &Outcome::Error {
                        step: 0,
                        message: "the harness panicked: struck on purpose".into()
                    }
                ),
                (
                    "tencent/terminate-instances/protected-instance-is-refused",
                    &Outcome::Passed
                ),
            ]
        );
    }
}
