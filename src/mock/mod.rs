//! The stateful mock: a real HTTP/1.1 server on loopback that behaves like the providers' endpoints.
//!
//! [`MockServer`] is the front end: built with [`MockServer::builder`], it binds (port 0 by default), runs on its
//! own threads with their own tokio runtimes (so any test, sync or async, can use it), and shuts down when dropped:
//! one thread accepts, and `workers` threads serve the connections handed to them in turn.
//! Private: `server` (the HTTP wiring, hyper), `workers` (the serving threads), `control` (the `/__terminus/…`
//! API); public: [`journal`] (the last
//! requests and their answers, with a diagnosis of each rejected signature, for `GET /__terminus/requests`). All mutable state is the
//! [`World`] behind one lock ([`SharedWorld`], which also gives providers their one way to authenticate and decide
//! a request on one world); the server hands each request to its provider with that and nothing else of its own.
//!
//! # Limits
//!
//! [`Limits`]: at most [`Limits::connections`] connections at once (one over it is answered `503` and closed), and
//! at most [`Limits::body_bytes_in_flight`] bytes of request bodies being read at once (a body is reserved its
//! declared length, or its limit when chunked; a request that finds no room is answered `503`). Both are flags of
//! `terminus serve`.
//!
//! # The control API's access
//!
//! On a loopback address the control API needs no token; on any other address it needs one (given, or generated
//! at start and readable with [`MockServer::control_token`]), sent as `X-Terminus-Token`. See `control` for the
//! rest of the rules (origin form only, no tunnel, loopback `Host`, no browser-forgeable writes).

mod control;
pub use control::TOKEN_HEADER;
pub mod journal;
mod log;
mod scenario;
mod server;
mod workers;

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use tokio::sync::Semaphore;

use crate::provider::ProviderId;
use crate::signing::Secret;
use crate::world::{SharedWorld, World, WorldSpec};
use journal::Journal;

/// A running mock server.
#[derive(Debug)]
pub struct MockServer {
    address: SocketAddr,
    shared: Arc<Shared>,
    thread: ServerThread,
    tls: bool,
}

/// Builds a [`MockServer`].
#[derive(Debug)]
pub struct MockServerBuilder {
    listen: SocketAddr,
    world: WorldSpec,
    workers: usize,
    limits: Limits,
    control_token: Option<ControlToken>,
    cloud: bool,
    tripwire: bool,
    log: Option<std::path::PathBuf>,
    tls: Option<Arc<rustls::ServerConfig>>,
    providers: Vec<ProviderId>,
}

/// How much of the machine one server may take, whatever its clients send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once (tunnels included); one more is answered `503` and closed (on a TLS port, closed
    /// at once without an answer).
    pub connections: usize,
    /// Bytes of request bodies being read at once; a request that finds no room is answered `503`.
    pub body_bytes_in_flight: usize,
    /// Bytes the request journal holds at most (its entries' blocks); the oldest entries go to make room.
    pub journal_bytes: usize,
    /// CVM instances the world holds at most; a `RunInstances` past it is `LimitExceeded.InstanceQuota`.
    pub instances: usize,
    /// How long a request's body may take to arrive; a body still unread then is answered as unreadable.
    pub body_timeout: std::time::Duration,
}

impl Limits {
    /// The largest body any request may have (a control API world file, 16 MiB): `body_bytes_in_flight` is at least
    /// this, so that every request the providers accept can be read.
    pub const LARGEST_BODY: usize = control::BODY_LIMIT;
    /// The most connections the tokio semaphore behind [`Limits::connections`] can count.
    pub const MOST_CONNECTIONS: usize = 1 << 20;
    /// The longest [`Limits::body_timeout`]: a connection that sends nothing is not held for longer.
    pub const LONGEST_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);
}

