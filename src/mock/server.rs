//! The HTTP wiring: hyper's HTTP/1.1 server on tokio, keep-alive, and the order in which a request meets the
//! mock: control API, then faults, then its provider.
//!
//! Requests are turned into [`Request`]s (target as sent, so absolute-form proxy requests keep their host;
//! header values as sent; body bytes). A body larger than the provider accepts is refused before it is read,
//! and reading a body waits at most [`super::Limits::body_timeout`], so a client that stops sending cannot hold a
//! connection.
//! `CONNECT` is answered `200` and the tunnel is served as HTTP again, so clients that always tunnel through a
//! proxy reach the mock too; one level only: a `CONNECT` inside a tunnel is answered `400` and the tunnel stays
//! as it was (each nested tunnel used to be one more level of nested tasks and stack).
//!
//! With a TLS configuration ([`super::MockServerBuilder::tls`], `terminus serve --tls`) each accepted connection
//! is a rustls handshake first, bounded by [`HEAD_TIMEOUT`]; tunnels inside it are served as plain HTTP.
//!
//! What one client can take is bounded ([`super::Limits`]): connections (a semaphore; one over the cap is answered
//! `503` and closed), body bytes being read (a semaphore of bytes, reserved before reading; no room is a `503`).
//! When accepting fails for want of resources (no file descriptor left, no buffer space), the loop waits, doubling
//! from [`ACCEPT_BACKOFF_FIRST`] to [`ACCEPT_BACKOFF_MOST`], instead of trying again at once.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, HOST, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};

use super::journal::{Entry, Received, Verdict};
use super::{Shared, control};
use crate::message::Reply;
use crate::message::Request;
use crate::provider::{Problem, ProviderId};
use crate::signing::tokens;
use crate::world::fault::Outcome;

/// How long it waits for a request's head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// The first wait after accepting failed for want of resources.
const ACCEPT_BACKOFF_FIRST: Duration = Duration::from_millis(5);
/// The longest wait between tries to accept while resources are short.
const ACCEPT_BACKOFF_MOST: Duration = Duration::from_secs(1);
/// The body of the answer a connection over the cap receives before it is closed.
const OVER_CONNECTION_CAP: &str =
    r#"{"error":"terminus serve is at its connection cap (--max-connections); try again later"}"#;

/// Accepts connections until `stop` fires.
pub(super) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<Arc<rustls::ServerConfig>>,
    workers: &super::workers::Workers,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut backoff = ACCEPT_BACKOFF_FIRST;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    backoff = ACCEPT_BACKOFF_FIRST;
                    let Ok(permit) = Arc::clone(&shared.connections).try_acquire_owned() else {
                        // On a TLS port a plaintext answer reads as a broken record to the client
                        // (`WRONG_VERSION_NUMBER`), and a handshake is the work the cap is there to refuse: the
                        // connection is closed at once, with nothing written.
                        if acceptor.is_some() {
                            continue;
                        }
                        // Non-blocking: the answer fits any socket buffer, and a peer that does not read it
                        // cannot hold the accept loop. (A peer that has already sent a request may see a reset
                        // instead: the connection is closed with its request unread.)
                        let answer = format!(
                            "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n\
                             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{OVER_CONNECTION_CAP}",
                            OVER_CONNECTION_CAP.len()
                        );
                        let _ = stream.try_write(answer.as_bytes());
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    // Handed to a worker, in whose runtime it is registered and served from then on.
                    let Ok(stream) = stream.into_std() else {
                        continue;
                    };
                    let shared = Arc::clone(&shared);
                    let acceptor = acceptor.clone();
                    workers.next().spawn(async move {
                        let Ok(stream) = tokio::net::TcpStream::from_std(stream) else {
                            return;
                        };
                        match acceptor {
                            None => connection(TokioIo::new(stream), shared, Place::Listener, permit).await,
                            Some(acceptor) => {
                                // A peer that never finishes its handshake holds its place no longer than one
                                // that never sends a request's head; a failed handshake is its own business.
                                let handshake = acceptor.accept(stream);
                                if let Ok(Ok(stream)) = tokio::time::timeout(HEAD_TIMEOUT, handshake).await {
                                    connection(TokioIo::new(stream), shared, Place::Listener, permit).await;
                                }
                            }
                        }
                    });
                }
                Err(error) if out_of_resources(&error) => {
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        _ = &mut stop => break,
                    }
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MOST);
                }
                // A connection that failed between the peer's connect and our accept: the next one is unaffected.
                Err(_) => {}
            },
            _ = &mut stop => break,
        }
    }
}

