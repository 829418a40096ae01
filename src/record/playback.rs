//! `terminus serve --cassette DIR`: a cassette played back as a server (VCR-style).
//!
//! A request is matched on method, host, provider, action, version, region and parameters (the JSON body parsed,
//! or the form parameters without `Nonce`, `Timestamp`, `Signature`, `SecretId`, `Token`, `RequestClient`;
//! `ClientToken`, which the Go SDK makes up per call, ignored): never on signature, timestamp or nonce, which change
//! every call. The host is compared only when the request names a provider's host (a client pointed at the
//! server itself names the server's address). How recorded answers are handed out is the [`Mode`]: `once`
//! (identical requests answered in recorded order, each answer once: a recorded 429 then 200 plays back as 429
//! then 200), `repeat` (then the last answer again), `strict-order` (each request must be the next recorded one).
//! A request that matches nothing, or whose recorded answers are used up, is answered `501` with a JSON error
//! (`{"error": "terminus: serve --cassette: …"}`) that names the nearest recorded exchange and the fields that
//! differ; the journal (`--log`) gets one line per request: the exchange answered, or that error.
//!
//! It keeps `serve`'s contract: `GET /__terminus/health` answers `{"status": "ok"}`, connections over the cap
//! are answered 503 and closed, and the command line prints `listening on URL` first (`--ready-file` too).
//!
//! Requests arrive as to the mock: origin form, absolute form (the server as an HTTP proxy) or inside a plain
//! `CONNECT` tunnel; answers are the recorded bytes (with `Content-Length` true to the stored body).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use super::cassette::{self, Recorded, response_bytes};
use super::proxy::{next_request, own_answer};

/// The path `serve`'s health check answers on.
const HEALTH: &str = "/__terminus/health";
/// Connections served at once; one more is answered 503 and closed (`serve`'s default).
const MOST_CONNECTIONS: usize = 512;
use crate::harness::http1::Stream;
use crate::message::Request;
use crate::mock::ServerThread;
use crate::provider::ProviderId;
use crate::signing::hmac_param::Params;

/// What a request is matched on.
#[derive(Clone, Debug)]
struct Key {
    method: String,
    host: Option<String>,
    provider: &'static str,
    action: Option<String>,
    version: Option<String>,
    region: Option<String>,
    params: Value,
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.differences(other).is_empty()
    }
}

impl Key {
    fn of(request: &Request) -> Self {
        let provider = ProviderId::route(ProviderId::ALL, request);
        let form = Params::read(request).ok();
        let from_form = |name: &str| {
            form.as_ref()
                .and_then(|params| params.get(name).map(str::to_owned))
        };
        let header = |names: &[&str]| {
            names
                .iter()
                .find_map(|name| request.header(name).map(str::to_owned))
        };
        let params = match serde_json::from_slice::<Value>(&request.body) {
            Ok(Value::Object(mut map)) => {
                map.remove("ClientToken");
                Value::Object(map)
            }
            Ok(other) => other,
            Err(_) => Value::Object(
                form.as_ref()
                    .map(|params| {
                        params
                            .pairs()
                            .filter(|(key, _)| {
                                !matches!(
                                    *key,
                                    "Nonce"
                                        | "Timestamp"
                                        | "Signature"
                                        | "SecretId"
                                        | "Token"
                                        | "RequestClient"
                                        | "ClientToken"
                                )
                            })
                            .map(|(key, value)| (key.to_owned(), Value::from(value)))
                            .collect::<BTreeMap<_, _>>()
                    })
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
            ),
        };
        // The host a client named, when it is a provider's (not the server's own address): from an absolute
        // target, else the `Host` header (which tccli writes with a scheme: `Host: http://cvm…`).
        let named = if request.target.contains("://") {
            Some(request.target.as_str())
        } else {
            request.host()
        };
        let host = named
            .map(|text| {
                let text = text.split_once("://").map_or(text, |(_, rest)| rest);
                let authority = text.split(['/', '?']).next().unwrap_or_default();
                authority
                    .rsplit_once(':')
                    .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
                    .map_or(authority, |(name, _)| name)
                    .to_ascii_lowercase()
            })
            .filter(|host| crate::provider::is_provider_host(host));
        Self {
            method: request.method.to_ascii_uppercase(),
            host,
            provider: provider.name(),
            action: provider.action_of(request),
            version: header(&["x-tc-version", "x-zc-version"]).or_else(|| from_form("Version")),
            region: header(&["x-tc-region"]).or_else(|| from_form("Region")),
            params,
        }
    }

