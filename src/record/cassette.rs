//! Cassettes: a directory of recorded exchanges, in order, readable and diffable.
//!
//! ```text
//! DIR/cassette.json                       the index: one entry per exchange, in order (below)
//! DIR/0001-TerminateInstances.request     the request as the client sent it, redacted and fixture-signed (HTTP/1.1)
//! DIR/0001-TerminateInstances.response    the answer as received, redacted (HTTP/1.1)
//! DIR/0001-TerminateInstances@recorded.snap   the same exchange in the rendering of `snapshots/`
//! ```
//!
//! The `.snap` files make `terminus diff OLD NEW` compare two cassettes (and a cassette with `terminus run
//! --record` output) exchange by exchange; the raw files are what replay and `serve --cassette` send and answer.
//! Only [`Redacted`] exchanges can be appended.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::redact::Redacted;
use crate::exchange::{Exchange, NoAnswer, Response};
use crate::harness::snapshot;
use crate::message::Request;

/// The index file's name.
pub const INDEX: &str = "cassette.json";
/// The most exchanges one cassette holds (a bound on what replay and playback load).
pub const MOST_EXCHANGES: usize = 100_000;
/// The largest raw file read back (a request or an answer).
const LARGEST_FILE: u64 = 64 * 1024 * 1024;

/// The index.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Index {
    /// Where the requests went (`https://<host>` for the real providers, or the `--upstream` URL).
    pub upstream: String,
    /// When recording started (RFC 3339).
    pub recorded_at: String,
    /// The exchanges, in the order the answers arrived.
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
    index: Index,
}

impl Writer {
    /// Creates `dir` (and its parents); refuses a directory that already holds a cassette.
    pub fn create(dir: &Path, upstream: &str) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        if dir.join(INDEX).exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} already holds a cassette", dir.display()),
            ));
        }
        let writer = Self {
            dir: dir.to_path_buf(),
            index: Index {
                upstream: upstream.to_owned(),
                recorded_at: now_rfc3339(),
                exchanges: Vec::new(),
            },
        };
        writer.write_index()?;
        Ok(writer)
    }

    /// Exchanges written so far.
    pub fn len(&self) -> usize {
        self.index.exchanges.len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.index.exchanges.is_empty()
    }

    /// Appends one exchange: its three files, then the index (written whole and renamed into place, so a reader
    /// never sees half an index).
    pub fn append(&mut self, exchange: &Redacted, mut entry: Entry) -> std::io::Result<()> {
        if self.index.exchanges.len() >= MOST_EXCHANGES {
            return Err(std::io::Error::other(format!(
                "the cassette holds {MOST_EXCHANGES} exchanges already"
            )));
        }
        let number = self.index.exchanges.len() + 1;
        // The client, read from the redacted request only (a User-Agent can carry a redacted string).
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
        let action = entry
            .action
            .as_deref()
            .filter(|action| {
                action.bytes().all(|b| b.is_ascii_alphanumeric()) && action.len() <= 64
            })
            .unwrap_or("request");
        entry.name = format!("{number:04}-{action}");
        std::fs::write(
            self.dir.join(format!("{}.request", entry.name)),
            exchange.request().to_bytes(),
        )?;
        if let Some(response) = exchange.response() {
            std::fs::write(
                self.dir.join(format!("{}.response", entry.name)),
                response_bytes(response),
            )?;
        }
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
        std::fs::write(
            self.dir.join(format!("{}@recorded.snap", entry.name)),
            header + &rendered,
        )?;
        self.index.exchanges.push(entry);
        self.write_index()
    }

    fn write_index(&self) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(&self.index).map_err(std::io::Error::other)?;
        let temporary = self.dir.join(format!(".{INDEX}.new"));
        std::fs::write(&temporary, text + "\n")?;
        std::fs::rename(temporary, self.dir.join(INDEX))
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

/// A recorded exchange read back.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Its index entry.
    pub entry: Entry,
    /// The request as stored.
    pub request: Request,
    /// The answer as stored.
    pub response: Option<Response>,
}

/// Reads a cassette: the index and every exchange's raw files.
pub fn read(dir: &Path) -> Result<(Index, Vec<Recorded>), String> {
    let index_path = dir.join(INDEX);
    let text = read_bounded(&index_path)?;
    let index: Index = serde_json::from_slice(&text)
        .map_err(|error| format!("{}: not a cassette index: {error}", index_path.display()))?;
    if index.exchanges.len() > MOST_EXCHANGES {
        return Err(format!(
            "{}: more than {MOST_EXCHANGES} exchanges",
            index_path.display()
        ));
    }
    let mut recorded = Vec::with_capacity(index.exchanges.len());
    for entry in &index.exchanges {
        if entry.name.contains(['/', '\\']) || entry.name.starts_with('.') {
            return Err(format!(
                "{}: exchange name {:?} is not a file name",
                index_path.display(),
                entry.name
            ));
        }
        let request_path = dir.join(format!("{}.request", entry.name));
        let request = Request::parse(&read_bounded(&request_path)?)
            .map_err(|error| format!("{}: {error}", request_path.display()))?;
        let response_path = dir.join(format!("{}.response", entry.name));
        let response = if response_path.exists() {
            Some(
                parse_response(&read_bounded(&response_path)?)
                    .map_err(|error| format!("{}: {error}", response_path.display()))?,
            )
        } else {
            None
        };
        recorded.push(Recorded {
            entry: entry.clone(),
            request,
            response,
        });
    }
    Ok((index, recorded))
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let size = std::fs::metadata(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?
        .len();
    if size > LARGEST_FILE {
        return Err(format!(
            "{}: {size} bytes, more than the {LARGEST_FILE} a cassette file may hold",
            path.display()
        ));
    }
    std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))
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
    Ok(Response {
        status: parsed.code.unwrap_or_default(),
        headers: parsed
            .headers
            .iter()
            .map(|header| {
                (
                    header.name.to_owned(),
                    String::from_utf8_lossy(header.value).into_owned(),
                )
            })
            .collect(),
        body: bytes[head..].to_vec(),
    })
}

/// Now, RFC 3339 in UTC.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
