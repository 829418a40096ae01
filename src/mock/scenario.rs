//! Scenarios on the control API: a client in any language loads a scenario's world by id, makes the scenario's
//! calls with its own signing code, and asks whether what the server received and answered matched the steps.
//!
//! | request | does |
//! |---|---|
//! | `PUT /__terminus/scenario/{id}` | replaces the world with the scenario's (`terminus scenarios`), its fixed clock moved to the machine's time (a client signs with its own clock) and every time of the world with it, and starts recording answers |
//! | `GET /__terminus/scenario/{id}/verdict` | compares the answers since then with the steps, and the world with the last step's states |
//!
//! The scenarios are the ones built into the binary. What is recorded is, per answered request, the action, the
//! HTTP status and the error code (never a key or a body), at most [`RECORDED`] of them; a step that expects the
//! connection dropped expects no answer. Only one scenario is followed at a time: loading one ends the previous.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use serde::Serialize;
use serde_json::{Value, json};

use super::Shared;
use crate::case::{CaseSource, Loaded, Step};
use crate::message::Reply;
use crate::message::Request;
use crate::provider::ProviderId;
use crate::world::WorldSpec;
use crate::world::clock::{Clock, ClockSpec};

/// The most answers recorded for one scenario; more are counted, not kept.
pub(super) const RECORDED: usize = 10_000;

/// The scenario being followed and the answers since it was loaded.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    active: Mutex<Option<Active>>,
    /// Whether a scenario was ever loaded: until then a request records nothing and takes no lock for it.
    following: AtomicBool,
}

#[derive(Debug)]
struct Active {
    id: String,
    answers: Vec<Answer>,
    unrecorded: usize,
}

/// One answer, as the verdict compares it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
struct Answer {
    action: Option<String>,
    status: u16,
    /// The error code; `None`: success.
    error: Option<String>,
}

/// Every scenario built into the binary, by id, read once.
fn scenarios() -> &'static BTreeMap<String, Loaded> {
    static SCENARIOS: OnceLock<BTreeMap<String, Loaded>> = OnceLock::new();
    SCENARIOS.get_or_init(|| {
        CaseSource::Embedded
            .cases()
            .into_iter()
            .filter_map(|found| found.loaded.ok().map(|loaded| (found.id, loaded)))
            .collect()
    })
}

/// Records a provider's answer for the scenario being followed, if any.
pub(super) fn observe(shared: &Shared, provider: ProviderId, request: &Request, reply: &Reply) {
    if !shared.scenario.following.load(Ordering::Acquire) {
        return;
    }
    let mut active = shared
        .scenario
        .active
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let Some(active) = active.as_mut() else {
        return;
    };
    if active.answers.len() >= RECORDED {
        active.unrecorded += 1;
        return;
    }
    let error = match provider.read_answer(&reply.body) {
        Ok(Ok(_)) => None,
        Ok(Err(code)) => Some(code),
        Err(_) => Some(format!(
            "(an answer that is not the {} envelope)",
            provider.name()
        )),
    };
    active.answers.push(Answer {
        action: provider.action_of(request),
        status: reply.status,
        error,
    });
}

/// Serves `scenario/…` control calls; `None` for other paths.
pub(super) fn handle(method: &str, path: &str, shared: &Shared) -> Option<Reply> {
    let rest = path.strip_prefix("scenario/")?;
    let (id, verdict) = match rest.strip_suffix("/verdict") {
        Some(id) => (id, true),
        None => (rest, false),
    };
    let reply = match (method, verdict) {
        ("PUT", false) => load(id, shared),
        ("GET", true) => judge(id, shared),
        _ => reply(
            405,
            json!({ "error": format!("{method} is not allowed on /__terminus/{path}: PUT a scenario, GET its verdict") }),
        ),
    };
    Some(reply)
}

fn unknown(id: &str) -> Reply {
    reply(
        404,
        json!({ "error": format!("no scenario {id:?}; `terminus scenarios` lists them") }),
    )
}

