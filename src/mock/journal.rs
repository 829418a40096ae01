//! The request journal: the last [`CAPACITY`] provider requests the mock answered, in at most [`BYTES`] (or the
//! server's `journal_bytes` limit), for `GET /__terminus/requests`.
//!
//! Each entry says when, for which provider, action and SecretId, what the mock decided (the verdict and the
//! answer's code and status), how long it took, the request as received without secrets, and for a rejected
//! signature the [`Diagnosis`]. Secrets never enter it: session and bearer tokens are `[TOKEN]` (the snapshot
//! convention, recognised by [`crate::signing::tokens`]), keys are never in a request. A body is kept up to
//! [`BODY_KEPT`] bytes, and the target and each header name and value up to [`PIECE_KEPT`] bytes: a longer one is
//! kept as its prefix and written with its length (`…(409600 bytes)`), so 1,000 requests with 400 KB of headers
//! each hold a few MiB, not 400. The oldest entries go when a new one would pass the count or the bytes;
//! `evicted` counts them. A read is written straight into the answer's bytes ([`Journal::write_selected`]), with
//! no copy of the entries in between; a clear gives the entries' memory back.

use std::borrow::Cow;
use std::collections::VecDeque;

use serde::Serialize;

use crate::message::Request;
use crate::signing::diagnose::Diagnosis;
use crate::signing::tokens;

/// Entries kept.
pub const CAPACITY: usize = 1000;
/// Bytes of a request body kept in an entry.
pub const BODY_KEPT: usize = 16 * 1024;
/// Bytes of the target, and of each header name and value, kept in an entry.
pub const PIECE_KEPT: usize = 4 * 1024;
/// The bytes the journal holds at most by default.
pub const BYTES: usize = 64 * 1024 * 1024;

/// What the mock decided about a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Answered with the provider's success envelope.
    Ok,
    /// Answered with the provider's error envelope (the code says which).
    Error,
    /// Answered by an injected fault.
    Fault,
    /// The connection was closed without an answer (an injected fault).
    Dropped,
}

impl Verdict {
    /// The verdict's name (`ok`, `error`, `fault`, `dropped`).
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Error => "error",
            Verdict::Fault => "fault",
            Verdict::Dropped => "dropped",
        }
    }
}

/// One request and its answer. Recorded cheaply on the request path (the request copied into two blocks, nothing
/// formatted); the text a reader sees (the time, the redacted request) is made when it is read.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Entry {
    /// Its number, from 1, in the order answers were decided.
    pub id: u64,
    /// When the request arrived (the machine's clock); written as RFC 3339 UTC.
    #[serde(rename = "time", serialize_with = "rfc3339")]
    pub arrived_at: time::OffsetDateTime,
    /// The world's clock then, Unix seconds (what signatures were checked against).
    pub world_time: i64,
    /// The provider (`tencent`, `tencent-legacy`, `zenlayer-bmc`).
    pub provider: &'static str,
    /// The action the request names, read without verifying it.
    pub action: Option<String>,
    /// The SecretId it names (the public half of a key).
    pub secret_id: Option<String>,
    /// What the mock decided.
    pub verdict: Verdict,
    /// The HTTP status of the answer (none when dropped).
    pub status: Option<u16>,
    /// The error code of the answer's envelope (none for a success).
    pub code: Option<String>,
    /// From the request's head to its answer, in microseconds.
    pub latency_us: u64,
    /// The request as received, written without secrets.
    pub request: Received,
    /// Why its signature was rejected (only for rejected signatures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Box<Diagnosis>>,
}

fn rfc3339<S: serde::Serializer>(
    at: &time::OffsetDateTime,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let text = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    serializer.serialize_str(&text)
}

/// A request as received, kept in two blocks (its body cut to [`BODY_KEPT`] bytes) however many headers it has;
/// written with its secrets replaced by `[TOKEN]`: session tokens (`X-TC-Token`, `Token=` in the target or body)
/// and bearer tokens.
#[derive(Clone, Debug)]
pub struct Received {
    /// The method, the target, each header's name and value, then the kept body, one after another.
    bytes: Vec<u8>,
    /// Where each text piece ends in `bytes` (method, target, then name and value of each header); the body is
    /// the rest.
    ends: Vec<u32>,
    /// Each piece's length as received (longer than kept when it was cut to [`PIECE_KEPT`]).
    lengths: Vec<u32>,
    /// The body's length as received.
    body_bytes: usize,
}

