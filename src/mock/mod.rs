//! The stateful mock: a real HTTP/1.1 server on loopback that behaves like the providers' endpoints.
//!
//! [`MockServer`] is the front end: built with [`MockServer::builder`], it binds (port 0 by default), runs on its
//! own thread with its own tokio runtime (so any test, sync or async, can use it), and shuts down when dropped.
//! Private: `server` (the HTTP wiring, hyper), `control` (the `/__terminus/…` API). All mutable state is the
//! [`World`] behind one mutex in `Shared`; providers lock it briefly and never across signature verification.

mod control;
pub mod fault;
mod server;

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use crate::world::{World, WorldSpec};

/// A running mock server.
#[derive(Debug)]
pub struct MockServer {
    address: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Builds a [`MockServer`].
#[derive(Debug)]
pub struct MockServerBuilder {
    listen: SocketAddr,
    world: WorldSpec,
    workers: usize,
}

impl MockServer {
    /// A builder: loopback, any free port, the default world, two worker threads.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            world: WorldSpec::default_world(),
            workers: 2,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn uri(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
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
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for MockServer {
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

    /// Worker threads of the server's runtime (default 2).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// Binds and starts serving.
    pub fn start(self) -> std::io::Result<MockServer> {
        let listener = TcpListener::bind(self.listen)?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            world: Mutex::new(World::new(self.world)),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(self.workers)
            .thread_name("terminus-mock")
            .enable_all()
            .build()?;
        let (shutdown, stop) = tokio::sync::oneshot::channel();
        let serving = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("terminus-mock".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => server::serve(listener, serving, stop).await,
                        Err(error) => report_listener_failure(&error),
                    }
                });
            })?;
        Ok(MockServer {
            address,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
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
    world: Mutex<World>,
}

impl Shared {
    /// The world, locked. A panic elsewhere never leaves it unusable: the state is kept as it was.
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An answer: a status, its headers in wire order, and a body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    /// Every header, in the order it is sent (the server adds none but the ones HTTP requires and these lack).
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// A JSON answer: `Content-Type: application/json` exactly (the Python SDK ignores errors under any other
    /// Content-Type) and its `Content-Length`.
    pub(crate) fn json(status: u16, body: Vec<u8>) -> Self {
        Self {
            status,
            headers: vec![
                ("Content-Type", "application/json".to_owned()),
                ("Content-Length", body.len().to_string()),
            ],
            body,
        }
    }

    /// The connection closes after this answer: a `Connection` header the reply carries says `close`.
    pub(crate) fn close(&mut self) {
        for (name, value) in &mut self.headers {
            if name.eq_ignore_ascii_case("connection") {
                *value = "close".to_owned();
            }
        }
    }
}
