//! Concurrent terminations against one mock: 16 clients, each on its own keep-alive connection, terminate
//! overlapping batches of pay-as-you-go and prepaid instances at the same moment, round after round.
//!
//! What is proved, from the answers and the final world alone:
//! - every instance changed state exactly once per successful call that named it: a pay-as-you-go instance is
//!   named by at most one successful call (RUNNING → TERMINATED once), a prepaid one by at most two (→ SHUTDOWN,
//!   then → TERMINATED), and its final state is exactly what that count implies;
//! - the outcomes are consistent: of 16 calls racing for one pay-as-you-go instance exactly one wins, for one
//!   prepaid instance exactly two; a refused call is refused whole (its other instances are untouched);
//! - serializability: replaying exactly the successful calls one at a time (in the order the server numbered
//!   them; any order gives the same world, since each instance's fate depends only on how many successes named
//!   it) and then the refused ones, on a fresh world, gives every call the same outcome and the same final world,
//!   and each replayed success moves each of its instances exactly one step and nothing else.
//!
//! Why it would fail without the world's lock (a check made under one lock and the change under another, or a
//! read-modify-write of the state outside it): two of the 16 calls racing for the same "hot" instance both pass
//! the checks, so a pay-as-you-go instance is named by two successful calls (or a prepaid one by three), and
//! their replay fails on the second; or one call's write-back loses another's change, so the final world lacks
//! an effect the replay has. Why it would fail if all-or-nothing were broken (instances changed one by one while
//! the batch is checked): every racing batch puts a fresh instance before the contested one, so a refused call
//! would still have destroyed its fresh instance, which no successful call names: its final state differs from
//! the count of successes and from the replay.

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use terminus::mock::MockServer;
use terminus::world::{ChargeType, DataDisk, DiskState, Eip, Instance, InstanceState, WorldSpec};

use crate::common::raw::{self, Answer};
use crate::common::{SIGNED_AT, TENCENT_ID, TENCENT_KEY, signed_terminate};

const CLIENTS: usize = 16;

/// What each client does in a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Round {
    /// Client t: [its fresh pay-as-you-go instance, the round's hot one]. Exactly one call wins.
    PaygHot,
    /// Client t: [its fresh prepaid instance, the round's hot prepaid one]. Exactly two calls win.
    PrepaidHot,
    /// Client t: [fresh t, fresh t+1] (pay-as-you-go): neighbours conflict; the winners form an independent set.
    PaygRing,
    /// Client t: [prepaid t, prepaid t+1]: each instance named twice, so every call wins.
    PrepaidRing,
    /// Client t: [a pay-as-you-go instance, a prepaid one]: refused whole, always.
    Mixed,
    /// Client t: [the fresh instance it had this many rounds earlier] again.
    Retry(usize),
}

/// One block of rounds; the test runs it [`BLOCKS`] times over.
const BLOCK: [Round; 16] = [
    Round::PaygHot,
    Round::PrepaidHot,
    Round::PaygRing,
    Round::PrepaidRing,
    Round::Mixed,
    Round::Retry(3),
    Round::Retry(5),
    Round::PaygHot,
    Round::PrepaidHot,
    Round::PaygRing,
    Round::PrepaidRing,
    Round::Retry(2),
    Round::Retry(4),
    Round::Retry(5),
    Round::PaygHot,
    Round::PrepaidHot,
];

/// Each block adds 16 races; on a 2-core machine a race broken by a missing lock shows in most blocks.
const BLOCKS: usize = 4;
const ROUNDS: usize = BLOCK.len() * BLOCKS;

fn kind(round: usize) -> Round {
    BLOCK[round % BLOCK.len()]
}

/// `ins-` + kind + round + slot: 8 characters of `[a-z0-9]`.
fn id(prepaid: bool, round: usize, slot: usize) -> String {
    format!("ins-{}{round:02}{slot:05}", if prepaid { 'q' } else { 'p' })
}

const HOT: usize = 99_999;

fn fresh(round: usize, client: usize) -> String {
    let prepaid = match kind(round) {
        Round::PrepaidHot | Round::PrepaidRing => true,
        Round::PaygHot | Round::PaygRing | Round::Mixed => false,
        Round::Retry(back) => return fresh(round - back, client),
    };
    id(prepaid, round, client)
}

/// The ids client `client` names in round `round`, fresh one first.
fn batch(round: usize, client: usize) -> Vec<String> {
    let next = (client + 1) % CLIENTS;
    match kind(round) {
        Round::PaygHot => vec![fresh(round, client), id(false, round, HOT)],
        Round::PrepaidHot => vec![fresh(round, client), id(true, round, HOT)],
        Round::PaygRing | Round::PrepaidRing => vec![fresh(round, client), fresh(round, next)],
        Round::Mixed => vec![id(false, round, client), id(true, round, client)],
        Round::Retry(_) => vec![fresh(round, client)],
    }
}