impl Received {
    /// Keeps a copy of the request (its body cut to [`BODY_KEPT`] bytes).
    pub fn of(request: &Request) -> Self {
        let mut received = Received {
            bytes: Vec::new(),
            ends: Vec::new(),
            lengths: Vec::new(),
            body_bytes: 0,
        };
        received.refill(request);
        received
    }

    /// Makes this the copy of `request`, in the blocks it has when they are large enough.
    pub fn refill(&mut self, request: &Request) {
        let kept = &request.body[..request.body.len().min(BODY_KEPT)];
        let text: usize = request
            .headers
            .iter()
            .map(|(name, value)| name.len().min(PIECE_KEPT) + value.len().min(PIECE_KEPT))
            .sum();
        self.bytes.clear();
        self.ends.clear();
        self.lengths.clear();
        self.bytes.reserve(
            request.method.len().min(PIECE_KEPT)
                + request.target.len().min(PIECE_KEPT)
                + text
                + kept.len(),
        );
        self.ends.reserve(2 + 2 * request.headers.len());
        self.lengths.reserve(2 + 2 * request.headers.len());
        let Received {
            bytes,
            ends,
            lengths,
            ..
        } = self;
        let mut push = |piece: &str| {
            bytes.extend_from_slice(&piece.as_bytes()[..piece.floor_char_boundary(PIECE_KEPT)]);
            ends.push(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
            lengths.push(u32::try_from(piece.len()).unwrap_or(u32::MAX));
        };
        push(&request.method);
        push(&request.target);
        for (name, value) in &request.headers {
            push(name);
            push(value);
        }
        self.bytes.extend_from_slice(kept);
        self.body_bytes = request.body.len();
    }

    /// The bytes its blocks hold, used or not.
    pub(crate) fn capacity(&self) -> usize {
        self.bytes.capacity() + 4 * self.ends.capacity() + 4 * self.lengths.capacity()
    }

    /// The text pieces as they are written: a piece cut to [`PIECE_KEPT`] bytes is its prefix and its length.
    fn shown_pieces(&self) -> impl Iterator<Item = Cow<'_, str>> {
        self.pieces()
            .zip(self.lengths.iter())
            .map(|(piece, &length)| {
                if piece.len() < length as usize {
                    Cow::Owned(format!("{piece}…({length} bytes)"))
                } else {
                    Cow::Borrowed(piece)
                }
            })
    }

    /// The text pieces in order: method, target, then name and value of each header.
    fn pieces(&self) -> impl Iterator<Item = &str> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let end = (end as usize).min(self.bytes.len());
            let piece = std::str::from_utf8(&self.bytes[start.min(end)..end]).unwrap_or_default();
            start = end;
            piece
        })
    }

    /// The method.
    pub fn method(&self) -> &str {
        self.pieces().next().unwrap_or_default()
    }

    /// The target as sent, tokens included: shown only through [`tokens::parameters`].
    pub fn target(&self) -> &str {
        self.pieces().nth(1).unwrap_or_default()
    }

    fn body(&self) -> &[u8] {
        let head = self.ends.last().map_or(0, |&end| end as usize);
        self.bytes.get(head..).unwrap_or_default()
    }
}

/// The shape `GET /__terminus/requests` writes a request in.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Written<'a> {
    /// The method.
    method: &'a str,
    /// The request target as sent.
    target: String,
    /// The headers, in order, as `[name, value]`.
    headers: Vec<(Cow<'a, str>, String)>,
    /// The body as text (invalid UTF-8 replaced), at most [`BODY_KEPT`] bytes of it.
    body: String,
    /// The body's length as received.
    body_bytes: usize,
}

impl Serialize for Received {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut pieces = self.shown_pieces();
        let method = pieces.next().unwrap_or_default();
        let target = pieces.next().unwrap_or_default();
        let mut headers = Vec::new();
        while let (Some(name), Some(value)) = (pieces.next(), pieces.next()) {
            let value = tokens::header_value(&name, &value).into_owned();
            headers.push((name, value));
        }
        Written {
            method: &method,
            target: tokens::parameters(&target).into_owned(),
            headers,
            body: tokens::parameters(&String::from_utf8_lossy(self.body())).into_owned(),
            body_bytes: self.body_bytes,
        }
        .serialize(serializer)
    }
}

