//! What a live run is doing, told as it happens, and the operator's stop.
//!
//! A case of the `--provision` tier can wait minutes for an instance; a run that prints nothing meanwhile looks
//! hung. Each wait says, once per poll, the case's number out of the total, its id, what it waits for, how long
//! it has waited, and which instances this run has alive. The same record of alive instances is what a stopped
//! run prints for the operator: the ledger, the ids left, and the `terminus sweep` command that removes them.
//!
//! The stop ([`Progress::stop`]) is asked for by the first Ctrl-C or SIGTERM: no new case starts, a wait in
//! progress ends, and the run tears down what it created. Lines go through the `say` function the command line
//! gives (its standard output), so the library prints nothing of its own.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A live run's progress and stop.
#[derive(Debug)]
pub struct Progress {
    say: fn(&str),
    total: usize,
    state: Mutex<State>,
    stop: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    number: usize,
    case: String,
    started: Option<Instant>,
    alive: BTreeSet<String>,
    ledger: Option<PathBuf>,
    ledger_dir: Option<PathBuf>,
    /// The sweep's flags that name a non-production endpoint (`--endpoint URL --ca-cert FILE`).
    sweep_target: String,
}

impl Progress {
    /// A run of `total` cases, telling its lines to `say`.
    pub fn new(total: usize, say: fn(&str)) -> Self {
        Self {
            say,
            total,
            state: Mutex::new(State::default()),
            stop: AtomicBool::new(false),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Case `number` (from 1), `id`, starts.
    pub fn begin(&self, number: usize, id: &str) {
        let mut state = self.state();
        state.number = number;
        state.case = id.to_owned();
        state.started = Some(Instant::now());
    }

    /// The run's ledger, once written, and the directory `terminus sweep` reads it from.
    pub fn ledger(&self, path: PathBuf, dir: PathBuf) {
        let mut state = self.state();
        state.ledger = Some(path);
        state.ledger_dir = Some(dir);
    }

    /// The endpoint (and CA) a sweep of this run must be pointed at, when not the production host.
    pub fn sweep_target(&self, endpoint: Option<&str>, ca_cert: Option<&std::path::Path>) {
        let mut flags = String::new();
        if let Some(endpoint) = endpoint {
            flags.push_str(&format!(" --endpoint {}", shell_word(endpoint)));
        }
        if let Some(ca) = ca_cert {
            flags.push_str(&format!(
                " --ca-cert {}",
                shell_word(&ca.display().to_string())
            ));
        }
        self.state().sweep_target = flags;
    }

    /// An instance this run created.
    pub fn created(&self, id: &str) {
        self.state().alive.insert(id.to_owned());
    }

    /// An instance this run created is gone.
    pub fn gone(&self, id: &str) {
        self.state().alive.remove(id);
    }

    /// One poll of a wait: says what for and for how long.
    pub fn waiting(&self, what: &str, waited: Duration) {
        let line = {
            let state = self.state();
            let elapsed = state.started.map_or(Duration::ZERO, |at| at.elapsed());
            format!(
                "[{}/{}] {}: waiting for {what} ({} s so far; case {} s; alive from this run: {})",
                state.number,
                self.total,
                state.case,
                waited.as_secs(),
                elapsed.as_secs(),
                alive_list(&state.alive)
            )
        };
        (self.say)(&line);
    }

    /// The teardown of `id` starts.
    pub fn tearing_down(&self, id: &str) {
        let line = {
            let state = self.state();
            format!(
                "[{}/{}] {}: tearing down {id} (terminate, then wait until gone; alive from this run: {})",
                state.number,
                self.total,
                state.case,
                alive_list(&state.alive)
            )
        };
        (self.say)(&line);
    }

    /// Says a line as it is.
    pub fn say(&self, line: &str) {
        (self.say)(line);
    }

    /// Asks the run to stop: no new case, waits end, teardown follows.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// What the operator needs when the run ends early or leaves instances: the ledger, the ids still alive and
    /// the command that removes them; `None` when the run created nothing that is left.
    pub fn left_behind(&self) -> Option<String> {
        let state = self.state();
        if state.alive.is_empty() {
            return None;
        }
        let ledger = state.ledger.as_ref().map_or_else(
            || "(none written)".to_owned(),
            |path| path.display().to_string(),
        );
        let dir = state.ledger_dir.as_ref().map_or_else(
            || ".terminus/ledger".to_owned(),
            |dir| dir.display().to_string(),
        );
        Some(format!(
            "left alive by this run: {}\nledger: {ledger}\nremove them with: terminus sweep{} --ledger-dir {} \
             --older-than 0s --yes",
            alive_list(&state.alive),
            state.sweep_target,
            shell_word(&dir)
        ))
    }
}

fn alive_list(alive: &BTreeSet<String>) -> String {
    if alive.is_empty() {
        "none".to_owned()
    } else {
        format!(
            "{} ({})",
            alive.len(),
            alive.iter().cloned().collect::<Vec<_>>().join(", ")
        )
    }
}

/// A path as one shell word: as is when it holds only safe characters, single-quoted otherwise.
fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:,@".contains(c))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_command_is_one_shell_word_per_argument() {
        assert_eq!(shell_word(".terminus/ledger"), ".terminus/ledger");
        assert_eq!(shell_word("my dir/it's"), "'my dir/it'\\''s'");
    }
}
