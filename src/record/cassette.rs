//! Cassettes: a directory of recorded exchanges, in order, readable and diffable.
//!
//! ```text
//! DIR/cassette.jsonl                      the index: a header line, then one line per exchange, in order
//! DIR/0001-TerminateInstances.request     the request as the client sent it, redacted and fixture-signed (HTTP/1.1)
//! DIR/0001-TerminateInstances.response    the answer as received, redacted (HTTP/1.1)
//! DIR/0001-TerminateInstances@recorded.snap   the same exchange in the rendering of `snapshots/`
//! ```
//!
//! The `.snap` files make `terminus diff OLD NEW` compare two cassettes (and a cassette with `terminus run
//! --record` output) exchange by exchange; the raw files are what replay and `serve --cassette` send and answer.
//! Only [`Redacted`] exchanges can be appended.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::redact::Redacted;
use crate::exchange::{Exchange, NoAnswer, Response};
use crate::file;
use crate::harness::{http1, snapshot};
use crate::message::Request;
use crate::signing::leak::{self, Needles};

/// The index file's name.
pub const INDEX: &str = "cassette.jsonl";
/// The most exchanges one cassette holds (a bound on what replay and playback load).
pub const MOST_EXCHANGES: usize = 100_000;
/// The largest raw file read back (a request or an answer): the recorder's largest body and head, with room.
const LARGEST_FILE: u64 = 20 * 1024 * 1024;
/// The largest index read back (100 000 lines of about 400 bytes).
const LARGEST_INDEX: u64 = 64 * 1024 * 1024;
/// The most bytes of request and answer files one cassette may hold, all files counted once.
const LARGEST_CASSETTE: u64 = 1024 * 1024 * 1024;

/// The index's first line.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Header {
    /// Where the requests went (`https://<host>` for the real providers, or the `--upstream` URL).
    pub upstream: String,
    /// When recording started (RFC 3339).
    pub recorded_at: String,
}

/// The index: its header and the exchanges, in the order the answers arrived.
#[derive(Clone, Debug, Default)]
pub struct Index {
    /// The first line.
    pub header: Header,
    /// One per line after it.
    pub exchanges: Vec<Entry>,
}

/// One recorded exchange.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    /// The file stem (`0001-TerminateInstances`).
    pub name: String,
    /// `tencent`, `tencent-legacy`, `zenlayer-bmc`.
    pub provider: String,
    /// The host the client addressed.
    pub host: String,
    /// How the client reached the proxy: `http` (absolute form, upgraded) or `connect` (TLS intercepted).
    pub via: String,
    /// The action, when the request names one.
    pub action: Option<String>,
    /// The client's `User-Agent` (as redacted).
    pub user_agent: Option<String>,
    /// The client's `X-TC-RequestClient` (or the `RequestClient` parameter, `X-ZC-Request-Client`).
    pub request_client: Option<String>,
    /// When the request arrived (RFC 3339, UTC).
    pub sent_at: String,
    /// How long the upstream took to answer, in milliseconds.
    pub elapsed_ms: u64,
    /// The HTTP status, or none when the upstream gave no answer.
    pub status: Option<u16>,
    /// Why there was no answer.
    pub no_answer: Option<String>,
}

/// A cassette being written.
#[derive(Debug)]
pub struct Writer {
    dir: PathBuf,
    index: std::fs::File,
    written: usize,
}

/// Why an exchange was not written.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// A secret of the session would have been written: nothing of the exchange was.
    #[error("not written: {finding} was found in {place}")]
    Leak {
        /// What was found, in which encoding (never the value).
        finding: leak::Finding,
        /// Which file, or `a file name`.
        place: String,
    },
    /// The cassette is full ([`MOST_EXCHANGES`]).
    #[error("not written: the cassette holds {MOST_EXCHANGES} exchanges already")]
    Full,
    /// A file could not be written.
    #[error("not written: {0}")]
    File(#[from] crate::file::FileError),
    /// The index could not be appended to.
    #[error("not written: cannot append to the index: {0}")]
    Index(std::io::Error),
}

