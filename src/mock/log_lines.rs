//! Where `terminus serve` writes its log lines: standard error, with the per-request lines gathered while other
//! requests are being answered and written when the server has none left in flight.
//!
//! A line per request written to stderr as it is logged costs a `write` per request, and handing it to a writer
//! thread costs a wake-up of that thread per request; under load either is about a fifth of what a request costs.
//! Gathering them keeps the guarantee a client (or a test) needs: when the last request in flight has been
//! answered, every request line before it is on stderr. Lines of any other target (start-up, warnings) are
//! written at once, after whatever was gathered, so the order is kept. A line still gathered because a request
//! stays in flight (a slow body, an injected latency) is written by a backstop thread within [`BACKSTOP`].

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, Once, PoisonError};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// The target of the per-request lines (`mock::server`).
pub(crate) const REQUEST_TARGET: &str = "terminus::request";
/// The most a gathered line waits while some request stays in flight.
const BACKSTOP: Duration = Duration::from_millis(100);
/// Gathered bytes that are written whatever is in flight.
const MOST_GATHERED: usize = 64 * 1024;

/// Lines not yet on stderr.
static GATHERED: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// Provider requests being answered (see [`InFlight`]).
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static BACKSTOP_STARTED: Once = Once::new();

fn gathered() -> MutexGuard<'static, Vec<u8>> {
    GATHERED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes what was gathered to stderr. A failed write is dropped: there is nowhere else to say so.
fn write_out(lines: &mut Vec<u8>) {
    if !lines.is_empty() {
        let _ = std::io::stderr().lock().write_all(lines);
        lines.clear();
    }
}

/// Writes whatever is gathered now.
pub fn flush() {
    write_out(&mut gathered());
}

/// The `tracing_subscriber` writer of `terminus serve` ([`MakeWriter`]): per-request lines gathered, the others
/// written at once.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogLines;

impl LogLines {
    /// The writer, with its backstop thread started.
    pub fn start() -> Self {
        BACKSTOP_STARTED.call_once(|| {
            // Detached: it only ever writes what is gathered, and the process's end ends it.
            let _ = std::thread::Builder::new()
                .name("terminus-log".into())
                .spawn(|| {
                    loop {
                        std::thread::sleep(BACKSTOP);
                        flush();
                    }
                });
        });
        Self
    }
}

/// One event's line, written when the event is.
#[derive(Debug)]
pub struct Line {
    gather: bool,
}

impl Write for Line {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut lines = gathered();
        lines.extend_from_slice(bytes);
        if !self.gather || IN_FLIGHT.load(Ordering::Acquire) == 0 || lines.len() > MOST_GATHERED {
            write_out(&mut lines);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogLines {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line { gather: false }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Line {
        Line {
            gather: meta.target() == REQUEST_TARGET,
        }
    }
}

/// A provider request being answered: while any is, request lines are gathered; the last one to end writes them.
/// Dropped when the request ends, however it ends (a client that goes away mid-body included).
pub(crate) struct InFlight(());

impl InFlight {
    pub(crate) fn begin() -> Self {
        IN_FLIGHT.fetch_add(1, Ordering::AcqRel);
        Self(())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if IN_FLIGHT.fetch_sub(1, Ordering::AcqRel) == 1 {
            flush();
        }
    }
}
