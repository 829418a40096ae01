//! The request log of `terminus serve --log FILE`: one JSON object per provider request, appended as it is
//! answered, for tests and users that must know what reached the server rather than what a client meant to send.
//!
//! Each line says which instances the request *named while they existed*: every instance of the world that was
//! not yet destroyed when the request arrived and whose id is a word of the request's target or body (a maximal
//! run of ASCII letters, digits, `-` and `_`: how every provider's wire delimits an id, in a query, a form, a
//! flattened parameter or a JSON string). That is read from the bytes, not from a provider's parser, so a request
//! that a parser would misread (a tampered body, an id in an unexpected field) is still counted: the live-mode
//! safety tests read this field.
//!
//! The words are looked up in the world's id index, a few hundred at a time under the world's lock, so the work
//! is proportional to the request's length and no other client waits on a large request for more than one
//! batch (issue 21, point 5: a scan of every instance for every request held the lock for seconds).

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use serde_json::json;

use crate::message::Reply;
use crate::message::Request;
use crate::provider::ProviderId;
use crate::world::bmc::BmcStatus;
use crate::world::{InstanceState, World};

/// An open request log.
#[derive(Debug)]
pub(crate) struct RequestLog {
    file: Mutex<std::fs::File>,
}

impl RequestLog {
    /// Opens (creating, appending to) the log at `path`; a link or anything but a regular file there is refused.
    pub(crate) fn open(path: &Path) -> Result<Self, crate::file::FileError> {
        let file = crate::file::append(path)?;
        Ok(Self {
            file: Mutex::new(file),
        })
    }

    /// Appends one request's line. A failed write is reported on standard error once per failure and does not
    /// stop the server: the answer has been decided already.
    pub(crate) fn write(&self, entry: &Entry) {
        let line = json!({
            "at": entry.at,
            "provider": entry.provider.name(),
            "action": entry.action,
            "status": entry.status,
            "code": entry.code,
            "names-existing": entry.names_existing,
        });
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(error) = writeln!(file, "{line}") {
            report_log_failure(&error);
        }
    }
}

#[allow(clippy::print_stderr)]
fn report_log_failure(error: &std::io::Error) {
    eprintln!("terminus serve: cannot write the request log: {error}");
}

/// What the log says about one request.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) at: i64,
    pub(crate) provider: ProviderId,
    pub(crate) action: Option<String>,
    pub(crate) status: u16,
    pub(crate) code: Option<String>,
    pub(crate) names_existing: Vec<String>,
}

/// Words looked up per hold of the world's lock: a few tens of microseconds.
const WORDS_PER_LOCK: usize = 256;

/// The words of `bytes` that could be ids: maximal runs of ASCII letters, digits, `-` and `_`.
fn words(bytes: &[u8]) -> impl Iterator<Item = &str> {
    bytes
        .split(|&byte| !(byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'))
        .filter(|word| !word.is_empty())
        // Only ASCII is kept in a word, so this never fails.
        .filter_map(|word| std::str::from_utf8(word).ok())
}

/// The ids of the world's instances, not yet destroyed, that are words of the request's target or body, in the
/// world's order (CVM instances first). `lock` locks the world; it is taken once per [`WORDS_PER_LOCK`] words.
pub(crate) fn named_existing<'w, G: std::ops::Deref<Target = World> + 'w>(
    lock: impl Fn() -> G,
    request: &Request,
) -> Vec<String> {
    let mut words = words(request.target.as_bytes()).chain(words(&request.body));
    // (CVM before Bare Metal, position in its store, id)
    let mut found: Vec<(bool, usize, String)> = Vec::new();
    loop {
        let batch: Vec<&str> = words.by_ref().take(WORDS_PER_LOCK).collect();
        if batch.is_empty() {
            break;
        }
        let world = lock();
        let spec = world.spec();
        for word in batch {
            if let Some(at) = spec.instances.position(word)
                && spec.instances[at].state != InstanceState::Terminated
            {
                found.push((false, at, word.to_owned()));
            }
            if let Some(at) = spec.bmc_instances.position(word)
                && spec.bmc_instances[at].status != BmcStatus::Released
            {
                found.push((true, at, word.to_owned()));
            }
        }
        drop(world);
        // std's mutex is not fair: a waiter woken by the unlock would find it taken again by the next batch.
        std::thread::yield_now();
    }
    found.sort_unstable();
    found.dedup();
    found.into_iter().map(|(_, _, id)| id).collect()
}

/// The error code of an answer in the provider's envelope, if it is one.
pub(crate) fn code_of(provider: ProviderId, reply: &Reply) -> Option<String> {
    provider.read_answer(&reply.body).ok()?.err()
}