/// The leak check of every byte about to be written (file names and contents): the first secret found, and where.
fn check(files: &[(String, &[u8])], needles: &Needles) -> Result<(), AppendError> {
    for (name, bytes) in files {
        if let Some(finding) = needles.find(name.as_bytes()) {
            return Err(AppendError::Leak {
                finding,
                place: "a file name".to_owned(),
            });
        }
        if let Some(finding) = needles.find(bytes) {
            return Err(AppendError::Leak {
                finding,
                place: name.clone(),
            });
        }
    }
    Ok(())
}

impl Writer {
    /// Creates `dir` (and its parents); refuses a directory that already holds a cassette, and a header that holds
    /// one of `secrets` (an `--upstream` URL with a `--redact` string in it).
    pub fn create(dir: &Path, upstream: &str, secrets: &Needles) -> Result<Self, String> {
        let header = Header {
            upstream: upstream.to_owned(),
            recorded_at: now_rfc3339(),
        };
        let line = serde_json::to_string(&header).map_err(|error| error.to_string())? + "\n";
        check(&[(INDEX.to_owned(), line.as_bytes())], secrets)
            .map_err(|error| error.to_string())?;
        std::fs::create_dir_all(dir).map_err(|error| format!("{}: {error}", dir.display()))?;
        let path = dir.join(INDEX);
        if std::fs::symlink_metadata(&path).is_ok() {
            return Err(format!("{} already holds a cassette", dir.display()));
        }
        let mut index = file::append(&path).map_err(|error| error.to_string())?;
        index
            .write_all(line.as_bytes())
            .map_err(|error| format!("{}: {error}", path.display()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            index,
            written: 0,
        })
    }

    /// Exchanges written so far.
    pub fn len(&self) -> usize {
        self.written
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.written == 0
    }

    /// Appends one exchange: its three files, then its index line (one `write` of a whole line, appended). Every
    /// byte, file names included, goes through the leak check first; on a finding nothing is written. Returns the
    /// entry as written.
    pub fn append(&mut self, exchange: &Redacted, mut entry: Entry) -> Result<Entry, AppendError> {
        if self.written >= MOST_EXCHANGES {
            return Err(AppendError::Full);
        }
        let number = self.written + 1;
        // The client, read from the redacted request only (a User-Agent can carry a redacted string); the host,
        // action and failure with the exchange's replacements made.
        let request = exchange.request();
        entry.user_agent = request.header("user-agent").map(str::to_owned);
        entry.request_client = request
            .header("x-tc-requestclient")
            .or_else(|| request.header("x-zc-request-client"))
            .map(str::to_owned)
            .or_else(|| {
                crate::signing::hmac_param::Params::read(request)
                    .ok()
                    .and_then(|params| params.get("RequestClient").map(str::to_owned))
            });
        entry.host = exchange.redact_text(&entry.host);
        entry.action = entry
            .action
            .as_deref()
            .map(|action| exchange.redact_text(action));
        entry.no_answer = entry
            .no_answer
            .as_deref()
            .map(|why| exchange.redact_text(why));
        let action = entry
            .action
            .as_deref()
            .filter(|action| {
                action.bytes().all(|b| b.is_ascii_alphanumeric()) && action.len() <= 64
            })
            .unwrap_or("request");
        entry.name = format!("{number:04}-{action}");
        let request_bytes = exchange.request().to_bytes();
        let response_bytes = exchange.response().map(response_bytes);
        let rendered = snapshot::render(&[Exchange {
            step: number,
            request: exchange.request().clone(),
            trace: exchange.trace().cloned(),
            response: exchange
                .response()
                .cloned()
                .ok_or_else(|| NoAnswer::Closed(entry.no_answer.clone().unwrap_or_default())),
            elapsed: std::time::Duration::from_millis(entry.elapsed_ms),
        }]);
        let header = format!(
            "---\nsource: terminus record\ndescription: {} {} (client: {})\n---\n",
            entry.host,
            entry.action.as_deref().unwrap_or("-"),
            entry
                .request_client
                .as_deref()
                .or(entry.user_agent.as_deref())
                .unwrap_or("-")
                .replace('\n', " "),
        );
        let snap = header + &rendered;
        let line =
            serde_json::to_string(&entry).map_err(|error| AppendError::Index(error.into()))? + "\n";
        let mut files: Vec<(String, &[u8])> =
            vec![(format!("{}.request", entry.name), &request_bytes)];
        if let Some(bytes) = &response_bytes {
            files.push((format!("{}.response", entry.name), bytes));
        }
        files.push((format!("{}@recorded.snap", entry.name), snap.as_bytes()));
        files.push((INDEX.to_owned(), line.as_bytes()));
        check(&files, exchange.needles())?;
        for (name, bytes) in &files[..files.len() - 1] {
            file::write_new(&self.dir.join(name), bytes)?;
        }
        self.index
            .write_all(line.as_bytes())
            .map_err(AppendError::Index)?;
        self.written += 1;
        Ok(entry)
    }
}