/// Accept errors that trying again at once cannot cure: no file descriptor (process or system), no memory or
/// buffer space.
fn out_of_resources(error: &std::io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    ) || error.kind() == std::io::ErrorKind::OutOfMemory
}

/// Where a connection comes from: accepted on the listener, or a `CONNECT` tunnel inside one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Listener,
    Tunnel,
}

/// A connection dropped on purpose (an injected fault): hyper closes it without an answer.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

/// Serves one connection; `_permit` is its place under the connection cap, given back when it ends.
async fn connection<I>(io: I, shared: Arc<Shared>, place: Place, _permit: OwnedSemaphorePermit)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let scratch = Arc::new(std::sync::Mutex::new(Some(Box::default())));
    let service = service_fn(move |request| {
        let shared = Arc::clone(&shared);
        let scratch = Arc::clone(&scratch);
        async move { answer(request, shared, place, scratch).await }
    });
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        .title_case_headers(true)
        .header_read_timeout(HEAD_TIMEOUT)
        .keep_alive(true)
        .serve_connection(io, service)
        .with_upgrades()
        .await;
}

/// A connection's buffers, refilled for each request on it (HTTP/1.1 answers one at a time), so that once warm a
/// keep-alive client's requests cost no allocation to copy or to journal: the copy of the request, and the entry
/// the journal last let go of, whose blocks the next entry reuses.
#[derive(Default)]
struct Scratch {
    request: Request,
    spare: Option<Box<Entry>>,
}

/// The most body capacity a connection's request buffer keeps between requests.
const SCRATCH_BODY_KEPT: usize = 64 * 1024;
/// The most bytes a spare journal entry's request copy may hold to be kept (a usual request is well under 2 KiB).
const SPARE_ENTRY_KEPT: usize = 8 * 1024;

