//! The recording proxy: a forward proxy for the providers' hosts that keeps every exchange in a cassette.
//!
//! Two inbound modes (`reference/recorder.md` §1.3):
//! - **plain HTTP, upgraded**: the client sends absolute-form `POST http://cvm.tencentcloudapi.com/ HTTP/1.1`; the
//!   proxy sends the same bytes (origin-form target) over HTTPS. No scheme is signed, so signatures stay valid.
//! - **`CONNECT` with interception**: the proxy answers `200`, then terminates TLS with a leaf for the named host
//!   minted by its generated CA ([`crate::tls::Authority`]), and forwards each request inside over its own TLS.
//!
//! Only the providers' hosts are forwarded ([`crate::provider::is_provider_host`], failover roots included);
//! anything else is answered `403` and never leaves. `--upstream URL` sends everything to one server instead
//! (a `terminus serve --tls`, a private deployment), trusting `--ca-cert` for its TLS.
//!
//! The client's request is read with `httparse` (heads, bodies and the whole request's time are bounded, the target
//! host checked before the body is read; a chunked request body is refused with `411`: every official client sends
//! `Content-Length`) and sent on by [`super::upstream`] (reqwest, HTTP/1.1 only: chunked and `1xx` answers,
//! keep-alive, TLS), with the client's headers in its order, their names in lower case (every scheme signs header
//! names in lower case, so signatures stay valid). The answer goes back to the client as that client read it, its
//! body whole with a true `Content-Length`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::cassette::{AppendError, Entry, Writer, now_rfc3339, response_bytes};
use super::redact::Redactor;
use super::upstream;
use crate::harness::http1::Stream;
use crate::message::Request;
use crate::mock::ServerThread;
use crate::provider::{ProviderId, is_provider_host};
use crate::signing::leak::Known;
use crate::tls::{Authority, NamePolicy, Trust};

/// The largest request head read.
const MAX_HEAD: usize = 64 * 1024;
/// The largest request body read.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// How long a client may take to send a whole request (head and body) once its first byte has come, and to finish
/// a handshake: one deadline for all of it, not one per read (a byte every ten seconds does not keep it open).
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(30);
/// Connections served at once; one more is answered 503 and closed (`serve`'s default).
const MOST_CONNECTIONS: usize = 512;
/// How long an idle keep-alive connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the upstream may take to answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

/// What the proxy is set up with.
#[derive(Debug)]
pub struct RecorderConfig {
    /// Where to listen (loopback by default: every request through it carries a live credential).
    pub listen: SocketAddr,
    /// The cassette directory.
    pub out: PathBuf,
    /// Send everything here instead of the real hosts (`https://127.0.0.1:8443`, `http://…`).
    pub upstream: Option<String>,
    /// Whom the upstream TLS trusts.
    pub trust: Trust,
    /// Extra strings to redact.
    pub redact: Vec<String>,
    /// Secrets known up front (the secret key, a token: from the environment the official clients read), redacted
    /// and searched for like the ones the requests show.
    pub secrets: Vec<Known>,
    /// Told one line per exchange (what was written or refused, and why); none: silent.
    pub log: Option<Log>,
    /// How long a client may take to send a whole request ([`REQUEST_DEADLINE`] by default).
    pub request_deadline: Duration,
}

/// Where the recorder's lines go (the CLI prints them).
#[derive(Clone)]
pub struct Log(pub Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Log")
    }
}

/// What the recorder did with the exchanges it forwarded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Written to the cassette.
    pub written: usize,
    /// Not written because a secret of the session would have been.
    pub refused_secret: usize,
    /// Not written for another reason (a file that could not be written, a full cassette).
    pub refused_other: usize,
}

/// A running recorder.
#[derive(Debug)]
pub struct Recorder {
    address: SocketAddr,
    authority: Arc<Authority>,
    state: Arc<State>,
    thread: ServerThread,
}

/// Where requests go.
#[derive(Debug)]
enum Upstream {
    /// The host the client addressed, on 443, over TLS.
    Providers,
    /// One server.
    Fixed { tls: bool, host: String, port: u16 },
}