impl Default for Limits {
    /// 512 connections (well under the usual 1024 file descriptors), 64 MiB of bodies (six 10 MB TC3 bodies at
    /// once), 64 MiB of journal, a million instances, 10 s for a body to arrive.
    fn default() -> Self {
        Self {
            connections: 512,
            body_bytes_in_flight: 64 * 1024 * 1024,
            journal_bytes: journal::BYTES,
            instances: crate::world::INSTANCE_CAP,
            body_timeout: std::time::Duration::from_secs(10),
        }
    }
}

/// The control API's token: a [`Secret`], so compared in constant time and never printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlToken(Secret);

impl ControlToken {
    /// A token given by the user; `None` when empty (an empty token would protect nothing).
    pub fn new(token: impl Into<String>) -> Option<Self> {
        let token = token.into();
        (!token.trim().is_empty()).then(|| Self(Secret::new(token)))
    }

    /// 32 random hex digits (128 bits from the operating system).
    pub fn generate() -> std::io::Result<Self> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|error| std::io::Error::other(error.to_string()))?;
        Ok(Self(Secret::new(hex::encode(bytes))))
    }

    /// The token, for the one place that shows it: `terminus serve` printing a generated token once.
    pub fn reveal(&self) -> &str {
        self.0.expose()
    }

    /// Whether `presented` is this token, in time independent of where they differ.
    pub(crate) fn matches(&self, presented: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        let token = self.0.expose().as_bytes();
        token.len() == presented.len() && bool::from(token.ct_eq(presented))
    }
}

impl MockServer {
    /// A builder: loopback, any free port, the default world, two worker threads.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            world: WorldSpec::default_world(),
            workers: 2,
            limits: Limits::default(),
            control_token: None,
            cloud: false,
            tripwire: false,
            log: None,
            tls: None,
            providers: ProviderId::ALL.to_vec(),
        }
    }

    /// The control API's token: `None` on loopback unless one was given.
    pub fn control_token(&self) -> Option<&ControlToken> {
        self.shared.control_token.as_ref()
    }

    /// The limits it serves under.
    pub fn limits(&self) -> Limits {
        self.shared.limits
    }

    /// `http://127.0.0.1:PORT`, or `https://…` when it serves TLS.
    pub fn uri(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.address)
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// How many requests the tripwire refused ([`MockServerBuilder::tripwire`]).
    pub fn trips(&self) -> u64 {
        self.shared.trips.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The world's state, as a spec that seeds an identical world.
    pub fn snapshot(&self) -> WorldSpec {
        self.shared.world().snapshot()
    }

    /// Runs `f` on the world, under its lock.
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut self.shared.world())
    }

    /// Blocks until the server stops (it stops only with the process: `terminus serve`).
    pub fn wait(self) {
        self.thread.wait();
    }
}