    /// The parts of `self` that differ from `other`, by name.
    fn differences(&self, other: &Key) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.method != other.method {
            out.push("method");
        }
        if let (Some(mine), Some(theirs)) = (&self.host, &other.host)
            && mine != theirs
        {
            out.push("host");
        }
        if self.provider != other.provider {
            out.push("provider");
        }
        if self.action != other.action {
            out.push("action");
        }
        if self.version != other.version {
            out.push("version");
        }
        if self.region != other.region {
            out.push("region");
        }
        if self.params != other.params {
            out.push("parameters");
        }
        out
    }

    fn describe(&self) -> String {
        format!(
            "{} {} (version {}, region {})",
            self.provider,
            self.action.as_deref().unwrap_or("-"),
            self.version.as_deref().unwrap_or("-"),
            self.region.as_deref().unwrap_or("-")
        )
    }
}

/// How recorded answers are handed out (`serve --playback`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Each recorded answer once, the answers to the same request in recorded order.
    #[default]
    Once,
    /// As `Once`, then the last recorded answer to a request again for every further one like it.
    Repeat,
    /// Each request must be the next recorded one.
    StrictOrder,
}

impl Mode {
    /// The name `--playback` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Once => "once",
            Self::Repeat => "repeat",
            Self::StrictOrder => "strict-order",
        }
    }
}

/// What playback did with one request, for the journal.
#[derive(Debug)]
struct Played {
    /// The exchange whose answer was given.
    exchange: Option<String>,
    /// Why nothing matched.
    unmatched: Option<String>,
}

/// The cassette and which of its exchanges have been played.
#[derive(Debug)]
struct Tape {
    exchanges: Vec<(Key, Recorded)>,
    played: Vec<bool>,
    mode: Mode,
}

impl Tape {
    /// The recorded answer for `request`, or the error that names the nearest exchange; and the exchange's name.
    fn answer(&mut self, request: &Request) -> Result<(Vec<u8>, String), String> {
        let key = Key::of(request);
        let index = match self.mode {
            Mode::StrictOrder => {
                let Some(next) = self.played.iter().position(|played| !played) else {
                    return Err(format!(
                        "all {} recorded exchanges have been played; nothing matches {}",
                        self.exchanges.len(),
                        key.describe()
                    ));
                };
                let (expected, exchange) = &self.exchanges[next];
                if *expected != key {
                    return Err(format!(
                        "strict order: the next recorded exchange is {} ({}), which differs in {}; got {}",
                        exchange.entry.name,
                        expected.describe(),
                        expected.differences(&key).join(", "),
                        key.describe()
                    ));
                }
                Some(next)
            }
            Mode::Once | Mode::Repeat => {
                let unplayed = (0..self.exchanges.len())
                    .find(|&index| !self.played[index] && self.exchanges[index].0 == key);
                match (unplayed, self.mode) {
                    (Some(index), _) => Some(index),
                    (None, Mode::Repeat) => {
                        (0..self.exchanges.len()).rfind(|&index| self.exchanges[index].0 == key)
                    }
                    (None, _) => None,
                }
            }
        };
        if let Some(index) = index {
            self.played[index] = true;
            let recorded = &self.exchanges[index].1;
            return match &recorded.response {
                Some(response) => {
                    let mut response = (**response).clone();
                    let length = response.body.len().to_string();
                    for (name, value) in &mut response.headers {
                        if name.eq_ignore_ascii_case("content-length") {
                            value.clone_from(&length);
                        }
                    }
                    Ok((response_bytes(&response), recorded.entry.name.clone()))
                }
                None => Err(format!(
                    "{} was recorded without an answer ({})",
                    recorded.entry.name,
                    recorded.entry.no_answer.as_deref().unwrap_or("no answer")
                )),
            };
        }
        let used = self
            .exchanges
            .iter()
            .filter(|(recorded, _)| *recorded == key)
            .count();
        if used > 0 {
            return Err(format!(
                "{}: all {used} recorded answers to this request have been played (--playback repeat serves the last again)",
                key.describe()
            ));
        }
        let nearest = self
            .exchanges
            .iter()
            .min_by_key(|(recorded, _)| recorded.differences(&key).len());
        Err(match nearest {
            Some((recorded, exchange)) => format!(
                "no recorded exchange matches {}; nearest: {} ({}), which differs in {}",
                key.describe(),
                exchange.entry.name,
                recorded.describe(),
                recorded.differences(&key).join(", ")
            ),
            None => format!("the cassette is empty; nothing matches {}", key.describe()),
        })
    }
}

/// A cassette being played back.
#[derive(Debug)]
pub struct Playback {
    address: SocketAddr,
    exchanges: usize,
    thread: ServerThread,
}

/// What a playback server answers and where it writes its journal.
struct Shared {
    tape: Mutex<Tape>,
    journal: Option<Mutex<std::fs::File>>,
}

