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
            .map_err(|error| format!("{origin}: {}", describe(&error)))?;
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
            .map_err(|error| format!("the answer's body: {}", describe(&error)))?
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

/// A reqwest error with its causes (reqwest's own text is only the outermost: "error sending request").
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