/// The world: every instance any round names, each with an elastic IP, prepaid ones with a prepaid data disk.
fn world() -> WorldSpec {
    let mut spec = WorldSpec::from_toml(
        &format!(
            "clock = {{ mode = \"fixed\", at = {SIGNED_AT} }}\n\
             rate-limit = {{ terminate-per-second = 0 }}\n\
             timings = \"immediate\"\n\
             [[accounts]]\nsecret-id = \"{TENCENT_ID}\"\nsecret-key = \"{TENCENT_KEY}\"\n"
        ),
        "the concurrency world",
    )
    .expect("a valid world");
    let mut ids: Vec<String> = (0..ROUNDS)
        .flat_map(|round| (0..CLIENTS).flat_map(move |client| batch(round, client)))
        .collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        let mut instance = Instance::new(&id);
        instance.eip = Some(Box::new(Eip {
            id: id.replace("ins-", "eip-"),
            kind: "HighQualityEIP".into(),
            address: None,
            released: false,
        }));
        if id.starts_with("ins-q") {
            instance.charge = ChargeType::Prepaid;
            instance.data_disks = vec![DataDisk {
                id: id.replace("ins-", "disk-"),
                charge: ChargeType::Prepaid,
                state: DiskState::Attached,
            }];
        }
        spec.instances.push(instance);
    }
    spec
}

/// One call and what the server said.
#[derive(Clone, Debug)]
struct Call {
    round: usize,
    ids: Vec<String>,
    release_address: bool,
    release_prepaid_data_disks: bool,
    /// `None`: success; otherwise the error code.
    refused: Option<String>,
    /// The number in the server's RequestId: the order it took the calls in.
    sequence: u64,
}

impl Call {
    fn bytes(&self) -> Vec<u8> {
        let ids: Vec<&str> = self.ids.iter().map(String::as_str).collect();
        signed_terminate(
            &ids,
            self.release_address,
            self.release_prepaid_data_disks,
            SIGNED_AT,
        )
    }
}

/// A keep-alive client.
struct Client {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Client {
    fn connect(address: SocketAddr) -> Self {
        let stream = TcpStream::connect(address).expect("the mock accepts connections");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        Self {
            stream,
            buffer: Vec::new(),
        }
    }

