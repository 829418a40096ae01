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
            "tripped": entry.tripped,
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
    /// Whether the tripwire refused it.
    pub(crate) tripped: bool,
}

/// The code the tripwire answers with.
pub(crate) const TRIPWIRE_CODE: &str = "FailedOperation.TerminusTripwire";

/// Whether an action only reads, for the tripwire: the mock changes state only in the actions it implements, and
/// none of its `Describe…`, `Get…` or `Inquiry…` ones does. No action at all counts as not a read.
pub(crate) fn is_read(action: Option<&str>) -> bool {
    action.is_some_and(|action| {
        ["Describe", "Get", "Inquiry"]
            .iter()
            .any(|prefix| action.starts_with(prefix))
    })
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

/// The ids of the world's instances, not yet destroyed, that are words of the request's target or body in any
/// spelling a server could decode there (percent-decoded up to three times, JSON escapes read, ASCII case
/// ignored), and that the request could reach: a CVM instance in a region the request names anywhere (an
/// `X-TC-Region` header, a `Region` parameter in the query, form or JSON body, any case, legacy short names
/// mapped) or in any region when it names none; a bare-metal instance always (Zenlayer's API is account-wide).
///
/// The spellings are decoded outside the world's lock, and their words looked up in the world's id index
/// [`WORDS_PER_LOCK`] at a time (`lock` locks the world), so a large request never holds the world for long and
/// the work grows with the request, not with the world. In the world's order, CVM instances first.
pub(crate) fn named_existing<'w, G: std::ops::Deref<Target = World> + 'w>(
    lock: impl Fn() -> G,
    request: &Request,
) -> Vec<String> {
    let texts = spellings(request);
    let regions = regions_named(request);
    let mut words = texts.iter().flat_map(|text| words(text.as_bytes()));
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
                && (regions.is_empty()
                    || regions
                        .iter()
                        .any(|region| region == world.region_of(&spec.instances[at])))
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

/// Every region the request names, wherever a gateway could read one, as the region it is served in.
fn regions_named(request: &Request) -> Vec<String> {
    let mut values: Vec<String> = request
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("x-tc-region"))
        .map(|(_, value)| value.clone())
        .collect();
    let body = String::from_utf8_lossy(&request.body).into_owned();
    let query = request
        .target
        .split_once('?')
        .map_or("", |(_, query)| query);
    for text in [query, body.as_str()] {
        values.extend(
            form_urlencoded::parse(text.as_bytes())
                .filter(|(name, _)| name.trim().eq_ignore_ascii_case("region"))
                .map(|(_, value)| value.into_owned()),
        );
    }
    if let Ok(serde_json::Value::Object(top)) = serde_json::from_str(&body) {
        values.extend(
            top.iter()
                .filter(|(name, _)| name.trim().eq_ignore_ascii_case("region"))
                .filter_map(|(_, value)| value.as_str().map(str::to_owned)),
        );
    }
    let mut regions = Vec::new();
    for value in values {
        let mut current = value;
        for _ in 0..3 {
            let region = crate::provider::tencent_legacy::wire::region_name(
                &current.trim().to_ascii_lowercase(),
            )
            .to_owned();
            // An empty one serves nowhere: it does not narrow the regions.
            if !region.is_empty() && !regions.contains(&region) {
                regions.push(region);
            }
            current = percent_decoded(&current);
        }
    }
    regions
}

/// The request's target and body, and what a server could decode them to, lower-cased.
fn spellings(request: &Request) -> Vec<String> {
    let body = String::from_utf8_lossy(&request.body).into_owned();
    let mut texts = Vec::new();
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(&body) {
        // The JSON's own text with its escapes read: every string and key as its value.
        texts.push(json_strings(&json));
    }
    for text in [request.target.clone(), body] {
        let mut current = text;
        for _ in 0..3 {
            let decoded = percent_decoded(&current);
            // A spelling that decodes to itself (most do) is kept once, so a large plain body is not copied.
            if decoded == current {
                break;
            }
            texts.push(std::mem::replace(&mut current, decoded));
        }
        texts.push(current);
    }
    // Ids as the world holds them, and lower-cased for an id sent in another case.
    let lowered: Vec<String> = texts
        .iter()
        .filter(|text| text.bytes().any(|byte| byte.is_ascii_uppercase()))
        .map(|text| text.to_ascii_lowercase())
        .collect();
    texts.extend(lowered);
    texts
}

fn json_strings(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => format!("{text}\n"),
        serde_json::Value::Array(items) => items.iter().map(json_strings).collect(),
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(key, item)| format!("{key}\n{}", json_strings(item)))
            .collect(),
        other => format!("{other}\n"),
    }
}

/// `%XX` escapes and `+` decoded, lossily.
fn percent_decoded(text: &str) -> String {
    // `+` is a space in a form; an escaped `%2B` stays a `+`.
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// The error code of an answer in the provider's envelope, if it is one.
pub(crate) fn code_of(provider: ProviderId, reply: &Reply) -> Option<String> {
    provider.read_answer(&reply.body).ok()?.err()
}