async fn answer(
    request: hyper::Request<Incoming>,
    shared: Arc<Shared>,
    place: Place,
    scratch: Arc<std::sync::Mutex<Option<Box<Scratch>>>>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let lock = || {
        scratch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    // Boxed, so that taking the buffers and giving them back moves a pointer.
    let mut buffers = lock().take().unwrap_or_default();
    let answered = answer_in(request, shared, place, &mut buffers).await;
    if buffers.request.body.capacity() > SCRATCH_BODY_KEPT {
        buffers.request.body = Vec::new();
    }
    if buffers
        .spare
        .as_ref()
        .is_some_and(|entry| entry.request.capacity() > SPARE_ENTRY_KEPT)
    {
        buffers.spare = None;
    }
    *lock() = Some(buffers);
    answered
}

/// Answers a request, copying it into `scratch`'s buffers.
async fn answer_in(
    request: hyper::Request<Incoming>,
    shared: Arc<Shared>,
    place: Place,
    scratch: &mut Scratch,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let Scratch {
        request: buffers,
        spare,
    } = scratch;
    if request.method() == Method::CONNECT {
        return Ok(match place {
            Place::Listener => tunnel(request, shared),
            Place::Tunnel => respond(Reply::error(
                400,
                "CONNECT inside a CONNECT tunnel: one level of tunnel is all a proxy client needs",
            )),
        });
    }
    let arrived = std::time::Instant::now();
    let arrived_at = time::OffsetDateTime::now_utc();
    let (head, body) = request.into_parts();
    // The cloud-like profile has no control API: its paths are provider paths like any other.
    if head.uri.path().starts_with(control::PREFIX) && !shared.cloud {
        return Ok(respond(control_call(head, body, &shared, place).await));
    }
    // RFC 9112 §3.2: an HTTP/1.1 request without exactly one Host is answered 400, before any provider sees it.
    if head.version == hyper::Version::HTTP_11 && head.headers.get_all(HOST).iter().count() != 1 {
        return Ok(bare(StatusCode::BAD_REQUEST));
    }
    let unreadable = copy_head(&head, buffers);
    let request = buffers;
    let provider = ProviderId::route(&shared.providers, request);
    let limit = provider.body_limit(request);
    let declared = head
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.trim().parse::<usize>().ok());
    // The body's room is held until the answer is built: the bytes live that long (and across a fault's delay).
    let mut _room = None;
    let problem = if declared.is_some_and(|length| length > limit) {
        Some(Problem::TooLarge { limit })
    } else {
        match reserve_body(&shared, declared, limit) {
            Some(room) => _room = room,
            None => return Ok(respond(over_body_cap(&shared))),
        }
        if let Some(length) = declared {
            // One block of the declared size: growing by doubling to a 10 MB body leaves the allocator's heap
            // fragmented long after the body is gone.
            request.body.reserve_exact(length);
        }
        match read_body(body, limit, shared.limits.body_timeout, &mut request.body).await {
            Ok(()) => unreadable,
            Err(problem) => Some(problem),
        }
    };

    let action = provider.action_of(request);
    let (strike, world_time) = {
        let mut world = shared.world();
        (world.faults.strike(action.as_deref()), world.clock.now())
    };
    if !strike.delay.is_zero() {
        tokio::time::sleep(strike.delay).await;
    }
    let faulted = strike.outcome.is_some();
    let problem = match strike.outcome {
        Some(Outcome::Drop) => None,
        Some(Outcome::Error { code, message }) => Some(Problem::Fault { code, message }),
        Some(Outcome::Http { status, message }) => Some(Problem::HttpFault { status, message }),
        None => problem,
    };
    let named = (shared.log.is_some() || shared.tripwire).then(|| {
        let at = shared.world().clock.now();
        (at, super::log::named_existing(|| shared.world(), request))
    });
    // The tripwire: a request that could change state and names an existing instance is not served.
    let tripped = shared.tripwire
        && !super::log::is_read(action.as_deref())
        && named.as_ref().is_some_and(|(_, ids)| !ids.is_empty());
    let problem = if tripped {
        shared
            .trips
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let ids = named
            .as_ref()
            .map(|(_, ids)| ids.join(", "))
            .unwrap_or_default();
        tracing::warn!(target: "terminus::tripwire", action = ?action, ids = %ids, "tripwire: a state-changing request named existing instances");
        Some(Problem::Fault {
            code: Some(super::log::TRIPWIRE_CODE.into()),
            message: Some(format!(
                "terminus tripwire: {} names existing instances ({ids}); not served",
                action.as_deref().unwrap_or("a request without an action")
            )),
        })
    } else {
        problem
    };
    let reply = match (faulted && !tripped, problem) {
        (true, None) => None,
        (_, Some(problem)) => Some(provider.error(problem, request, &shared.world)),
        (false, None) => Some(provider.handle(request, &shared.world)),
    };
    let explain = request
        .header(EXPLAIN_HEADER)
        .is_some_and(|value| !value.trim().is_empty() && value.trim() != "0");
    if let Some(reply) = &reply {
        super::scenario::observe(&shared, provider, request, reply);
        if let (Some(log), Some((at, names_existing))) = (&shared.log, named) {
            log.write(&super::log::Entry {
                at,
                provider,
                action: provider.action_of(request),
                status: reply.status,
                code: super::log::code_of(provider, reply),
                names_existing,
                tripped,
            });
        }
    }
    let heard = Heard {
        request: &*request,
        provider,
        action,
        arrived_at,
        world_time,
        faulted,
    };
    let Some(mut reply) = reply else {
        heard.record(None, arrived, &shared, spare);
        return Err(Dropped);
    };
    let id = heard.record(Some(&reply), arrived, &shared, spare);
    if explain {
        reply
            .headers
            .push(("X-Terminus-Journal-Id", id.to_string().into()));
        if let Some(diagnosis) = &reply.diagnosis {
            let mut summary = diagnosis.summary();
            // A quoted canonical line can be a whole query string; clients cap header lines (Python: 64 KiB).
            if summary.len() > DIAGNOSIS_HEADER_BYTES {
                summary.truncate(DIAGNOSIS_HEADER_BYTES);
                summary.push_str("... (the journal entry has it whole)");
            }
            reply.headers.push(("X-Terminus-Diagnosis", summary.into()));
        }
    }
    if !keeps_alive(head.version, &head.headers) {
        reply.close();
    }
    Ok(respond(reply))
}