impl Playback {
    /// Reads the cassette and starts answering on `listen` in `mode`; with `journal`, one JSON line per request
    /// is appended there (the exchange answered, or why none matched).
    pub fn start(
        dir: &Path,
        listen: SocketAddr,
        mode: Mode,
        journal: Option<&Path>,
    ) -> Result<Self, String> {
        let (_, recorded) = cassette::read(dir)?;
        let exchanges: Vec<_> = recorded
            .into_iter()
            .map(|recorded| (Key::of(&recorded.request), recorded))
            .collect();
        let count = exchanges.len();
        let journal = match journal {
            Some(path) => Some(Mutex::new(
                crate::file::append(path).map_err(|error| error.to_string())?,
            )),
            None => None,
        };
        let shared = Arc::new(Shared {
            tape: Mutex::new(Tape {
                played: vec![false; exchanges.len()],
                exchanges,
                mode,
            }),
            journal,
        });
        let listener = std::net::TcpListener::bind(listen)
            .map_err(|error| format!("cannot listen on {listen}: {error}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|error| error.to_string())?;
        let address = listener.local_addr().map_err(|error| error.to_string())?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("terminus-playback")
            .enable_all()
            .build()
            .map_err(|error| error.to_string())?;
        let (shutdown, mut stop) = tokio::sync::oneshot::channel::<()>();
        let connections = Arc::new(tokio::sync::Semaphore::new(MOST_CONNECTIONS));
        let thread = std::thread::Builder::new()
            .name("terminus-playback".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = TcpListener::from_std(listener) else {
                        return;
                    };
                    loop {
                        tokio::select! {
                            accepted = listener.accept() => {
                                if let Ok((mut stream, _)) = accepted {
                                    // A connection over the cap is answered 503 and closed, as `serve` does.
                                    let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
                                        let _ = stream.write_all(&own_answer(503, "too many connections")).await;
                                        continue;
                                    };
                                    let shared = Arc::clone(&shared);
                                    tokio::spawn(async move {
                                        serve(Box::new(stream), shared).await;
                                        drop(permit);
                                    });
                                } else {
                                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                                }
                            }
                            _ = &mut stop => break,
                        }
                    }
                });
            })
            .map_err(|error| error.to_string())?;
        Ok(Self {
            address,
            exchanges: count,
            thread: ServerThread::new(shutdown, thread),
        })
    }

    /// The address it answers on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://ADDRESS:PORT`.
    pub fn uri(&self) -> String {
        format!("http://{}", self.address)
    }

    /// How many exchanges the cassette holds.
    pub fn exchanges(&self) -> usize {
        self.exchanges
    }

    /// Blocks until the process is stopped.
    pub fn wait(self) {
        self.thread.wait();
    }
}

impl Shared {
    /// Appends one journal line (a failed write is not the client's problem: it still gets its answer).
    fn journal(&self, request: &Request, played: &Played) {
        let Some(journal) = &self.journal else {
            return;
        };
        let key = Key::of(request);
        let line = serde_json::json!({
            "at": super::cassette::now_rfc3339(),
            "provider": key.provider,
            "action": key.action,
            "region": key.region,
            "exchange": played.exchange,
            "unmatched": played.unmatched,
        })
        .to_string()
            + "\n";
        let mut file = journal.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = std::io::Write::write_all(&mut *file, line.as_bytes());
    }
}

async fn serve(mut stream: Box<dyn Stream>, shared: Arc<Shared>) {
    let mut buffer = Vec::new();
    let mut tunnelled = false;
    loop {
        let Some(incoming) = next_request(
            &mut stream,
            &mut buffer,
            super::proxy::REQUEST_DEADLINE,
            &|_: &str, _: &str| Ok(()),
        )
        .await
        else {
            return;
        };
        if incoming.method.eq_ignore_ascii_case("CONNECT") && !tunnelled {
            tunnelled = true;
            if stream
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await
                .is_err()
            {
                return;
            }
            continue;
        }
        let answer = match Request::parse(&incoming.bytes) {
            Ok(request) if request.path() == HEALTH => Ok(health()),
            Ok(request) => {
                let answered = shared
                    .tape
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .answer(&request);
                let played = match &answered {
                    Ok((_, name)) => Played {
                        exchange: Some(name.clone()),
                        unmatched: None,
                    },
                    Err(why) => Played {
                        exchange: None,
                        unmatched: Some(why.clone()),
                    },
                };
                shared.journal(&request, &played);
                answered
                    .map(|(bytes, _)| bytes)
                    .map_err(|message| own_answer(501, &format!("serve --cassette: {message}")))
            }
            Err(error) => Err(own_answer(400, &error.to_string())),
        };
        let (bytes, close) = match answer {
            Ok(bytes) => (bytes, false),
            Err(bytes) => (bytes, true),
        };
        if stream.write_all(&bytes).await.is_err() || close {
            return;
        }
    }
}

/// `GET /__terminus/health`, as `serve` answers it: the server is up.
fn health() -> Vec<u8> {
    let body = serde_json::json!({ "status": "ok", "mode": "cassette" }).to_string();
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