struct State {
    authority: Arc<Authority>,
    upstream: Upstream,
    client: upstream::Client,
    cassette: Mutex<(Writer, Redactor, Counts)>,
    log: Option<Log>,
    request_deadline: Duration,
    connections: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Creates the cassette directory, generates the CA and starts listening.
    pub fn start(config: RecorderConfig) -> Result<Self, String> {
        let upstream = match &config.upstream {
            None => Upstream::Providers,
            Some(url) => parse_upstream(url)?,
        };
        let upstream_name = config
            .upstream
            .clone()
            .unwrap_or_else(|| "https://<host>".into());
        let redactor = Redactor::new(config.redact, config.secrets);
        let writer =
            Writer::create(&config.out, &upstream_name, redactor.needles()).map_err(|error| {
                format!(
                    "cannot create the cassette {}: {error}",
                    config.out.display()
                )
            })?;
        let authority = Authority::generate().map_err(|error| error.to_string())?;
        let client = upstream::Client::new(&config.trust)?;
        let listener = std::net::TcpListener::bind(config.listen)
            .map_err(|error| format!("cannot listen on {}: {error}", config.listen))?;
        listener
            .set_nonblocking(true)
            .map_err(|error| error.to_string())?;
        let address = listener.local_addr().map_err(|error| error.to_string())?;
        let state = Arc::new(State {
            authority: Arc::clone(&authority),
            upstream,
            client,
            cassette: Mutex::new((writer, redactor, Counts::default())),
            log: config.log,
            request_deadline: config.request_deadline,
            connections: Arc::new(tokio::sync::Semaphore::new(MOST_CONNECTIONS)),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("terminus-record")
            .enable_all()
            .build()
            .map_err(|error| error.to_string())?;
        let (shutdown, stop) = tokio::sync::oneshot::channel();
        let serving = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("terminus-record".into())
            .spawn(move || {
                runtime.block_on(async move {
                    if let Ok(listener) = TcpListener::from_std(listener) {
                        accept_loop(listener, serving, stop).await;
                    }
                });
            })
            .map_err(|error| error.to_string())?;
        Ok(Self {
            address,
            authority,
            state,
            thread: ServerThread::new(shutdown, thread),
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://127.0.0.1:PORT`, the proxy URL clients are given.
    pub fn uri(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The generated CA's certificate (PEM), for `CONNECT` clients to trust.
    pub fn ca_pem(&self) -> &str {
        self.authority.certificate_pem()
    }

    /// Exchanges recorded so far.
    pub fn recorded(&self) -> usize {
        self.counts().written
    }

    /// Exchanges forwarded but not written (a secret would have been, or a file could not be).
    pub fn refused(&self) -> usize {
        let counts = self.counts();
        counts.refused_secret + counts.refused_other
    }

    /// What was done with the exchanges so far.
    pub fn counts(&self) -> Counts {
        self.state
            .cassette
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .2
    }

    /// Blocks until the process is stopped.
    pub fn wait(self) {
        self.thread.wait();
    }
}

fn parse_upstream(url: &str) -> Result<Upstream, String> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(format!("--upstream {url}: expected http:// or https://"));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = split_port(authority, if tls { 443 } else { 80 })
        .ok_or_else(|| format!("--upstream {url}: bad host or port"))?;
    Ok(Upstream::Fixed { tls, host, port })
}

/// `host[:port]` (IPv6 in brackets) into the host and port.
fn split_port(authority: &str, default: u16) -> Option<(String, u16)> {
    if authority.is_empty() {
        return None;
    }
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(port) => port.parse().ok()?,
            None if after.is_empty() => default,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_owned(), port.parse().ok()?)),
        None => Some((authority.to_owned(), default)),
    }
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<State>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((mut stream, _)) = accepted {
                    let _ = stream.set_nodelay(true);
                    // One connection over the cap is answered 503 and closed, as `serve` does.
                    let Ok(permit) = Arc::clone(&state.connections).try_acquire_owned() else {
                        let _ = stream.write_all(&own_answer(503, "too many connections")).await;
                        continue;
                    };
                    let state = Arc::clone(&state);
                    tokio::spawn(async move {
                        client_connection(Box::new(stream), state, None).await;
                        drop(permit);
                    });
                } else {
                    // Out of descriptors or a connection gone before it was accepted: breathe, then go on.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            _ = &mut stop => break,
        }
    }
}

/// A request read off a client connection.
pub(super) struct Incoming {
    pub(super) bytes: Vec<u8>,
    pub(super) method: String,
    pub(super) target: String,
}

/// What a reader checks of a request's head before it reads the body: `Err((status, message))` refuses it.
pub(super) type Screen<'a> = &'a (dyn Fn(&str, &str) -> Result<(), (u16, String)> + Sync);

/// The next request on a client connection; none when the connection is done: the client went away, or sent
/// something refused (answered here with the proxy's own error). The whole request must arrive within `deadline`
/// of its first byte; `screen` sees the method and target before any of the body is read.
pub(super) async fn next_request(
    stream: &mut Box<dyn Stream>,
    buffer: &mut Vec<u8>,
    deadline: Duration,
    screen: Screen<'_>,
) -> Option<Incoming> {
    match read_request(stream, buffer, deadline, screen).await {
        Ok(incoming) => Some(incoming),
        Err(ReadError::Gone) => None,
        Err(ReadError::Refuse(status, message)) => {
            let _ = stream.write_all(&own_answer(status, &message)).await;
            None
        }
    }
}

/// Why no request could be read.
enum ReadError {
    /// The client closed or went idle: nothing to answer.
    Gone,
    /// The client sent something the proxy answers with this status and message, then closes.
    Refuse(u16, String),
}

/// Reads one request (head and `Content-Length` body) from `stream`; `buffer` keeps bytes read past it.
async fn read_request(
    stream: &mut Box<dyn Stream>,
    buffer: &mut Vec<u8>,
    deadline: Duration,
    screen: Screen<'_>,
) -> Result<Incoming, ReadError> {
    let mut chunk = [0u8; 16 * 1024];
    // Set when the request's first byte is there (bytes left over from the last request count).
    let mut until: Option<tokio::time::Instant> =
        (!buffer.is_empty()).then(|| tokio::time::Instant::now() + deadline);
    let late = || {
        ReadError::Refuse(
            408,
            format!(
                "the request did not arrive whole within {}s",
                deadline.as_secs()
            ),
        )
    };
    // The head.
    let (head_len, method, target, body_len) = loop {
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(buffer) {
            Ok(httparse::Status::Complete(head_len)) => {
                let mut length = 0usize;
                for header in parsed.headers.iter() {
                    if header.name.eq_ignore_ascii_case("transfer-encoding") {
                        return Err(ReadError::Refuse(
                            411,
                            "chunked request bodies are not recorded: send Content-Length".into(),
                        ));
                    }
                    if header.name.eq_ignore_ascii_case("content-length") {
                        length = std::str::from_utf8(header.value)
                            .ok()
                            .and_then(|value| value.trim().parse().ok())
                            .ok_or_else(|| ReadError::Refuse(400, "bad Content-Length".into()))?;
                    }
                }
                let method = parsed.method.unwrap_or_default().to_owned();
                let target = parsed.path.unwrap_or_default().to_owned();
                // Where it goes is checked before a byte of the body is read.
                screen(&method, &target).map_err(|(status, why)| ReadError::Refuse(status, why))?;
                if length > MAX_BODY {
                    return Err(ReadError::Refuse(
                        413,
                        format!("the body is larger than the {MAX_BODY} bytes the recorder reads"),
                    ));
                }
                break (head_len, method, target, length);
            }
            Ok(httparse::Status::Partial) if buffer.len() > MAX_HEAD => {
                return Err(ReadError::Refuse(
                    431,
                    format!("the head is over {MAX_HEAD} bytes"),
                ));
            }
            Ok(httparse::Status::Partial) => {}
            Err(error) => {
                return Err(ReadError::Refuse(
                    400,
                    format!("not an HTTP/1.1 request: {error}"),
                ));
            }
        }
        let read = match until {
            None => tokio::time::timeout(IDLE_TIMEOUT, stream.read(&mut chunk)).await,
            Some(until) => tokio::time::timeout_at(until, stream.read(&mut chunk)).await,
        };
        match read {
            Err(_) if until.is_some() => return Err(late()),
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Err(ReadError::Gone),
            Ok(Ok(read)) => {
                until.get_or_insert_with(|| tokio::time::Instant::now() + deadline);
                buffer.extend_from_slice(&chunk[..read]);
            }
        }
    };
    let total = head_len + body_len;
    let until = until.unwrap_or_else(|| tokio::time::Instant::now() + deadline);
    while buffer.len() < total {
        match tokio::time::timeout_at(until, stream.read(&mut chunk)).await {
            Err(_) => return Err(late()),
            Ok(Ok(0)) | Ok(Err(_)) => return Err(ReadError::Gone),
            Ok(Ok(read)) => buffer.extend_from_slice(&chunk[..read]),
        }
    }
    let bytes: Vec<u8> = buffer.drain(..total).collect();
    Ok(Incoming {
        bytes,
        method,
        target,
    })
}

/// A short answer of the proxy's own (never the upstream's), then the connection closes.
pub(super) fn own_answer(status: u16, message: &str) -> Vec<u8> {
    let body = serde_json::json!({ "error": format!("terminus: {message}") }).to_string();
    let reason = hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("");
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves one client connection (or, with `tunnel`, the TLS inside a `CONNECT` to that host).
async fn client_connection(mut stream: Box<dyn Stream>, state: Arc<State>, tunnel: Option<String>) {
    let mut buffer = Vec::new();
    let in_tunnel = tunnel.is_some();
    let screen = move |method: &str, target: &str| screen_target(method, target, in_tunnel);
    loop {
        let Some(incoming) =
            next_request(&mut stream, &mut buffer, state.request_deadline, &screen).await
        else {
            return;
        };
        if incoming.method.eq_ignore_ascii_case("CONNECT") {
            if tunnel.is_some() {
                let _ = stream
                    .write_all(&own_answer(400, "CONNECT inside a CONNECT tunnel"))
                    .await;
                return;
            }
            let Some((host, _port)) = split_port(&incoming.target, 443) else {
                let _ = stream
                    .write_all(&own_answer(400, "CONNECT needs host:port"))
                    .await;
                return;
            };
            if !is_provider_host(&host) {
                let _ = stream
                    .write_all(&own_answer(
                        403,
                        &format!("{host} is not a provider host: not forwarded"),
                    ))
                    .await;
                return;
            }
            if stream
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await
                .is_err()
            {
                return;
            }
            let policy: NamePolicy = Arc::new(is_provider_host);
            let acceptor = tokio_rustls::TlsAcceptor::from(state.authority.server_config(policy));
            let Ok(Ok(tls)) = tokio::time::timeout(REQUEST_DEADLINE, acceptor.accept(stream)).await
            else {
                return;
            };
            Box::pin(client_connection(Box::new(tls), state, Some(host))).await;
            return;
        }
        let answer = forward(&incoming, &state, tunnel.as_deref()).await;
        let close = matches!(answer, Forwarded::Refused(_));
        let bytes = match answer {
            Forwarded::Answer(bytes) | Forwarded::Refused(bytes) => bytes,
        };
        if stream.write_all(&bytes).await.is_err() || close {
            return;
        }
    }
}

/// The proxy's check of a head before its body is read: a `CONNECT` (checked itself) and a request inside a
/// tunnel (its host was checked at the `CONNECT`) pass; an absolute-form target must name a provider's host.
fn screen_target(method: &str, target: &str, in_tunnel: bool) -> Result<(), (u16, String)> {
    if in_tunnel || method.eq_ignore_ascii_case("CONNECT") {
        return Ok(());
    }
    let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    else {
        return Err((
            400,
            "origin-form request to a proxy: configure the client with this address as its HTTP(S) proxy".into(),
        ));
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    match split_port(authority, 80) {
        Some((host, _)) if is_provider_host(&host) => Ok(()),
        Some((host, _)) => Err((403, format!("{host} is not a provider host: not forwarded"))),
        None => Err((400, "bad host in the absolute-form target".into())),
    }
}

enum Forwarded {
    Answer(Vec<u8>),
    Refused(Vec<u8>),
}

/// Forwards one request upstream, records it, and returns the bytes for the client.
async fn forward(incoming: &Incoming, state: &State, tunnel: Option<&str>) -> Forwarded {
    let refuse = |status, message: &str| Forwarded::Refused(own_answer(status, message));
    let Ok(mut request) = Request::parse(&incoming.bytes) else {
        return refuse(400, "the request does not parse as HTTP/1.1");
    };
    // The host the client addressed: the CONNECT's, or the absolute-form target's.
    let host = match tunnel {
        Some(host) => host.to_owned(),
        None => {
            let Some(rest) = incoming
                .target
                .strip_prefix("http://")
                .or_else(|| incoming.target.strip_prefix("https://"))
            else {
                return refuse(
                    400,
                    "origin-form request to a proxy: configure the client with this address as its HTTP(S) proxy",
                );
            };
            let authority = rest.split(['/', '?']).next().unwrap_or_default();
            match split_port(authority, 80) {
                Some((host, _)) => host,
                None => return refuse(400, "bad host in the absolute-form target"),
            }
        }
    };
    if !is_provider_host(&host) {
        return refuse(
            403,
            &format!("{host} is not a provider host: not forwarded"),
        );
    }
    // Upstream gets origin form; so does the cassette (the request as the client would send it to the host).
    let origin = match request.query() {
        "" => request.path().to_owned(),
        query => format!("{}?{query}", request.path()),
    };
    request.target = origin;

    let origin = match &state.upstream {
        Upstream::Providers => format!("https://{host}"),
        Upstream::Fixed { tls, host, port } => {
            let scheme = if *tls { "https" } else { "http" };
            // An IPv6 literal goes in brackets in a URL.
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.clone()
            };
            format!("{scheme}://{host}:{port}")
        }
    };
    let sent_at = now_rfc3339();
    let started = Instant::now();
    // The whole exchange under one deadline; a kept connection the server closed meanwhile is retried on a new
    // one by the client's pool.
    let result = tokio::time::timeout(UPSTREAM_TIMEOUT, async {
        let response = state.client.exchange(&origin, &request).await?;
        Ok((response_bytes(&response), response))
    })
    .await
    .unwrap_or_else(|_| Err(format!("no answer within {}s", UPSTREAM_TIMEOUT.as_secs())));
    let elapsed = started.elapsed();

    let provider = ProviderId::route(ProviderId::ALL, &request);
    let entry = Entry {
        name: String::new(),
        provider: provider.name().to_owned(),
        host: host.clone(),
        via: if tunnel.is_some() { "connect" } else { "http" }.to_owned(),
        action: provider.action_of(&request),
        // Filled from the redacted request by the writer: nothing here may carry a client string unredacted.
        user_agent: None,
        request_client: None,
        sent_at,
        elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        status: result.as_ref().ok().map(|(_, response)| response.status),
        no_answer: result.as_ref().err().cloned(),
    };
    record(
        state,
        &request,
        result.as_ref().ok().map(|(_, response)| response),
        entry,
    );
    match result {
        Ok((raw, _)) => Forwarded::Answer(raw),
        Err(error) => refuse(502, &format!("upstream {origin}: {error}")),
    }
}

/// Redacts and appends one exchange; a refusal is counted and reported (where the secret was, never the secret),
/// never written. Either way one line tells the log: the exchange's name (or `----`), action, status, error code,
/// and what redaction did or why nothing was written.
fn record(
    state: &State,
    request: &Request,
    response: Option<&crate::exchange::Response>,
    entry: Entry,
) {
    let mut cassette = state
        .cassette
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let (writer, redactor, counts) = &mut *cassette;
    let line = match redactor.redact(request, response) {
        Ok(redacted) => {
            // Shown only as redacted, and withheld if a secret is still readable in it.
            let needles = redacted.needles();
            let shown = |text: &str| {
                let text = redacted.redact_text(text);
                if needles.find(text.as_bytes()).is_some() {
                    "[withheld]".to_owned()
                } else {
                    text
                }
            };
            let action = entry
                .action
                .as_deref()
                .map_or_else(|| "-".to_owned(), shown);
            let (status, code) = match redacted.response() {
                Some(answer) => (
                    answer.status.to_string(),
                    serde_json::from_slice(&answer.body)
                        .ok()
                        .and_then(|json| super::replay::error_code(&json))
                        .map_or_else(|| "-".to_owned(), |code| shown(&code)),
                ),
                None => ("no-answer".to_owned(), "-".to_owned()),
            };
            match writer.append(&redacted, entry) {
                Ok(written) => {
                    counts.written += 1;
                    let applied = redacted.applied();
                    format!(
                        "{} {status} {code} written; {}",
                        written.name,
                        if applied.is_empty() {
                            "nothing to redact".to_owned()
                        } else {
                            applied.join(", ")
                        }
                    )
                }
                Err(error) => {
                    if matches!(error, AppendError::Leak { .. }) {
                        counts.refused_secret += 1;
                    } else {
                        counts.refused_other += 1;
                    }
                    format!("---- {action} {status} {code} {error}")
                }
            }
        }
        Err(error) => {
            counts.refused_other += 1;
            format!("---- not written: {error}")
        }
    };
    drop(cassette);
    if let Some(log) = &state.log {
        (log.0)(&line);
    }
}