/// The request header that asks for the diagnosis of a rejected signature in the answer (`X-Terminus-Diagnosis`)
/// and the answer's journal entry (`X-Terminus-Journal-Id`); without it the answer is exactly the provider's.
const EXPLAIN_HEADER: &str = "x-terminus-explain";
/// The most bytes of a diagnosis sent in `X-Terminus-Diagnosis` (the summary is ASCII, so any cut is a boundary).
const DIAGNOSIS_HEADER_BYTES: usize = 2048;

/// A provider request as the journal and the log see it.
struct Heard<'r> {
    request: &'r Request,
    provider: ProviderId,
    action: Option<String>,
    arrived_at: time::OffsetDateTime,
    world_time: i64,
    faulted: bool,
}

impl Heard<'_> {
    /// Writes the journal entry and the log line of this request and its answer (`None`: dropped); the entry's id.
    /// What the provider said of its answer ([`Reply::summary`]) is taken as said; otherwise the answer's code
    /// and the request's SecretId are read back. The entry reuses `spare`'s blocks, and the entry the journal lets
    /// go of becomes the next `spare`.
    fn record(
        self,
        reply: Option<&Reply>,
        arrived: std::time::Instant,
        shared: &Shared,
        spare: &mut Option<Box<Entry>>,
    ) -> u64 {
        let latency_us = u64::try_from(arrived.elapsed().as_micros()).unwrap_or(u64::MAX);
        let read_back: (Option<String>, Option<String>);
        let (code, secret_id) = match reply.and_then(|reply| reply.summary.as_ref()) {
            Some(summary) => (summary.code.as_deref(), summary.secret_id.as_deref()),
            None => {
                read_back = (
                    reply.and_then(|reply| match self.provider.read_answer(&reply.body) {
                        Ok(Err(code)) => Some(code),
                        _ => None,
                    }),
                    crate::signing::inspect(self.request)
                        .ok()
                        .and_then(|claim| claim.secret_id),
                );
                (read_back.0.as_deref(), read_back.1.as_deref())
            }
        };
        let verdict = match (reply, self.faulted, code) {
            (None, _, _) => Verdict::Dropped,
            (Some(_), true, _) => Verdict::Fault,
            (Some(_), false, Some(_)) => Verdict::Error,
            (Some(reply), false, None) if reply.status < 400 => Verdict::Ok,
            (Some(_), false, None) => Verdict::Error,
        };
        let mut entry = match spare.take() {
            Some(mut entry) => {
                entry.request.refill(self.request);
                entry
            }
            None => Box::new(Entry {
                id: 0,
                arrived_at: self.arrived_at,
                world_time: 0,
                provider: "",
                action: None,
                secret_id: None,
                verdict,
                status: None,
                code: None,
                latency_us: 0,
                request: Received::of(self.request),
                diagnosis: None,
            }),
        };
        entry.arrived_at = self.arrived_at;
        entry.world_time = self.world_time;
        entry.provider = self.provider.name();
        refill(&mut entry.action, self.action.as_deref());
        refill(&mut entry.secret_id, secret_id);
        entry.verdict = verdict;
        entry.status = reply.map(|reply| reply.status);
        refill(&mut entry.code, code);
        entry.latency_us = latency_us;
        entry.diagnosis = reply.and_then(|reply| reply.diagnosis.clone());
        log(&entry);
        let (id, evicted) = shared.journal().push(entry);
        *spare = evicted;
        id
    }
}

/// Sets an optional text to `text`, in the block it has when it is large enough.
fn refill(kept: &mut Option<String>, text: Option<&str>) {
    match (kept.as_mut(), text) {
        (Some(kept), Some(text)) => {
            kept.clear();
            kept.push_str(text);
        }
        (None, Some(text)) => *kept = Some(text.to_owned()),
        (_, None) => *kept = None,
    }
}