/// A response as HTTP/1.1 bytes (status line with the standard reason phrase).
pub fn response_bytes(response: &Response) -> Vec<u8> {
    let reason = hyper::StatusCode::from_u16(response.status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("");
    let mut bytes = format!("HTTP/1.1 {} {reason}\r\n", response.status).into_bytes();
    for (name, value) in &response.headers {
        bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(&response.body);
    bytes
}

/// A recorded exchange read back. The request and answer are shared: index lines that name the same files share
/// one copy of them.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Its index entry.
    pub entry: Entry,
    /// The request as stored.
    pub request: Arc<Request>,
    /// The answer as stored.
    pub response: Option<Arc<Response>>,
}

/// Reads a cassette: the index and every exchange's raw files.
pub fn read(dir: &Path) -> Result<(Index, Vec<Recorded>), String> {
    let index_path = dir.join(INDEX);
    let text = file::read_text(&index_path, LARGEST_INDEX).map_err(|error| error.to_string())?;
    let mut lines = text.lines().enumerate();
    let header: Header = match lines.next() {
        Some((_, line)) => serde_json::from_str(line).map_err(|error| {
            format!("{}:1: not a cassette header: {error}", index_path.display())
        })?,
        None => return Err(format!("{}: empty", index_path.display())),
    };
    let mut index = Index {
        header,
        exchanges: Vec::new(),
    };
    for (number, line) in lines {
        if index.exchanges.len() >= MOST_EXCHANGES {
            return Err(format!(
                "{}: more than {MOST_EXCHANGES} exchanges",
                index_path.display()
            ));
        }
        let entry: Entry = serde_json::from_str(line).map_err(|error| {
            format!(
                "{}:{}: not an exchange entry: {error}",
                index_path.display(),
                number + 1
            )
        })?;
        index.exchanges.push(entry);
    }
    let mut recorded = Vec::with_capacity(index.exchanges.len());
    // Each file read once, however many lines name it; all of them under one total.
    let mut requests: HashMap<String, Arc<Request>> = HashMap::new();
    let mut responses: HashMap<String, Option<Arc<Response>>> = HashMap::new();
    let mut total = 0u64;
    for entry in &index.exchanges {
        if entry.name.is_empty() || entry.name.contains(['/', '\\']) || entry.name.starts_with('.')
        {
            return Err(format!(
                "{}: exchange name {:?} is not a file name",
                index_path.display(),
                entry.name
            ));
        }
        let request = match requests.get(&entry.name) {
            Some(request) => Arc::clone(request),
            None => {
                let path = dir.join(format!("{}.request", entry.name));
                let bytes = read_counted(&path, &mut total)?;
                let request = Arc::new(
                    Request::parse(&bytes)
                        .map_err(|error| format!("{}: {error}", path.display()))?,
                );
                requests.insert(entry.name.clone(), Arc::clone(&request));
                request
            }
        };
        let response = match responses.get(&entry.name) {
            Some(response) => response.clone(),
            None => {
                let path = dir.join(format!("{}.response", entry.name));
                let response = if std::fs::symlink_metadata(&path).is_ok() {
                    let bytes = read_counted(&path, &mut total)?;
                    Some(Arc::new(
                        parse_response(&bytes)
                            .map_err(|error| format!("{}: {error}", path.display()))?,
                    ))
                } else {
                    None
                };
                responses.insert(entry.name.clone(), response.clone());
                response
            }
        };
        recorded.push(Recorded {
            entry: entry.clone(),
            request,
            response,
        });
    }
    Ok((index, recorded))
}

/// Reads one request or answer file (a regular file under [`LARGEST_FILE`]), adding its size to `total`, which
/// may not pass [`LARGEST_CASSETTE`].
fn read_counted(path: &Path, total: &mut u64) -> Result<Vec<u8>, String> {
    let bytes = file::read(path, LARGEST_FILE).map_err(|error| error.to_string())?;
    *total += bytes.len() as u64;
    if *total > LARGEST_CASSETTE {
        return Err(format!(
            "{}: the cassette's files hold more than {LARGEST_CASSETTE} bytes together",
            path.display()
        ));
    }
    Ok(bytes)
}

/// Parses a stored answer (its body is whatever follows the head).
pub fn parse_response(bytes: &[u8]) -> Result<Response, String> {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut parsed = httparse::Response::new(&mut headers);
    let head = match parsed.parse(bytes) {
        Ok(httparse::Status::Complete(head)) => head,
        Ok(httparse::Status::Partial) => return Err("the answer's head is incomplete".into()),
        Err(error) => return Err(format!("not an HTTP answer: {error}")),
    };
    Ok(http1::response_of(&parsed, &bytes[head..]))
}

/// Now, RFC 3339 in UTC.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cassette whose index has `lines` lines, all naming `0001-TerminateInstances`.
    fn cassette_naming_one_file(dir: &Path, lines: usize) {
        let mut index = String::from("{\"upstream\":\"https://<host>\",\"recorded_at\":\"x\"}\n");
        for _ in 0..lines {
            index.push_str(
                "{\"name\":\"0001-TerminateInstances\",\"provider\":\"tencent\",\"host\":\"h\",\"via\":\"http\",\
                 \"action\":\"TerminateInstances\",\"user_agent\":null,\"request_client\":null,\"sent_at\":\"x\",\
                 \"elapsed_ms\":1,\"status\":200,\"no_answer\":null}\n",
            );
        }
        std::fs::write(dir.join(INDEX), index).unwrap();
        std::fs::write(
            dir.join("0001-TerminateInstances.request"),
            "POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Length: 2\r\n\r\n{}",
        )
        .unwrap();
        std::fs::write(
            dir.join("0001-TerminateInstances.response"),
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        )
        .unwrap();
    }

    #[test]
    fn index_lines_naming_one_file_share_one_copy_of_it() {
        let dir = tempfile::tempdir().unwrap();
        cassette_naming_one_file(dir.path(), 300);
        let (_, recorded) = read(dir.path()).unwrap();
        assert_eq!(recorded.len(), 300);
        assert!(
            recorded
                .iter()
                .all(|r| Arc::ptr_eq(&r.request, &recorded[0].request)
                    && Arc::ptr_eq(
                        r.response.as_ref().unwrap(),
                        recorded[0].response.as_ref().unwrap()
                    ))
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_cassette_file_that_is_dev_zero_is_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        cassette_naming_one_file(dir.path(), 1);
        let request = dir.path().join("0001-TerminateInstances.request");
        std::fs::remove_file(&request).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &request).unwrap();
        let error = read(dir.path()).unwrap_err();
        assert!(
            error.contains("0001-TerminateInstances.request")
                && error.contains("not a regular file"),
            "{error}"
        );
    }
}
