//! The recorder's client to the upstream (and replay's to its target): reqwest (HTTP/1.1 only, built by
//! [`crate::tls::http_client`] over our own rustls configuration: the public web roots, or `--ca-cert`), whose pool
//! keeps connections alive across requests.
//!
//! reqwest, not the byte-exact raw client of `harness::http1` (written for terminus's own server and for sending a
//! case's exact bytes): answers come chunked, after interim `1xx` answers, or with `Connection: close`, and all
//! of that must be read as HTTP says. The client never decompresses (reqwest's gzip/brotli/deflate features are
//! off: the recorder must see the bytes the upstream sent), never follows a redirect and never takes a proxy from
//! the environment. Refused: an answer with two `Content-Length` headers (equal ones here; hyper, under reqwest,
//! refuses differing ones itself), and one over [`LARGEST_ANSWER`]. The answer handed back (to the client and the
//! cassette) is the answer read, with its body whole and `Content-Length` true to it: the transfer coding is
//! undone, the content coding kept (the redactor decodes that).
//!
//! What the upstream sees differs from what the client sent only where reqwest insists: header names go out in
//! lower case (as with hyper before), in the client's order but with repeated names grouped; `Accept: */*` is
//! added when the client sent no `Accept`; the target is parsed as a URL, so characters a URL must escape are
//! percent-encoded and dot segments (`/a/../b`) are resolved.

use crate::exchange::Response;
use crate::message::Request;

/// The largest answer body read from the upstream.
pub(super) const LARGEST_ANSWER: usize = 64 * 1024 * 1024;
/// Headers that describe one hop, not the message: not forwarded (the client frames the message itself).
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

/// A client to upstreams, with its pool of kept connections. Cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub(super) struct Client {
    inner: reqwest::Client,
}

impl Client {
    /// A client trusting `trust` for TLS, HTTP/1.1 only. Deadlines are the caller's (one per whole exchange).
    pub(super) fn new(trust: &crate::tls::Trust) -> Result<Self, String> {
        let inner = crate::tls::http_client(trust)
            .map_err(|error| error.to_string())?
            .http1_only()
            .tcp_nodelay(true)
            .referer(false)
            .build()
            .map_err(|error| format!("cannot build the upstream client: {error}"))?;
        Ok(Self { inner })
    }