/// The log line of a request: `info` for an answer, `warn` for a rejected signature (with its diagnosis).
fn log(entry: &Entry) {
    let action = entry.action.as_deref().unwrap_or("-");
    let secret_id = entry.secret_id.as_deref().unwrap_or("-");
    let code = entry.code.as_deref().unwrap_or("-");
    let status = entry.status.map_or(0, u16::from);
    match &entry.diagnosis {
        Some(diagnosis) => tracing::warn!(
            target: "terminus::request",
            provider = entry.provider,
            action,
            secret_id,
            verdict = entry.verdict.name(),
            status,
            code,
            latency_us = entry.latency_us,
            mistake = diagnosis.mistake.unwrap_or("-"),
            diagnosis = %diagnosis.summary(),
            "{} {} {} {code}",
            entry.request.method(),
            tokens::parameters(entry.request.target()),
            status,
        ),
        None => tracing::info!(
            target: "terminus::request",
            provider = entry.provider,
            action,
            secret_id,
            verdict = entry.verdict.name(),
            status,
            code,
            latency_us = entry.latency_us,
            "{} {} {} {code}",
            entry.request.method(),
            tokens::parameters(entry.request.target()),
            status,
        ),
    }
}

/// Whether the client keeps the connection open after this exchange (RFC 9112 §9.3): HTTP/1.1 unless it says
/// `close`, HTTP/1.0 only when it says `keep-alive`. hyper closes accordingly; a reply's `Connection` says so too.
fn keeps_alive(version: hyper::Version, headers: &hyper::HeaderMap) -> bool {
    let says = |token: &str| {
        headers
            .get_all(hyper::header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|item| item.trim().eq_ignore_ascii_case(token))
    };
    match version {
        hyper::Version::HTTP_10 => says("keep-alive"),
        _ => !says("close"),
    }
}

/// A control call: its access checked first (`control::admit`), then its body read in full or not at all: a body
/// that cannot be read (over the limit, cut short, stalled) is a `413` or `400`, never an empty body.
async fn control_call(
    head: hyper::http::request::Parts,
    body: Incoming,
    shared: &Shared,
    place: Place,
) -> Reply {
    let access = control::Access {
        method: head.method.as_str(),
        uri: &head.uri,
        headers: &head.headers,
        tunnelled: place == Place::Tunnel,
    };
    if let Err(refusal) = control::admit(&access, shared) {
        return refusal;
    }
    let declared = head
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.trim().parse::<usize>().ok());
    if declared.is_some_and(|length| length > control::BODY_LIMIT) {
        return control::too_large();
    }
    let Some(_room) = reserve_body(shared, declared, control::BODY_LIMIT) else {
        return over_body_cap(shared);
    };
    let mut bytes = Vec::new();
    match read_body(
        body,
        control::BODY_LIMIT,
        shared.limits.body_timeout,
        &mut bytes,
    )
    .await
    {
        Ok(()) => control::handle(head.method.as_str(), &head.uri, &bytes, shared),
        Err(Problem::TooLarge { .. }) => control::too_large(),
        Err(Problem::Unreadable(why)) => Reply::error(400, &why),
        Err(_) => Reply::error(400, "The request body could not be read."),
    }
}

/// Room for a body under the cap on body bytes in flight: its declared length, or `limit` when it declares none
/// (chunked); `None` when there is no room now.
fn reserve_body(
    shared: &Shared,
    declared: Option<usize>,
    limit: usize,
) -> Option<Option<SemaphorePermit<'_>>> {
    let bytes = declared.unwrap_or(limit).min(limit);
    if bytes == 0 {
        return Some(None);
    }
    let bytes = u32::try_from(bytes).ok()?;
    shared.body_bytes.try_acquire_many(bytes).ok().map(Some)
}

/// The answer when the bodies in flight leave no room for one more.
fn over_body_cap(shared: &Shared) -> Reply {
    let mut reply = Reply::error(
        503,
        &format!(
            "terminus serve has no room for this body now: the request bodies it reads at once are capped at {} bytes (--max-body-bytes-in-flight); try again later",
            shared.limits.body_bytes_in_flight
        ),
    );
    // An answer to load, not to the request.
    reply.headers.push(("Retry-After", "1".into()));
    reply
}

