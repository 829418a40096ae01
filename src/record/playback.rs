//! `terminus serve --cassette DIR`: a cassette played back as a server (VCR-style).
//!
//! A request is matched on provider, action, version, region and parameters (the JSON body parsed, or the form
//! parameters without `Nonce`, `Timestamp`, `Signature`, `SecretId`, `Token`, `RequestClient`; `ClientToken`,
//! which the Go SDK makes up per call, ignored): never on signature or timestamp, which change every call. Repeated
//! identical requests are answered in recorded order (a recorded 429 then 200 plays back as 429 then 200). A
//! request that matches nothing, or whose recorded answers are used up, is answered `501` with a JSON error that
//! names the nearest recorded exchange and what differs.
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
use crate::harness::http1::Stream;
use crate::message::Request;
use crate::mock::ServerThread;
use crate::provider::ProviderId;
use crate::signing::hmac_param::Params;

/// What a request is matched on.
#[derive(Clone, Debug, PartialEq)]
struct Key {
    provider: &'static str,
    action: Option<String>,
    version: Option<String>,
    region: Option<String>,
    params: Value,
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
        Self {
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

/// The cassette and which of its exchanges have been played.
#[derive(Debug)]
struct Tape {
    exchanges: Vec<(Key, Recorded)>,
    played: Vec<bool>,
}

impl Tape {
    /// The recorded answer for `request`, or the error that names the nearest exchange.
    fn answer(&mut self, request: &Request) -> Result<Vec<u8>, String> {
        let key = Key::of(request);
        let next = (0..self.exchanges.len())
            .find(|&index| !self.played[index] && self.exchanges[index].0 == key);
        if let Some(index) = next {
            self.played[index] = true;
            let recorded = &self.exchanges[index].1;
            return match &recorded.response {
                Some(response) => {
                    let mut response = response.clone();
                    let length = response.body.len().to_string();
                    for (name, value) in &mut response.headers {
                        if name.eq_ignore_ascii_case("content-length") {
                            value.clone_from(&length);
                        }
                    }
                    Ok(response_bytes(&response))
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
                "{}: all {used} recorded answers to this request have been played",
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
    thread: ServerThread,
}

impl Playback {
    /// Reads the cassette and starts answering on `listen`.
    pub fn start(dir: &Path, listen: SocketAddr) -> Result<Self, String> {
        let (_, recorded) = cassette::read(dir)?;
        let exchanges: Vec<_> = recorded
            .into_iter()
            .map(|recorded| (Key::of(&recorded.request), recorded))
            .collect();
        let tape = Arc::new(Mutex::new(Tape {
            played: vec![false; exchanges.len()],
            exchanges,
        }));
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
                                if let Ok((stream, _)) = accepted {
                                    tokio::spawn(serve(Box::new(stream), Arc::clone(&tape)));
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
            thread: ServerThread::new(shutdown, thread),
        })
    }

    /// The address it answers on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Blocks until the process is stopped.
    pub fn wait(self) {
        self.thread.wait();
    }
}

async fn serve(mut stream: Box<dyn Stream>, tape: Arc<Mutex<Tape>>) {
    let mut buffer = Vec::new();
    let mut tunnelled = false;
    loop {
        let Some(incoming) = next_request(&mut stream, &mut buffer).await else {
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
            Ok(request) => tape
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .answer(&request)
                .map_err(|message| own_answer(501, &format!("serve --cassette: {message}"))),
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