    /// Sends a request on the open connection; the outcome (`None` for success) and the RequestId's number.
    fn call(&mut self, bytes: &[u8]) -> (Option<String>, u64) {
        self.stream
            .write_all(bytes)
            .expect("the connection stays open");
        let deadline = Instant::now() + Duration::from_secs(5);
        let answer = raw::read_answer(&mut self.stream, &mut self.buffer, deadline, false);
        let Answer::Response(response) = answer else {
            panic!("no answer on a keep-alive connection: {answer:?}");
        };
        assert_eq!(response.status, 200);
        assert!(
            response
                .header_values("connection")
                .iter()
                .all(|value| !value.eq_ignore_ascii_case("close")),
            "the server closes keep-alive connections"
        );
        let body: Value = serde_json::from_slice(&response.body).expect("a JSON answer");
        let request_id = body["Response"]["RequestId"]
            .as_str()
            .unwrap_or_else(|| panic!("no RequestId: {body}"));
        let sequence = u64::from_str_radix(request_id.rsplit('-').next().unwrap_or_default(), 16)
            .unwrap_or_else(|_| panic!("RequestId {request_id} does not end in a number"));
        let refused = body["Response"]["Error"]["Code"]
            .as_str()
            .map(str::to_owned);
        (refused, sequence)
    }
}

/// Instance states by id.
fn states(spec: &WorldSpec) -> HashMap<String, Instance> {
    spec.instances
        .iter()
        .map(|instance| (instance.id.clone(), instance.clone()))
        .collect()
}

/// What a termination can change on an instance: its state, its disks, its address. Read under the world's lock
/// without copying the world, so the replay can look at every instance after every call.
type Fingerprint = (InstanceState, Charge, Vec<DiskState>, bool);

/// The charge types this workload uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Charge(bool);

impl Charge {
    /// The one step a successful call moves an instance of this charge type.
    fn step(self, state: InstanceState) -> InstanceState {
        match (self.0, state) {
            (true, InstanceState::Running) => InstanceState::Shutdown,
            _ => InstanceState::Terminated,
        }
    }
}

fn fingerprint(instances: &[Instance]) -> Vec<Fingerprint> {
    instances
        .iter()
        .map(|instance| {
            (
                instance.state,
                Charge(instance.charge == ChargeType::Prepaid),
                instance.data_disks.iter().map(|disk| disk.state).collect(),
                instance.eip.as_ref().is_some_and(|eip| eip.released),
            )
        })
        .collect()
}

#[test]
fn concurrent_overlapping_terminations_are_serializable() {
    let started = Instant::now();
    let initial = world();
    let server = MockServer::builder()
        .world(initial.clone())
        .workers(8)
        .start()
        .expect("the mock starts");
    let address = server.address();

    // Every client signs its calls before the race, then all 16 send each round's call at once. A client that
    // fails breaks the barrier, and so does the deadline: the test fails instead of hanging.
    let barrier = RaceBarrier::new(CLIENTS, started + RACE_DEADLINE);
    let calls = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for client in 0..CLIENTS {
            let (barrier, calls) = (&barrier, &calls);
            scope.spawn(move || {
                let _leaving = barrier.leave_on_panic();
                let mut connection = Client::connect(address);
                let planned: Vec<(Call, Vec<u8>)> = (0..ROUNDS)
                    .map(|round| {
                        let call = Call {
                            round,
                            ids: batch(round, client),
                            release_address: client % 4 == 1,
                            release_prepaid_data_disks: client % 3 == 0,
                            refused: None,
                            sequence: 0,
                        };
                        let bytes = call.bytes();
                        (call, bytes)
                    })
                    .collect();
                for (mut call, bytes) in planned {
                    if let Err(why) = barrier.wait() {
                        panic!("client {client}, round {}: {why}", call.round);
                    }
                    (call.refused, call.sequence) = connection.call(&bytes);
                    calls.lock().unwrap().push(call);
                }
            });
        }
    });
    let mut calls = calls.into_inner().unwrap();
    calls.sort_by_key(|call| call.sequence);
    let raced = started.elapsed();
    let after = server.snapshot();

    // Refusals are only the two this workload can meet.
    for call in &calls {
        if let Some(code) = &call.refused {
            assert!(
                code == "UnsupportedOperation.InstanceStateTerminated"
                    || code == "UnsupportedOperation.InstanceMixedPricingModel",
                "{call:?}"
            );
        }
    }

    // Per round: the races were decided as the rules say.
    for round in 0..ROUNDS {
        let kind = kind(round);
        let of_round: Vec<&Call> = calls.iter().filter(|call| call.round == round).collect();
        let won = of_round
            .iter()
            .filter(|call| call.refused.is_none())
            .count();
        let expected = match kind {
            Round::PaygHot => Some(1),
            Round::PrepaidHot => Some(2),
            Round::PrepaidRing => Some(CLIENTS),
            Round::Mixed => Some(0),
            Round::PaygRing | Round::Retry(_) => None,
        };
        if let Some(expected) = expected {
            assert_eq!(won, expected, "round {round} ({kind:?}): {of_round:#?}");
        }
        if kind == Round::PaygRing {
            // The first call the server takes always wins; neighbours never both win.
            assert!((1..=CLIENTS / 2).contains(&won), "round {round}: {won} won");
        }
        if kind == Round::Mixed {
            assert!(of_round.iter().all(|call| call.refused.as_deref()
                == Some("UnsupportedOperation.InstanceMixedPricingModel")));
        }
    }

    // Each instance changed once per successful call that named it, and never more than its lifecycle allows.
    let mut successes: HashMap<&str, usize> = HashMap::new();
    for call in calls.iter().filter(|call| call.refused.is_none()) {
        for id in &call.ids {
            *successes.entry(id.as_str()).or_default() += 1;
        }
    }
    let before = states(&initial);
    let now = states(&after);
    for (id, instance) in &before {
        let count = successes.get(id.as_str()).copied().unwrap_or(0);
        let expected = match (instance.charge, count) {
            (_, 0) => InstanceState::Running,
            (ChargeType::Prepaid, 1) => InstanceState::Shutdown,
            (ChargeType::Prepaid, 2) => InstanceState::Terminated,
            (ChargeType::Prepaid, _) => panic!("{count} successful calls named prepaid {id}"),
            (_, 1) => InstanceState::Terminated,
            (_, _) => panic!("{count} successful calls destroyed pay-as-you-go {id}"),
        };
        assert_eq!(
            now[id].state, expected,
            "{id}: named by {count} successful calls"
        );
    }

    // Serializability: the successful calls one at a time in the server's order, then the refused ones, on a
    // fresh world, give the same outcomes and the same world; each success moves its instances one step.
    let replay = MockServer::builder()
        .world(initial.clone())
        .start()
        .expect("the mock starts");
    let mut connection = Client::connect(replay.address());
    let (won, lost): (Vec<&Call>, Vec<&Call>) =
        calls.iter().partition(|call| call.refused.is_none());
    let ids: Vec<String> = initial.instances.iter().map(|i| i.id.clone()).collect();
    for call in won.iter().chain(&lost) {
        let previous = replay.with_world(|world| fingerprint(&world.spec().instances));
        let (refused, _) = connection.call(&call.bytes());
        assert_eq!(refused, call.refused, "replaying {call:?}");
        let current = replay.with_world(|world| fingerprint(&world.spec().instances));
        for ((id, was), is) in ids.iter().zip(&previous).zip(&current) {
            if call.refused.is_some() || !call.ids.contains(id) {
                assert_eq!(is, was, "{id} changed, but {call:?} does not change it");
            } else {
                assert_eq!(
                    is.0,
                    was.1.step(was.0),
                    "{id} did not move one step: {call:?}"
                );
            }
        }
    }
    // The same world but for the request ids stamped on instances (`LatestOperationRequestId`): the replay's
    // calls draw other ids from the sequence.
    let without_request_ids = |mut spec: WorldSpec| {
        spec.instances.update_all(|instance| {
            if let Some(operation) = &mut instance.latest_operation {
                operation.request_id = None;
            }
        });
        spec
    };
    assert_eq!(
        without_request_ids(replay.snapshot()),
        without_request_ids(after),
        "the concurrent run's world is not the one the sequential replay gives"
    );
    println!(
        "{} concurrent calls ({} successful) in {:.2} s; replayed in {:.2} s",
        calls.len(),
        won.len(),
        raced.as_secs_f64(),
        (started.elapsed() - raced).as_secs_f64()
    );
}