/// Reads a body into `into` (emptied first), at most `limit` bytes, within `timeout` ([`super::Limits`]).
async fn read_body(
    body: Incoming,
    limit: usize,
    timeout: Duration,
    into: &mut Vec<u8>,
) -> Result<(), Problem> {
    into.clear();
    let read = async {
        let mut body = body;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|error| {
                Problem::Unreadable(format!("The request body could not be read: {error}."))
            })?;
            if let Ok(data) = frame.into_data() {
                if into.len() + data.len() > limit {
                    return Err(Problem::TooLarge { limit });
                }
                into.extend_from_slice(&data);
            }
        }
        Ok(())
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or_else(|_| {
            Err(Problem::Unreadable(format!(
                "The request body did not arrive within {} s.",
                timeout.as_secs_f64()
            )))
        })
}

/// Copies a request's head into `request`'s buffers (reusing their capacity): method, target as sent, headers in
/// order with their values as sent; the body is emptied. A header whose value is not UTF-8 is left out and named.
fn copy_head(head: &hyper::http::request::Parts, request: &mut Request) -> Option<Problem> {
    use std::fmt::Write as _;
    request.method.clear();
    request.method.push_str(head.method.as_str());
    request.target.clear();
    let _ = write!(request.target, "{}", head.uri);
    request.body.clear();
    let mut unreadable = None;
    let mut kept = 0;
    for (name, value) in &head.headers {
        let Ok(value) = std::str::from_utf8(value.as_bytes()) else {
            unreadable = Some(Problem::HeaderEncoding(name.as_str().to_owned()));
            continue;
        };
        match request.headers.get_mut(kept) {
            Some((kept_name, kept_value)) => {
                kept_name.clear();
                kept_name.push_str(name.as_str());
                kept_value.clear();
                kept_value.push_str(value);
            }
            None => request
                .headers
                .push((name.as_str().to_owned(), value.to_owned())),
        }
        kept += 1;
    }
    request.headers.truncate(kept);
    unreadable
}

/// A status with no body: for what is not a request of any provider.
fn bare(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// The reply's headers in its order; hyper writes their names title-cased (`Content-Type`), as the real gateways
/// do, and adds only what HTTP requires and the reply lacks (`Date`).
fn respond(reply: Reply) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in reply.headers {
        let value = match value {
            // A constant of ours: no copy (`from_static` takes only visible ASCII, checked here rather than by its
            // panic).
            Cow::Borrowed(text)
                if text
                    .bytes()
                    .all(|b| b == b'\t' || (b' '..=b'~').contains(&b)) =>
            {
                Ok(HeaderValue::from_static(text))
            }
            Cow::Borrowed(text) => HeaderValue::from_str(text),
            Cow::Owned(text) => HeaderValue::try_from(text),
        };
        if let (Ok(name), Ok(value)) = (header_name(name), value) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// The name of a reply's header: the names every answer carries are hyper's constants, not parsed again per answer.
fn header_name(name: &str) -> Result<HeaderName, hyper::header::InvalidHeaderName> {
    use hyper::header::{CONNECTION, CONTENT_TYPE, DATE, SERVER};
    Ok(match name {
        "Content-Type" => CONTENT_TYPE,
        "Content-Length" => CONTENT_LENGTH,
        "Date" => DATE,
        "Connection" => CONNECTION,
        "Server" => SERVER,
        _ => return HeaderName::from_bytes(name.as_bytes()),
    })
}

/// Answers `CONNECT` with 200 and serves the tunnel as another HTTP connection to the mock, in its own place
/// under the connection cap (the connection it came from gives its place back when it hands over).
fn tunnel(request: hyper::Request<Incoming>, shared: Arc<Shared>) -> Response<Full<Bytes>> {
    tokio::spawn(async move {
        if let Ok(upgraded) = hyper::upgrade::on(request).await {
            let connections: Arc<Semaphore> = Arc::clone(&shared.connections);
            // The CONNECT's own connection has ended by now, so a permit is normally free; a wait is bounded by
            // the head timeout, as an idle connection would be.
            if let Ok(Ok(permit)) =
                tokio::time::timeout(HEAD_TIMEOUT, connections.acquire_owned()).await
            {
                connection(upgraded, shared, Place::Tunnel, permit).await;
            }
        }
    });
    Response::new(Full::new(Bytes::new()))
}