/// What `GET /__terminus/requests` selects: every given filter must hold.
#[derive(Debug, Default)]
pub struct Filter {
    provider: Option<String>,
    action: Option<String>,
    secret_id: Option<String>,
    verdict: Option<String>,
    code: Option<String>,
    since: Option<u64>,
    limit: Option<usize>,
}

impl Filter {
    /// The filter of a query string (`provider`, `action`, `secret-id`, `verdict`, `code`, `since` (entries after
    /// this id), `limit` (the last N)); an unknown name or a bad number is an error that says which.
    pub fn from_query(query: &str) -> Result<Self, String> {
        let mut filter = Filter::default();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.into_owned();
            let number = |what: &str| {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("the filter {what}={value:?} is not a whole number"))
            };
            match name.as_ref() {
                "provider" => filter.provider = Some(value),
                "action" => filter.action = Some(value),
                "secret-id" => filter.secret_id = Some(value),
                "verdict" => {
                    const VERDICTS: [&str; 4] = ["ok", "error", "fault", "dropped"];
                    if !VERDICTS.contains(&value.as_str()) {
                        return Err(format!(
                            "the filter verdict={value:?} is not a verdict: ok, error, fault or dropped"
                        ));
                    }
                    filter.verdict = Some(value);
                }
                "code" => filter.code = Some(value),
                "since" => filter.since = Some(number("since")?),
                "limit" => filter.limit = Some(number("limit")? as usize),
                other => {
                    return Err(format!(
                        "unknown filter {other:?}: the journal filters by provider, action, secret-id, verdict, code, since (an entry id) and limit"
                    ));
                }
            }
        }
        Ok(filter)
    }

    fn keeps(&self, entry: &Entry) -> bool {
        let is = |wanted: &Option<String>, value: Option<&str>| {
            wanted.as_deref().is_none_or(|wanted| Some(wanted) == value)
        };
        is(&self.provider, Some(entry.provider))
            && is(&self.action, entry.action.as_deref())
            && is(&self.secret_id, entry.secret_id.as_deref())
            && is(&self.verdict, Some(entry.verdict.name()))
            && is(&self.code, entry.code.as_deref())
            && self.since.is_none_or(|since| entry.id > since)
    }
}

/// The journal: a ring of entries.
#[derive(Debug)]
pub struct Journal {
    /// Boxed: an entry moves in and out of the ring once per request, a pointer rather than its fields.
    entries: VecDeque<Box<Entry>>,
    capacity: usize,
    /// The most bytes the entries may hold, and what they hold.
    bytes_limit: usize,
    bytes: usize,
    next_id: u64,
    evicted: u64,
}

impl Default for Journal {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl Journal {
    /// A journal that keeps the last `capacity` entries (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_limits(capacity, BYTES)
    }

    /// A journal that keeps the last `capacity` entries (at least one) in at most `bytes` (the newest entry is
    /// kept whatever its size: it is at most some hundreds of KiB, [`PIECE_KEPT`] per header).
    pub fn with_limits(capacity: usize, bytes: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            capacity: capacity.max(1),
            bytes_limit: bytes,
            bytes: 0,
            next_id: 1,
            evicted: 0,
        }
    }

    /// Adds an entry, numbering it; returns its id and the entry it pushed out, for the caller to drop outside
    /// the journal's lock.
    pub fn push(&mut self, mut entry: Box<Entry>) -> (u64, Option<Box<Entry>>) {
        entry.id = self.next_id;
        self.next_id += 1;
        let id = entry.id;
        self.bytes += entry.size();
        self.entries.push_back(entry);
        let mut spare = None;
        while self.entries.len() > 1
            && (self.entries.len() > self.capacity || self.bytes > self.bytes_limit)
        {
            let Some(oldest) = self.entries.pop_front() else {
                break;
            };
            self.evicted += 1;
            self.bytes = self.bytes.saturating_sub(oldest.size());
            // The first goes back to the caller to reuse (or drop outside the lock); more than one go only when
            // a large entry makes room for itself.
            if spare.is_none() {
                spare = Some(oldest);
            }
        }
        (id, spare)
    }

    /// The bytes the entries hold.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Writes `{"requests": [...], "evicted": N}` for the entries a filter keeps straight into `out`, formatting
    /// each entry as it goes: no copy of the journal is built.
    pub fn write_selected(&self, filter: &Filter, out: &mut Vec<u8>) -> serde_json::Result<()> {
        #[derive(Serialize)]
        struct Selected<'a> {
            requests: Vec<&'a Entry>,
            evicted: u64,
        }
        serde_json::to_writer(
            out,
            &Selected {
                requests: self.select(filter),
                evicted: self.evicted,
            },
        )
    }

    /// The entries a filter keeps, oldest first (with `limit`, the last ones).
    pub fn select(&self, filter: &Filter) -> Vec<&Entry> {
        let kept: Vec<&Entry> = self
            .entries
            .iter()
            .map(|entry| &**entry)
            .filter(|e| filter.keeps(e))
            .collect();
        let skip = filter
            .limit
            .map_or(0, |limit| kept.len().saturating_sub(limit));
        kept.into_iter().skip(skip).collect()
    }

    /// Entries that no longer fit and were dropped, since the start or the last clear.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Forgets every entry (ids keep counting, so a `since` taken before still means "after that").
    pub fn clear(&mut self) {
        // A new queue, not `clear`: the old one's block goes too.
        self.entries = VecDeque::new();
        self.bytes = 0;
        self.evicted = 0;
    }
}