/// How long the whole race may take; it takes a few seconds on a loaded 2-core machine.
const RACE_DEADLINE: Duration = Duration::from_secs(120);

/// A barrier that gives up. std's `Barrier` waits forever for a client that has died (a client-side failure is a
/// panic on its thread), so the test would hang instead of failing. This one is broken by a party that leaves
/// while panicking and by a deadline; every waiter then gets the reason.
struct RaceBarrier {
    parties: usize,
    deadline: Instant,
    state: Mutex<BarrierState>,
    changed: Condvar,
}

#[derive(Default)]
struct BarrierState {
    arrived: usize,
    generation: u64,
    broken: Option<String>,
}

impl RaceBarrier {
    fn new(parties: usize, deadline: Instant) -> Self {
        Self {
            parties,
            deadline,
            state: Mutex::new(BarrierState::default()),
            changed: Condvar::new(),
        }
    }

    /// Waits for every party; errs as soon as the barrier is broken, or at the deadline.
    fn wait(&self) -> Result<(), String> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(why) = &state.broken {
            return Err(why.clone());
        }
        let generation = state.generation;
        state.arrived += 1;
        if state.arrived == self.parties {
            state.arrived = 0;
            state.generation += 1;
            self.changed.notify_all();
        }
        while state.generation == generation {
            if let Some(why) = &state.broken {
                return Err(why.clone());
            }
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let why = format!(
                    "the barrier's deadline passed with {} of {} parties arrived",
                    state.arrived, self.parties
                );
                state.broken = Some(why.clone());
                self.changed.notify_all();
                return Err(why);
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        Ok(())
    }

    /// A guard that breaks the barrier if its thread unwinds past it.
    fn leave_on_panic(&self) -> Leaving<'_> {
        Leaving(self)
    }
}

/// Breaks its barrier when dropped by a panicking thread.
struct Leaving<'a>(&'a RaceBarrier);

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let barrier = self.0;
            let mut state = barrier.state.lock().unwrap_or_else(PoisonError::into_inner);
            state
                .broken
                .get_or_insert_with(|| "another client failed".to_owned());
            barrier.changed.notify_all();
        }
    }
}

#[test]
fn a_client_that_fails_breaks_the_race_instead_of_hanging_it() {
    // The deadline is far away: only the failing party can release the waiting one in time.
    let barrier = RaceBarrier::new(2, Instant::now() + Duration::from_secs(600));
    let waited = std::thread::scope(|scope| {
        let waiter = scope.spawn(|| barrier.wait());
        let failing = scope.spawn(|| {
            let _leaving = barrier.leave_on_panic();
            panic!("a client-side failure");
        });
        assert!(failing.join().is_err());
        waiter.join().expect("the waiter returns")
    });
    assert_eq!(waited, Err("another client failed".to_owned()));
}

#[test]
fn a_race_that_never_completes_ends_at_its_deadline() {
    let barrier = RaceBarrier::new(2, Instant::now() + Duration::from_millis(50));
    assert_eq!(
        barrier.wait(),
        Err("the barrier's deadline passed with 1 of 2 parties arrived".to_owned())
    );
}

#[test]
fn a_barrier_releases_every_round_when_all_parties_arrive() {
    let barrier = RaceBarrier::new(3, Instant::now() + Duration::from_secs(60));
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                for _ in 0..100 {
                    barrier.wait().expect("every round completes");
                }
            });
        }
    });
}
