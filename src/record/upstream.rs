//! The recorder's client to the upstream (and replay's to its target): hyper's HTTP/1.1 client over a connection the recorder opens itself
//! (plain, or TLS with its own trust: the public web roots, or `--ca-cert`), kept alive across a client's requests.
//!
//! hyper, not the byte-exact raw client of `harness::http1` (written for terminus's own server and for sending a
//! case's exact bytes): answers come chunked, after interim `1xx` answers, or with `Connection: close`, and all of
//! that must be read as HTTP says. Refused: an answer with two `Content-Length` headers (equal ones here; hyper
//! refuses differing ones itself), and one over [`LARGEST_ANSWER`]. The answer handed back (to the client and the
//! cassette) is the answer hyper read, with its body whole and `Content-Length` true to it: the transfer coding is
//! undone, the content coding kept (the redactor decodes that).

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use crate::exchange::Response;
use crate::message::Request;

/// The largest answer body read from the upstream.
pub(super) const LARGEST_ANSWER: usize = 64 * 1024 * 1024;
/// Headers that describe one hop, not the message: not forwarded (hyper frames the message itself).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// An open connection to the upstream.
pub(super) struct Connection {
    sender: SendRequest<Full<Bytes>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("upstream::Connection")
    }
}

/// Why an exchange failed.
#[derive(Debug)]
pub(super) enum Failure {
    /// The connection was closed before the request went out (a kept connection the server dropped): worth one
    /// more try on a new one.
    Closed(String),
    /// Anything else: the client gets a 502 saying this.
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Closed(why) | Self::Other(why) => f.write_str(why),
        }
    }
}

impl Connection {
    /// Connects to `host:port`, over TLS with `config` when `tls`.
    pub(super) async fn open(
        host: &str,
        port: u16,
        tls: bool,
        config: &Arc<rustls::ClientConfig>,
    ) -> Result<Self, String> {
        let address = tokio::net::lookup_host((host, port))
            .await
            .map_err(|error| format!("cannot resolve {host}: {error}"))?
            .next()
            .ok_or_else(|| format!("{host} resolves to no address"))?;
        if !tls {
            return Self::plain(address).await;
        }
        let stream = crate::tls::connect(address, host, Arc::clone(config))
            .await
            .map_err(|error| format!("TLS to {host}:{port}: {error}"))?;
        let (sender, connection) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|error| format!("{host}:{port}: {error}"))?;
        tokio::spawn(connection);
        Ok(Self { sender })
    }

    /// Connects to `address` in plain HTTP (replay's target).
    pub(super) async fn plain(address: std::net::SocketAddr) -> Result<Self, String> {
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|error| format!("cannot connect to {address}: {error}"))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|error| format!("{address}: {error}"))?;
        tokio::spawn(connection);
        Ok(Self { sender })
    }

    /// Sends `request` (origin form, the client's headers but the hop-by-hop ones) and reads the answer whole.
    pub(super) async fn exchange(&mut self, request: &Request) -> Result<Response, Failure> {
        self.sender
            .ready()
            .await
            .map_err(|error| Failure::Closed(error.to_string()))?;
        let mut outgoing = hyper::Request::builder()
            .method(request.method.as_str())
            .uri(request.target.as_str());
        for (name, value) in &request.headers {
            if !HOP_BY_HOP.contains(&name.to_ascii_lowercase().as_str()) {
                outgoing = outgoing.header(name.as_str(), value.as_str());
            }
        }
        let outgoing = outgoing
            .body(Full::new(Bytes::from(request.body.clone())))
            .map_err(|error| Failure::Other(format!("the request cannot be sent: {error}")))?;
        let answer = self.sender.send_request(outgoing).await.map_err(|error| {
            if error.is_canceled() {
                Failure::Closed(error.to_string())
            } else {
                Failure::Other(format!("the answer is not readable HTTP/1.1: {error}"))
            }
        })?;
        let lengths = answer
            .headers()
            .get_all(hyper::header::CONTENT_LENGTH)
            .iter()
            .count();
        if lengths > 1 {
            return Err(Failure::Other(format!(
                "the answer has {lengths} Content-Length headers: refused"
            )));
        }
        let status = answer.status().as_u16();
        let mut headers: Vec<(String, String)> = answer
            .headers()
            .iter()
            .filter(|(name, _)| {
                *name != hyper::header::TRANSFER_ENCODING && *name != hyper::header::CONTENT_LENGTH
            })
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = Limited::new(answer.into_body(), LARGEST_ANSWER)
            .collect()
            .await
            .map_err(|error| Failure::Other(format!("the answer's body: {error}")))?
            .to_bytes()
            .to_vec();
        headers.push(("content-length".to_owned(), body.len().to_string()));
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}