fn load(id: &str, shared: &Shared) -> Reply {
    let Some(loaded) = scenarios().get(id) else {
        return unknown(id);
    };
    let mut spec = loaded.case.world.clone();
    let now = Clock::new(ClockSpec::Real).now();
    let moved_by = match spec.clock {
        ClockSpec::Fixed { at } | ClockSpec::Virtual { at } => now.saturating_sub(at),
        ClockSpec::Real => 0,
    };
    spec.clock = match spec.clock {
        ClockSpec::Fixed { .. } => ClockSpec::Fixed { at: now },
        ClockSpec::Virtual { .. } => ClockSpec::Virtual { at: now },
        ClockSpec::Real => ClockSpec::Real,
    };
    move_times(&mut spec, moved_by);
    // A client loads the scenario before its calls and waits for the answer: an answer to a request still in flight
    // from before (another client's) would count, so one server follows one client's scenario at a time.
    *shared
        .scenario
        .active
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(Active {
        id: id.to_owned(),
        answers: Vec::new(),
        unrecorded: 0,
    });
    shared.scenario.following.store(true, Ordering::Release);
    let mut world = shared.world();
    world.replace(spec);
    reply(
        200,
        json!({ "scenario": id, "now": world.clock.now(), "steps": loaded.case.steps.len() }),
    )
}

/// Moves every time a world holds by `seconds`, as its clock was moved: the scenario's times stay where they were
/// relative to its clock (an instance in the recycle bin for an hour is still an hour from release, not released).
fn move_times(spec: &mut WorldSpec, seconds: i64) {
    let by = |at: &mut Option<i64>| {
        if let Some(at) = at {
            *at = at.saturating_add(seconds);
        }
    };
    spec.instances.update_all(|instance| {
        by(&mut instance.created);
        by(&mut instance.expires);
        by(&mut instance.gone_at);
        by(&mut instance.terminate_at);
        if let Some(transition) = &mut instance.transition {
            transition.at = transition.at.saturating_add(seconds);
        }
    });
    spec.bmc_instances.update_all(|instance| {
        by(&mut instance.recycled_at);
        by(&mut instance.ready_at);
    });
}

fn judge(id: &str, shared: &Shared) -> Reply {
    let Some(loaded) = scenarios().get(id) else {
        return unknown(id);
    };
    let (answers, unrecorded) = {
        let active = shared
            .scenario
            .active
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match active.as_ref() {
            Some(active) if active.id == id => (active.answers.clone(), active.unrecorded),
            Some(active) => {
                return reply(
                    409,
                    json!({ "error": format!("the scenario loaded is {:?}, not {id:?}", active.id) }),
                );
            }
            None => {
                return reply(
                    409,
                    json!({ "error": format!("no scenario is loaded: PUT /__terminus/scenario/{id} first") }),
                );
            }
        }
    };
    let expected: Vec<(usize, Answer)> = loaded
        .case
        .steps
        .iter()
        .enumerate()
        .filter(|(_, step)| !step.expect.dropped)
        .flat_map(|(index, step)| {
            let answer = expected_answer(loaded, step);
            (0..step.repeat.unwrap_or(1)).map(move |_| (index + 1, answer.clone()))
        })
        .collect();
    let mut steps = Vec::new();
    let mut passed = unrecorded == 0 && answers.len() == expected.len();
    for (position, (step, want)) in expected.iter().enumerate() {
        let got = answers.get(position);
        let matched = got == Some(want);
        passed &= matched;
        steps.push(json!({ "step": step, "expected": want, "received": got, "matched": matched }));
    }
    let unexpected: Vec<&Answer> = answers.iter().skip(expected.len()).collect();
    let world = shared.world().snapshot();
    let states = match loaded.case.steps.last() {
        Some(last) => last.expect.check_states(&world).err(),
        None => None,
    };
    passed &= states.is_none();
    reply(
        200,
        json!({
            "scenario": id,
            "passed": passed,
            "answers": answers.len() + unrecorded,
            "expected-answers": expected.len(),
            "steps": steps,
            "unexpected": unexpected,
            "states": states.map_or(Value::Null, Value::from),
        }),
    )
}

/// The answer a step expects: its action, status and error code.
fn expected_answer(loaded: &Loaded, step: &Step) -> Answer {
    Answer {
        action: Some(
            step.action
                .clone()
                .unwrap_or_else(|| crate::case::pascal_case(&loaded.action)),
        ),
        status: step.expect.status.unwrap_or(200),
        error: step.expect.error.clone(),
    }
}

fn reply(status: u16, value: Value) -> Reply {
    Reply::json(status, serde_json::to_vec(&value).unwrap_or_default())
}