impl Entry {
    /// The bytes the entry holds: itself, its request's blocks and its texts.
    fn size(&self) -> usize {
        std::mem::size_of::<Entry>()
            + self.request.capacity()
            + self.action.as_ref().map_or(0, String::capacity)
            + self.secret_id.as_ref().map_or(0, String::capacity)
            + self.code.as_ref().map_or(0, String::capacity)
            + self.diagnosis.as_ref().map_or(0, |diagnosis| {
                std::mem::size_of::<Diagnosis>()
                    + diagnosis.cause.capacity()
                    + diagnosis.difference.capacity()
                    + diagnosis
                        .canonical_request
                        .as_ref()
                        .map_or(0, String::capacity)
                    + diagnosis
                        .string_to_sign
                        .as_ref()
                        .map_or(0, String::capacity)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(verdict: Verdict) -> Entry {
        Entry {
            id: 0,
            arrived_at: time::OffsetDateTime::UNIX_EPOCH,
            world_time: 0,
            provider: "tencent",
            action: Some("TerminateInstances".into()),
            secret_id: None,
            verdict,
            status: Some(200),
            code: None,
            latency_us: 0,
            request: Received::of(&Request::parse(b"GET /?Token=abc&Action=X HTTP/1.1\r\nHost: h\r\nX-TC-Token: s\r\nAuthorization: Bearer t\r\n\r\n").unwrap()),
            diagnosis: None,
        }
    }

    #[test]
    fn tokens_are_redacted_in_target_headers_and_body() {
        let text = serde_json::to_string(&entry(Verdict::Ok).request).unwrap();
        assert!(text.contains("Token=[TOKEN]&Action=X"), "{text}");
        assert!(
            text.contains(r#"["X-TC-Token","[TOKEN]"]"#)
                || text.contains(r#"["x-tc-token","[TOKEN]"]"#),
            "{text}"
        );
        assert!(text.contains("Bearer [TOKEN]"), "{text}");
        assert!(
            !text.contains("abc") && !text.contains("\"s\"") && !text.contains("Bearer t\""),
            "{text}"
        );
    }

    #[test]
    fn the_oldest_entry_goes_when_full_and_filters_and_limit_select() {
        let mut journal = Journal::with_capacity(2);
        journal.push(Box::new(entry(Verdict::Ok)));
        journal.push(Box::new(entry(Verdict::Error)));
        journal.push(Box::new(entry(Verdict::Fault)));
        assert_eq!(journal.evicted(), 1);
        let all = journal.select(&Filter::default());
        assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), vec![2, 3]);
        let faults = journal.select(&Filter::from_query("verdict=fault").unwrap());
        assert_eq!(faults.len(), 1);
        let last = journal.select(&Filter::from_query("limit=1").unwrap());
        assert_eq!(last[0].id, 3);
        assert_eq!(
            journal
                .select(&Filter::from_query("since=3").unwrap())
                .len(),
            0
        );
        assert!(
            Filter::from_query("colour=red")
                .unwrap_err()
                .contains("colour")
        );
    }
}
