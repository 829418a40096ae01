//! The run ledger: every instance a live run creates, written down before the creation call's answer is acted
//! on, one JSON line per instance in `<ledger dir>/<run id>.jsonl`. It is what makes a terminate provably
//! terminus's own: a request that would terminate an instance is sent only if the instance is in this run's
//! ledger and its `terminus:run=<run id>` tag reads back, and `terminus sweep` destroys only instances that are
//! in some ledger terminus wrote, carry the run tag that ledger names, and are older than its window.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The tag key every created instance carries; its value is the run id.
pub const RUN_TAG: &str = "terminus:run";

/// A new run id: 16 random hex digits.
pub fn new_run_id() -> std::io::Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|error| std::io::Error::other(error.to_string()))?;
    Ok(hex::encode(bytes))
}

/// One instance a run created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Entry {
    /// The run that created it.
    pub run: String,
    /// The instance id.
    pub id: String,
    /// The region it was created in.
    pub region: String,
    /// When it was created, Unix seconds.
    pub created: i64,
}

/// A run's ledger file, appended to as instances are created.
#[derive(Debug)]
pub struct Ledger {
    run: String,
    path: PathBuf,
}

impl Ledger {
    /// The ledger of run `run` in `dir` (created if need be).
    pub fn create(dir: &Path, run: &str) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            run: run.to_owned(),
            path: dir.join(format!("{run}.jsonl")),
        })
    }

    /// The ledger file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run id.
    pub fn run(&self) -> &str {
        &self.run
    }

    /// Appends an entry and syncs it to disk before returning: a run killed right after still left it.
    pub fn record(&self, entry: &Entry) -> std::io::Result<()> {
        let mut file = crate::file::append(&self.path).map_err(std::io::Error::other)?;
        let line = serde_json::to_string(entry).map_err(std::io::Error::other)?;
        writeln!(file, "{line}")?;
        file.sync_all()
    }

    /// Whether this run created `id`.
    pub fn holds(&self, id: &str) -> std::io::Result<bool> {
        Ok(read(&self.path)?.iter().any(|entry| entry.id == id))
    }
}

/// Every entry of every ledger in `dir`, keyed by instance id; an unreadable line is skipped and named.
pub fn read_all(dir: &Path) -> (BTreeMap<String, Entry>, Vec<String>) {
    let mut entries = BTreeMap::new();
    let mut problems = Vec::new();
    let Ok(listing) = std::fs::read_dir(dir) else {
        return (entries, problems);
    };
    for file in listing.flatten() {
        let path = file.path();
        if path.extension().is_none_or(|ext| ext != "jsonl") {
            continue;
        }
        match read(&path) {
            Ok(read) => entries.extend(read.into_iter().map(|entry| (entry.id.clone(), entry))),
            // The error names the file.
            Err(error) => problems.push(error.to_string()),
        }
    }
    (entries, problems)
}

/// The largest ledger read: a hundred thousand entries, far more than any run creates. A ledger is read only if
/// it is a regular file of at most this size: a FIFO planted under its name would hang the sweep, `/dev/zero`
/// exhaust its memory.
pub const MAX_LEDGER_BYTES: u64 = 16 << 20;

fn read(path: &Path) -> std::io::Result<Vec<Entry>> {
    let text = match crate::file::read_text(path, MAX_LEDGER_BYTES) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(std::io::Error::new(error.kind(), error.to_string())),
    };
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect())
}

/// An instance as the account lists it, for the sweep's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// The instance id.
    pub id: String,
    /// The value of its `terminus:run` tag, if it has one.
    pub run_tag: Option<String>,
    /// Its creation time, Unix seconds.
    pub created: i64,
}

/// What the sweep does with one listed instance, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Destroy it (with `--yes`).
    Destroy,
    /// Leave it; the reason.
    Keep(&'static str),
}

/// The sweep's rule: destroy only an instance that carries terminus's run tag, is in a ledger terminus wrote under
/// that same run, and is older than `older_than` seconds at `now`. Never by name, never by the absence of a tag.
pub fn judge(
    listed: &Listed,
    ledgers: &BTreeMap<String, Entry>,
    now: i64,
    older_than: i64,
) -> Verdict {
    let Some(run) = &listed.run_tag else {
        return Verdict::Keep("no terminus:run tag");
    };
    let Some(entry) = ledgers.get(&listed.id) else {
        return Verdict::Keep("tagged, but in no ledger terminus wrote");
    };
    if &entry.run != run {
        return Verdict::Keep("its tag names another run than its ledger");
    }
    if now - listed.created < older_than {
        return Verdict::Keep("younger than the window (--older-than)");
    }
    Verdict::Destroy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tagged_ledgered_old_instances_are_destroyed() {
        let dir = std::env::temp_dir().join(format!("terminus-ledger-{}", new_run_id().unwrap()));
        let ledger = Ledger::create(&dir, "run1").unwrap();
        let entry = |id: &str| Entry {
            run: "run1".into(),
            id: id.into(),
            region: "ap-guangzhou".into(),
            created: 1_000,
        };
        ledger.record(&entry("ins-ours0001")).unwrap();
        ledger.record(&entry("ins-ours0002")).unwrap();
        assert!(ledger.holds("ins-ours0001").unwrap());
        assert!(!ledger.holds("ins-other001").unwrap());
        let (ledgers, problems) = read_all(&dir);
        assert!(problems.is_empty());
        let listed = |id: &str, tag: Option<&str>, created| Listed {
            id: id.into(),
            run_tag: tag.map(str::to_owned),
            created,
        };
        let now = 1_000 + 7_200;
        let window = 7_200;
        let verdict = |id: &str, tag: Option<&str>, created| {
            judge(&listed(id, tag, created), &ledgers, now, window)
        };
        assert_eq!(
            verdict("ins-ours0001", Some("run1"), 1_000),
            Verdict::Destroy
        );
        // Not tagged, tagged by another run, not in the ledger, too young: all kept.
        for (id, tag, created) in [
            ("ins-ours0002", None, 1_000),
            ("ins-ours0001", Some("run9"), 1_000),
            ("ins-stray001", Some("run1"), 1_000),
            ("ins-ours0001", Some("run1"), now - 60),
        ] {
            assert!(
                matches!(verdict(id, tag, created), Verdict::Keep(_)),
                "{id} {tag:?} created at {created}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A FIFO named like a ledger hung the sweep, and a link to `/dev/zero` exhausted its memory: both are
    /// refused, naming the file, within a deadline, and the real ledger beside them is still read.
    #[test]
    fn a_ledger_that_is_no_regular_file_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.jsonl");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.jsonl")).unwrap();
        Ledger::create(dir.path(), "run1")
            .unwrap()
            .record(&Entry {
                run: "run1".into(),
                id: "ins-ours0001".into(),
                region: "ap-guangzhou".into(),
                created: 1_000,
            })
            .unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        let path = dir.path().to_owned();
        std::thread::spawn(move || sender.send(read_all(&path)));
        let (ledgers, mut problems) = receiver
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("read_all returns");
        problems.sort();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].contains("fifo.jsonl") && problems[0].contains("not a regular file"),
            "{problems:?}"
        );
        assert!(problems[1].contains("zero.jsonl"), "{problems:?}");
        assert!(ledgers.contains_key("ins-ours0001"));
    }
}