/// The thread a server runs on, with the channel that stops it: dropping it stops the server and waits for the
/// thread to end (the mock server, the recorder, the playback).
#[derive(Debug)]
pub(crate) struct ServerThread {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ServerThread {
    pub(crate) fn new(shutdown: tokio::sync::oneshot::Sender<()>, thread: JoinHandle<()>) -> Self {
        ServerThread {
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// Blocks until the thread ends on its own, the stop channel still open.
    pub(crate) fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl MockServerBuilder {
    /// The address to listen on (default `127.0.0.1:0`).
    pub fn listen(mut self, address: SocketAddr) -> Self {
        self.listen = address;
        self
    }

    /// The world to start with (default: [`WorldSpec::default_world`]).
    pub fn world(mut self, world: WorldSpec) -> Self {
        self.world = world;
        self
    }

    /// Threads that serve connections, each a single-threaded runtime (default 2).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// The limits (default: [`Limits::default`]); `connections` is at least 1 and at most
    /// [`Limits::MOST_CONNECTIONS`], `body_bytes_in_flight` at least [`Limits::LARGEST_BODY`] (and at most what a
    /// semaphore counts), `body_timeout` at least 1 ms and at most [`Limits::LONGEST_BODY_TIMEOUT`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = Limits {
            connections: limits.connections.clamp(1, Limits::MOST_CONNECTIONS),
            body_bytes_in_flight: limits
                .body_bytes_in_flight
                .clamp(Limits::LARGEST_BODY, Semaphore::MAX_PERMITS),
            journal_bytes: limits.journal_bytes,
            instances: limits.instances.max(1),
            body_timeout: limits.body_timeout.clamp(
                std::time::Duration::from_millis(1),
                Limits::LONGEST_BODY_TIMEOUT,
            ),
        };
        self
    }

    /// The token the control API requires as `X-Terminus-Token` (default: none on a loopback address, a generated
    /// one on any other).
    pub fn control_token(mut self, token: Option<ControlToken>) -> Self {
        self.control_token = token;
        self
    }

    /// The cloud-like profile (`terminus serve --cloud`), the stand-in that live mode is proven against: no
    /// control API (its paths are provider paths like any other), the machine's clock whatever the world says,
    /// and request ids from a seed drawn from the operating system, so that no two runs share them.
    pub fn cloud(mut self, cloud: bool) -> Self {
        self.cloud = cloud;
        self
    }

    /// The tripwire (`serve --cloud --tripwire`): a request that could change state (any action but a read)
    /// and names an instance of the world that exists is answered with an error instead of being served,
    /// logged with `"tripped": true` and counted ([`MockServer::trips`]). Live mode's safety tests fail on any trip.
    pub fn tripwire(mut self, tripwire: bool) -> Self {
        self.tripwire = tripwire;
        self
    }

    /// Append one JSON line per provider request to this file (see `log`): what reached the server.
    pub fn log(mut self, path: Option<std::path::PathBuf>) -> Self {
        self.log = path;
        self
    }

    /// Serves HTTPS with this configuration (see [`crate::tls::Authority::server_config`]) instead of plain
    /// HTTP; the handshake is bounded by the same timeout as a request's head.
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Serves one more provider besides [`ProviderId::ALL`] (a test's, an embedder's), for the requests its
    /// [`Provider::serves`](crate::provider::Provider::serves) claims.
    pub fn provider(mut self, provider: ProviderId) -> Self {
        self.providers.push(provider);
        self
    }

    /// Binds and starts serving.
    pub fn start(mut self) -> std::io::Result<MockServer> {
        if self.cloud {
            let mut seed = [0u8; 8];
            getrandom::fill(&mut seed).map_err(|error| std::io::Error::other(error.to_string()))?;
            self.world.seed = u64::from_le_bytes(seed);
            self.world.clock = crate::world::clock::ClockSpec::Real;
        }
        let log = match self.log.as_deref() {
            Some(path) => Some(log::RequestLog::open(path).map_err(|error| {
                std::io::Error::new(error.kind(), format!("the request log: {error}"))
            })?),
            None => None,
        };
        let listener = TcpListener::bind(self.listen).map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!("cannot listen on {}: {error}", self.listen),
            )
        })?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let control_token = match self.control_token {
            Some(token) => Some(token),
            None if address.ip().is_loopback() => None,
            None => Some(ControlToken::generate()?),
        };
        let mut shared = Shared::new(
            World::new(self.world),
            self.limits,
            control_token,
            self.providers,
        );
        shared.cloud = self.cloud;
        shared.tripwire = self.tripwire;
        shared.log = log;
        let shared = Arc::new(shared);
        let workers = workers::Workers::start(self.workers)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (shutdown, stop) = tokio::sync::oneshot::channel();
        let serving = Arc::clone(&shared);
        let tls = self.tls.clone();
        let thread = std::thread::Builder::new()
            .name("terminus-mock".into())
            .spawn(move || {
                let handing_to = &workers;
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => {
                            server::serve(listener, serving, tls, handing_to, stop).await
                        }
                        Err(error) => report_listener_failure(&error),
                    }
                });
                // The workers stop (their connections end) once nothing more is accepted.
                drop(workers);
            })?;
        Ok(MockServer {
            address,
            shared,
            thread: ServerThread::new(shutdown, thread),
            tls: self.tls.is_some(),
        })
    }
}

