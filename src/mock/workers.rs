//! The threads that serve connections: one single-threaded tokio runtime each, and every connection served start to
//! end on the worker it was handed to, in turn.
//!
//! A multi-threaded runtime moves tasks between its threads and wakes parked threads to do so; for a mock answering
//! small requests over keep-alive connections that cost more than it saved. Served on one thread, a connection's
//! requests need no wake-up from another thread. (Measured under `../shared/bench/ceiling.sh`'s load: README,
//! "Speed".)

use std::thread::JoinHandle;

use tokio::runtime::Handle;

/// The worker threads, stopped and joined when dropped.
pub(super) struct Workers {
    handles: Vec<Handle>,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
    next: std::sync::atomic::AtomicUsize,
}

impl Workers {
    /// Starts `count` workers (at least one).
    pub(super) fn start(count: usize) -> std::io::Result<Workers> {
        Self::start_all(count).map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!("cannot start {count} worker threads: {error}"),
            )
        })
    }

    fn start_all(count: usize) -> std::io::Result<Workers> {
        let mut workers = Workers {
            handles: Vec::new(),
            stops: Vec::new(),
            threads: Vec::new(),
            next: std::sync::atomic::AtomicUsize::new(0),
        };
        for _ in 0..count.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            workers.handles.push(runtime.handle().clone());
            workers.stops.push(stop);
            // On an error here the workers started so far are stopped by `workers`' drop.
            workers.threads.push(
                std::thread::Builder::new()
                    .name("terminus-mock".into())
                    .spawn(move || {
                        runtime.block_on(async {
                            let _ = stopped.await;
                        });
                    })?,
            );
        }
        Ok(workers)
    }

    /// The worker the next connection goes to.
    pub(super) fn next(&self) -> &Handle {
        let at = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        &self.handles[at % self.handles.len()]
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
