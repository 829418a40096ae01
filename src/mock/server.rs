//! The HTTP wiring: hyper's HTTP/1.1 server on tokio, keep-alive, and the order in which a request meets the
//! mock: control API, then faults, then its provider.
//!
//! Requests are turned into [`Request`]s (target as sent, so absolute-form proxy requests keep their host;
//! header values as sent; body bytes). A body larger than the provider accepts is refused before it is read,
//! and reading a body waits at most [`BODY_TIMEOUT`], so a client that stops sending cannot hold a connection.
//! `CONNECT` is answered `200` and the tunnel is served as HTTP again, so clients that always tunnel through a
//! proxy reach the mock too.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, HOST, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::fault::Outcome;
use super::{Reply, Shared, control};
use crate::message::Request;
use crate::provider::{Problem, ProviderId};

/// How long the server waits for a request's body.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long it waits for a request's head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// Accepts connections until `stop` fires.
pub(super) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(TokioIo::new(stream), Arc::clone(&shared)));
            }
            _ = &mut stop => break,
        }
    }
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

async fn connection<I>(io: I, shared: Arc<Shared>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let shared = Arc::clone(&shared);
        async move { answer(request, shared).await }
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

async fn answer(
    request: hyper::Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    if request.method() == Method::CONNECT {
        return Ok(tunnel(request, shared));
    }
    let (head, body) = request.into_parts();
    let target = head.uri.to_string();
    let path = head.uri.path().to_owned();
    if path.starts_with(control::PREFIX) {
        let body = read_body(body, control::BODY_LIMIT)
            .await
            .unwrap_or_default();
        return Ok(respond(control::handle(
            head.method.as_str(),
            &head.uri,
            &body,
            &shared,
        )));
    }

    // RFC 9112 §3.2: an HTTP/1.1 request without exactly one Host is answered 400, before any provider sees it.
    if head.version == hyper::Version::HTTP_11 && head.headers.get_all(HOST).iter().count() != 1 {
        return Ok(bare(StatusCode::BAD_REQUEST));
    }
    let mut request = Request {
        method: head.method.as_str().to_owned(),
        target,
        headers: Vec::with_capacity(head.headers.len()),
        body: Vec::new(),
    };
    let mut unreadable = None;
    for (name, value) in &head.headers {
        match std::str::from_utf8(value.as_bytes()) {
            Ok(value) => request
                .headers
                .push((name.as_str().to_owned(), value.to_owned())),
            Err(_) => unreadable = Some(Problem::HeaderEncoding(name.as_str().to_owned())),
        }
    }
    let provider = ProviderId::route(&request);
    let limit = provider.body_limit(&request);
    let declared = head
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.trim().parse::<usize>().ok());
    let problem = if declared.is_some_and(|length| length > limit) {
        Some(Problem::TooLarge { limit })
    } else {
        match read_body(body, limit).await {
            Ok(bytes) => {
                request.body = bytes;
                unreadable
            }
            Err(problem) => Some(problem),
        }
    };

    let strike = shared
        .world()
        .faults
        .strike(provider.action_of(&request).as_deref());
    if !strike.delay.is_zero() {
        tokio::time::sleep(strike.delay).await;
    }
    let problem = match strike.outcome {
        Some(Outcome::Drop) => return Err(Dropped),
        Some(Outcome::Error(code)) => Some(Problem::Fault { code }),
        Some(Outcome::Http(status)) => Some(Problem::HttpFault { status }),
        None => problem,
    };
    let mut reply = match problem {
        Some(problem) => provider.error(problem, &request, &shared),
        None => provider.handle(&request, &shared),
    };
    if !keeps_alive(head.version, &head.headers) {
        reply.close();
    }
    Ok(respond(reply))
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

/// Reads a body of at most `limit` bytes within [`BODY_TIMEOUT`].
async fn read_body(body: Incoming, limit: usize) -> Result<Vec<u8>, Problem> {
    match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes().to_vec()),
        Ok(Err(error))
            if error
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(Problem::TooLarge { limit })
        }
        Ok(Err(error)) => Err(Problem::Unreadable(format!(
            "The request body could not be read: {error}."
        ))),
        Err(_) => Err(Problem::Unreadable(format!(
            "The request body did not arrive within {} s.",
            BODY_TIMEOUT.as_secs()
        ))),
    }
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
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::try_from(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// Answers `CONNECT` with 200 and serves the tunnel as another HTTP connection to the mock.
fn tunnel(request: hyper::Request<Incoming>, shared: Arc<Shared>) -> Response<Full<Bytes>> {
    tokio::spawn(async move {
        if let Ok(upgraded) = hyper::upgrade::on(request).await {
            connection(upgraded, shared).await;
        }
    });
    Response::new(Full::new(Bytes::new()))
}