/// Registering a listener with the runtime fails only when the process is out of resources: say so and stop.
#[allow(clippy::print_stderr)]
fn report_listener_failure(error: &std::io::Error) {
    eprintln!("terminus mock: cannot register the listener: {error}");
}

/// Everything requests share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) world: SharedWorld,
    limits: Limits,
    /// One permit per connection being served.
    connections: Arc<Semaphore>,
    /// One permit per byte of request body being read.
    body_bytes: Arc<Semaphore>,
    /// Required of every control call when set.
    control_token: Option<ControlToken>,
    /// The cloud-like profile: no control API.
    cloud: bool,
    /// Whether a state-changing request naming an existing instance is refused ([`MockServerBuilder::tripwire`]).
    tripwire: bool,
    /// How many requests the tripwire refused.
    trips: std::sync::atomic::AtomicU64,
    /// Where each provider request is logged, if anywhere.
    log: Option<log::RequestLog>,
    /// The providers served; the first answers what no other one serves.
    pub(crate) providers: Vec<ProviderId>,
    /// The world the server started with, for `POST /__terminus/reset` (keys included: it never leaves the
    /// process).
    pub(crate) initial: InitialWorld,
    /// The last requests and their answers (`GET /__terminus/requests`).
    journal: Mutex<Journal>,
    /// The scenario a client is running, and the answers since it was loaded.
    scenario: scenario::Tracker,
}

/// The world a server started with, for `POST /__terminus/reset`: its instances kept as JSON text (a few dozen
/// bytes each, where a second copy of a million-instance world would cost as much again as the world), everything
/// else as it was.
#[derive(Debug)]
pub struct InitialWorld {
    /// The world without its instances.
    rest: WorldSpec,
    /// Its CVM instances, as `serde_json` writes them.
    instances: Vec<u8>,
    /// Its Bare Metal instances, as `serde_json` writes them.
    bmc_instances: Vec<u8>,
}

impl InitialWorld {
    /// Keeps `spec`.
    pub fn of(spec: &WorldSpec) -> Self {
        // Every field but the instance lists, named (a new field must be kept here too).
        let rest = WorldSpec {
            region: spec.region.clone(),
            clock: spec.clock,
            rate_limit: spec.rate_limit.clone(),
            seed: spec.seed,
            accounts: spec.accounts.clone(),
            instances: Default::default(),
            bmc_instances: Default::default(),
            faults: spec.faults.clone(),
            timings: spec.timings,
            stubs: spec.stubs.clone(),
        };
        Self {
            rest,
            instances: serde_json::to_vec(&spec.instances).unwrap_or_default(),
            bmc_instances: serde_json::to_vec(&spec.bmc_instances).unwrap_or_default(),
        }
    }

    /// The world as it was kept.
    pub fn spec(&self) -> WorldSpec {
        let mut spec = self.rest.clone();
        // Written by `of` from lists that were valid: read back, they are the same.
        spec.instances = serde_json::from_slice(&self.instances).unwrap_or_default();
        spec.bmc_instances = serde_json::from_slice(&self.bmc_instances).unwrap_or_default();
        spec
    }
}

impl Shared {
    fn new(
        mut world: World,
        limits: Limits,
        control_token: Option<ControlToken>,
        providers: Vec<ProviderId>,
    ) -> Self {
        world.set_instance_cap(limits.instances);
        Self {
            initial: InitialWorld::of(world.spec()),
            world: SharedWorld::new(world),
            limits,
            connections: Arc::new(Semaphore::new(limits.connections)),
            body_bytes: Arc::new(Semaphore::new(limits.body_bytes_in_flight)),
            control_token,
            cloud: false,
            tripwire: false,
            trips: std::sync::atomic::AtomicU64::new(0),
            log: None,
            providers,
            journal: Mutex::new(Journal::with_limits(
                journal::CAPACITY,
                limits.journal_bytes,
            )),
            scenario: scenario::Tracker::default(),
        }
    }

    /// The journal, locked (never across the world's lock: entries are built first).
    pub(crate) fn journal(&self) -> MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The world, locked.
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock()
    }
}
