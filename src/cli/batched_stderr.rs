//! Log lines on standard error, written in batches by a thread of their own.
//!
//! `terminus serve` logs a line per request, tens of thousands a second under load. Written as they come, each line
//! is a `write` to stderr; handed to a writer thread one by one (tracing-appender), each is an allocation and,
//! whenever the thread has caught up, a wake-up and a write. Both cost a request more than formatting its line.
//! Here a line is appended to one shared buffer. The first line into an empty buffer wakes the writer thread, which
//! gathers for [`GATHER`] and writes everything in one call: about one wake-up and one write per [`GATHER`],
//! whatever the rate. No line is dropped: a buffer that holds [`MOST_BUFFERED`] bytes makes the next line wait
//! until the writer has taken it, which also bounds the memory. Dropping the [`Flusher`] writes what is left.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the writer gathers lines after the first one: the most a line waits before it is written.
const GATHER: Duration = Duration::from_millis(10);
/// The bytes the buffer holds before a new line waits for the writer.
const MOST_BUFFERED: usize = 1 << 20;
/// The capacity a batch keeps between writes (a burst's larger buffer is given back).
const BATCH_KEPT: usize = 256 * 1024;

/// Where `tracing` writes its lines ([`tracing_subscriber::fmt::MakeWriter`]).
#[derive(Clone, Debug)]
pub(super) struct BatchedStderr {
    shared: Arc<Shared>,
}

/// Writes the lines still buffered and ends the writer thread when dropped.
#[derive(Debug)]
pub(super) struct Flusher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    buffer: Mutex<Buffer>,
    /// The writer waits on this for a first line, a full buffer or the end.
    to_writer: Condvar,
    /// Lines wait on this while the buffer is full.
    to_lines: Condvar,
}

#[derive(Debug, Default)]
struct Buffer {
    lines: Vec<u8>,
    ending: bool,
    /// No writer thread: lines go straight to stderr.
    direct: bool,
}

impl Shared {
    fn buffer(&self) -> MutexGuard<'_, Buffer> {
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl BatchedStderr {
    /// Starts the writer thread, writing to stderr. Without one (the OS refused it), each line is written to
    /// stderr as it comes.
    pub(super) fn start() -> (BatchedStderr, Flusher) {
        Self::start_writing_to(std::io::stderr())
    }

    fn start_writing_to(mut out: impl Write + Send + 'static) -> (BatchedStderr, Flusher) {
        let shared = Arc::new(Shared::default());
        let thread = std::thread::Builder::new()
            .name("terminus-log".to_owned())
            .spawn({
                let shared = Arc::clone(&shared);
                move || write_batches(&shared, &mut out)
            })
            .ok();
        shared.buffer().direct = thread.is_none();
        (
            BatchedStderr {
                shared: Arc::clone(&shared),
            },
            Flusher { shared, thread },
        )
    }
}

/// The writer thread: waits for a first line, gathers, writes, until the end, then writes what is left.
fn write_batches(shared: &Shared, out: &mut impl Write) {
    let mut batch = Vec::new();
    loop {
        {
            let mut buffer = shared.buffer();
            while buffer.lines.is_empty() && !buffer.ending {
                buffer = shared
                    .to_writer
                    .wait(buffer)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if buffer.lines.is_empty() {
                return;
            }
            buffer = shared
                .to_writer
                .wait_timeout_while(buffer, GATHER, |buffer| {
                    buffer.lines.len() < MOST_BUFFERED && !buffer.ending
                })
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            std::mem::swap(&mut batch, &mut buffer.lines);
            shared.to_lines.notify_all();
        }
        // Nowhere to report a failed write to stderr: the lines are given up, the server goes on.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        batch.shrink_to(BATCH_KEPT);
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.shared.buffer().ending = true;
        self.shared.to_writer.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One line being written.
#[derive(Debug)]
pub(super) struct Line<'a> {
    shared: &'a Shared,
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut buffer = self.shared.buffer();
        if buffer.direct {
            return std::io::stderr().write(bytes);
        }
        while buffer.lines.len() >= MOST_BUFFERED && !buffer.ending {
            self.shared.to_writer.notify_all();
            buffer = self
                .shared
                .to_lines
                .wait(buffer)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let first = buffer.lines.is_empty();
        buffer.lines.extend_from_slice(bytes);
        drop(buffer);
        if first {
            self.shared.to_writer.notify_all();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchedStderr {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            shared: &self.shared,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that records each write, shared with the test; its first write waits at `gate` when there is one.
    #[derive(Clone, Default)]
    struct Recorded {
        writes: Arc<Mutex<Vec<Vec<u8>>>>,
        gate: Option<Arc<std::sync::Barrier>>,
    }

    impl Write for Recorded {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if let Some(gate) = self.gate.take() {
                gate.wait();
            }
            self.writes.lock().unwrap().push(bytes.to_vec());
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn write_line(lines: &BatchedStderr, line: &str) {
        tracing_subscriber::fmt::MakeWriter::make_writer(lines)
            .write_all(line.as_bytes())
            .unwrap();
    }

    #[test]
    fn lines_from_many_threads_are_all_written_whole_and_in_each_threads_order() {
        let out = Recorded::default();
        let (lines, flusher) = BatchedStderr::start_writing_to(out.clone());
        // Enough bytes to fill the buffer several times over, so lines also wait for the writer.
        let threads: Vec<_> = (0..4)
            .map(|thread| {
                let lines = lines.clone();
                std::thread::spawn(move || {
                    for n in 0..20_000 {
                        write_line(
                            &lines,
                            &format!("thread {thread} line {n:05} {}\n", "x".repeat(40)),
                        );
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(flusher);
        let text = String::from_utf8(out.writes.lock().unwrap().concat()).unwrap();
        let mut next = [0_usize; 4];
        for line in text.lines() {
            let mut words = line.split(' ');
            assert_eq!(words.next(), Some("thread"), "{line}");
            let thread: usize = words.next().unwrap().parse().unwrap();
            assert_eq!(words.next(), Some("line"), "{line}");
            let n: usize = words.next().unwrap().parse().unwrap();
            assert_eq!(n, next[thread], "{line}");
            next[thread] += 1;
        }
        assert_eq!(next, [20_000; 4]);
    }

    #[test]
    fn lines_that_come_while_a_batch_is_written_go_out_in_one_write() {
        let gate = Arc::new(std::sync::Barrier::new(2));
        let out = Recorded {
            gate: Some(Arc::clone(&gate)),
            ..Recorded::default()
        };
        let (lines, flusher) = BatchedStderr::start_writing_to(out.clone());
        for n in 0..1000 {
            write_line(&lines, &format!("line {n}\n"));
        }
        // The first batch is held at the gate until every line has been given: the rest is one batch.
        gate.wait();
        drop(flusher);
        let writes = out.writes.lock().unwrap();
        assert!(writes.len() <= 2, "{} writes for 1,000 lines", writes.len());
        let text = String::from_utf8(writes.concat()).unwrap();
        assert_eq!(text.lines().count(), 1000);
    }
}