    /// Sends `request` (origin form, the client's headers but the hop-by-hop ones) to `origin`
    /// (`scheme://host[:port]`) and reads the answer whole.
    pub(super) async fn exchange(
        &self,
        origin: &str,
        request: &Request,
    ) -> Result<Response, String> {
        let url = format!("{origin}{}", request.target);
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|error| format!("the request cannot be sent: {error}"))?;
        let mut outgoing = self.inner.request(method, url.as_str());
        for (name, value) in &request.headers {
            if !HOP_BY_HOP.contains(&name.to_ascii_lowercase().as_str()) {
                outgoing = outgoing.header(name.as_str(), value.as_str());
            }
        }
        let mut answer = outgoing
            .body(request.body.clone())
            .send()
            .await
            .map_err(|error| format!("{origin}: {}", describe(error)))?;
        let lengths = answer
            .headers()
            .get_all(reqwest::header::CONTENT_LENGTH)
            .iter()
            .count();
        if lengths > 1 {
            return Err(format!(
                "the answer has {lengths} Content-Length headers: refused"
            ));
        }
        let status = answer.status().as_u16();
        let mut headers: Vec<(String, String)> = answer
            .headers()
            .iter()
            .filter(|(name, _)| {
                *name != reqwest::header::TRANSFER_ENCODING
                    && *name != reqwest::header::CONTENT_LENGTH
            })
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = answer
            .chunk()
            .await
            .map_err(|error| format!("the answer's body: {}", describe(error)))?
        {
            if body.len() + chunk.len() > LARGEST_ANSWER {
                return Err(format!(
                    "the answer's body is over {LARGEST_ANSWER} bytes: refused"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        headers.push(("content-length".to_owned(), body.len().to_string()));
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// A reqwest error with its causes (reqwest's own text is only the outermost: "error sending request"), without
/// the URL: its query may carry a credential (the legacy API's `Token`), and this text reaches the client and the
/// cassette's index.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

    use super::*;
    use crate::tls::{Authority, Trust};

    /// Every await on a socket here is under this.
    const DEADLINE: Duration = Duration::from_secs(20);

    /// Connections accepted and requests answered by a test server.
    #[derive(Default)]
    struct Counts {
        connections: AtomicUsize,
        requests: AtomicUsize,
    }

    /// A server that answers every request (a head without a body) with `answer`, keeping the connection open,
    /// over TLS when `tls` is given.
    async fn server(
        answer: &'static [u8],
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> (SocketAddr, Arc<Counts>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let counts = Arc::new(Counts::default());
        let counted = Arc::clone(&counts);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.connections.fetch_add(1, Ordering::SeqCst);
                let counted = Arc::clone(&counted);
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        None => answer_all(stream, answer, &counted).await,
                        Some(config) => {
                            if let Ok(stream) =
                                tokio_rustls::TlsAcceptor::from(config).accept(stream).await
                            {
                                answer_all(stream, answer, &counted).await;
                            }
                        }
                    }
                });
            }
        });
        (address, counts)
    }

    async fn answer_all(
        mut stream: impl AsyncRead + AsyncWrite + Unpin,
        answer: &[u8],
        counts: &Counts,
    ) {
        let mut buffer = Vec::new();
        let mut chunk = [0_u8; 4096];
        loop {
            while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                buffer.drain(..end + 4);
                counts.requests.fetch_add(1, Ordering::SeqCst);
                if stream.write_all(answer).await.is_err() {
                    return;
                }
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => buffer.extend_from_slice(&chunk[..read]),
            }
        }
    }

    fn get(target: &str) -> Request {
        Request::parse(
            format!("GET {target} HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\n\r\n").as_bytes(),
        )
        .unwrap()
    }

    async fn exchange(client: &Client, origin: &str, target: &str) -> Result<Response, String> {
        tokio::time::timeout(DEADLINE, client.exchange(origin, &get(target)))
            .await
            .expect("an exchange within the deadline")
    }

    #[tokio::test]
    async fn only_a_client_trusting_the_ca_cert_reaches_a_server_it_signed() {
        let authority = Authority::generate().unwrap();
        let config = authority.server_config(Arc::new(|_: &str| true));
        let (address, counts) = server(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
            Some(config),
        )
        .await;
        let origin = format!("https://{address}");
        let trusting = Client::new(&Trust {
            public_roots: false,
            extra: vec![authority.certificate_der().clone()],
        })
        .unwrap();
        let answer = exchange(&trusting, &origin, "/").await.unwrap();
        assert_eq!((answer.status, answer.body.as_slice()), (200, &b"{}"[..]));
        let public = Client::new(&Trust::public_roots()).unwrap();
        let refused = exchange(&public, &origin, "/").await.unwrap_err();
        assert!(refused.contains("UnknownIssuer"), "{refused}");
        assert_eq!(counts.requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn two_exchanges_go_over_one_kept_connection() {
        let (address, counts) =
            server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", None).await;
        let client = Client::new(&Trust::public_roots()).unwrap();
        let origin = format!("http://{address}");
        for _ in 0..2 {
            assert_eq!(exchange(&client, &origin, "/").await.unwrap().status, 200);
        }
        assert_eq!(counts.requests.load(Ordering::SeqCst), 2);
        assert_eq!(counts.connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_redirect_is_handed_back_not_followed() {
        let (address, counts) = server(
            b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n",
            None,
        )
        .await;
        let client = Client::new(&Trust::public_roots()).unwrap();
        let answer = exchange(&client, &format!("http://{address}"), "/")
            .await
            .unwrap();
        assert_eq!(answer.status, 302);
        assert!(
            answer
                .headers
                .contains(&("location".into(), "/elsewhere".into()))
        );
        assert_eq!(counts.requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_compressed_answer_comes_back_as_the_upstream_sent_it() {
        // The first bytes of a gzip stream: reqwest must neither decode it nor drop its Content-Encoding.
        let (address, _) = server(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\n\x1f\x8b\x08\x00",
            None,
        )
        .await;
        let client = Client::new(&Trust::public_roots()).unwrap();
        let answer = exchange(&client, &format!("http://{address}"), "/")
            .await
            .unwrap();
        assert_eq!(answer.body, b"\x1f\x8b\x08\x00");
        assert!(
            answer
                .headers
                .contains(&("content-encoding".into(), "gzip".into()))
        );
    }

    #[tokio::test]
    async fn a_failed_exchange_does_not_repeat_the_target_and_its_query() {
        // A port nobody listens on: bound, then closed.
        let address = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let client = Client::new(&Trust::public_roots()).unwrap();
        let error = exchange(
            &client,
            &format!("http://{address}"),
            "/v2/index.php?Action=TerminateInstances&Token=CANARYsessionToken",
        )
        .await
        .unwrap_err();
        assert!(!error.contains("CANARY"), "{error}");
        assert!(error.contains(&address.to_string()), "{error}");
    }

    #[tokio::test]
    async fn differing_content_lengths_are_refused() {
        let (address, _) = server(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x",
            None,
        )
        .await;
        let client = Client::new(&Trust::public_roots()).unwrap();
        assert!(
            exchange(&client, &format!("http://{address}"), "/")
                .await
                .is_err()
        );
    }
}
