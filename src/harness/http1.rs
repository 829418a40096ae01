//! A raw HTTP/1.1 client connection: a tokio [`TcpStream`], a request written whole as the bytes it was built as,
//! one response read by its `Content-Length` (or, without one, until the server closes), after any interim `1xx`
//! answers (`100 Continue`), which are dropped. Not for `HEAD`, whose answer announces a length it does not send.
//!
//! It is raw on purpose, for two users. `terminus bench` measures the server, not a client library. The harness
//! sends the exact bytes a case built, the bytes the official clients send: an HTTP library would lowercase header
//! names, add headers of its own (`accept: */*`) and move `Content-Length`, and the snapshot would then show a
//! request that never went on the wire. Responses keep their header names' case and order for the same reason.

use std::net::SocketAddr;
use std::ops::Range;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::exchange::{NoAnswer, Response};

/// The most headers an answer may carry.
const MAX_HEADERS: usize = 64;
/// The most bytes an answer may take (head and body): a bound on what a misbehaving server can make us buffer.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// Why an exchange has no answer. The two ways a server can fail to answer are told apart from other errors, so a
/// case can expect one and not the other.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The server closed the connection before a complete answer (`got` bytes of it had arrived).
    #[error("the connection was closed without a complete answer ({got} bytes received)")]
    Closed {
        /// Bytes received before the close.
        got: usize,
    },
    /// The answer is not HTTP/1.1 that this client reads.
    #[error("the answer is not readable HTTP/1.1: {0}")]
    Malformed(String),
    /// Connecting, writing or reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A byte stream a connection runs over: TCP, or TLS over TCP.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A keep-alive connection and its read buffer, which holds the last answer.
pub struct Connection {
    stream: Box<dyn Stream>,
    buffer: Vec<u8>,
    head: usize,
    body: Range<usize>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects, with Nagle's algorithm off (requests are written whole).
    pub async fn open(address: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(Self::over(stream))
    }

    /// A connection over a stream already open (a TLS stream: [`crate::tls::connect`]).
    pub fn over(stream: impl Stream + 'static) -> Self {
        Self {
            stream: Box::new(stream),
            buffer: Vec::with_capacity(4096),
            head: 0,
            body: 0..0,
        }
    }

    /// Writes the request bytes as they are and reads one answer: its status; the body is in
    /// [`Connection::body`], the whole answer in [`Connection::response`].
    pub async fn exchange(&mut self, request: &[u8]) -> Result<u16, ExchangeError> {
        self.stream.write_all(request).await?;
        self.buffer.clear();
        loop {
            if self.buffer.capacity() - self.buffer.len() < 1024 {
                self.buffer.reserve(4096);
            }
            let read = self.stream.read_buf(&mut self.buffer).await?;
            let closed = read == 0;
            // Interim answers (`100 Continue` to `Expect: 100-continue`, `103 Early Hints`) come before the final
            // one: dropped, and the final one read after them. `101 Switching Protocols` ends the exchange.
            while let Some((status, head, _)) = parse_response(&self.buffer, closed)?
                && (100..200).contains(&status)
                && status != 101
            {
                self.buffer.drain(..head);
            }
            if let Some((status, head, body)) = parse_response(&self.buffer, closed)? {
                if self.buffer.len() > body.end {
                    return Err(ExchangeError::Malformed(
                        "bytes after the answer to the only request in flight".into(),
                    ));
                }
                self.head = head;
                self.body = body;
                return Ok(status);
            }
            if closed {
                return Err(ExchangeError::Closed {
                    got: self.buffer.len(),
                });
            }
            if self.buffer.len() > MAX_ANSWER {
                return Err(ExchangeError::Malformed(format!(
                    "the answer exceeds {MAX_ANSWER} bytes"
                )));
            }
        }
    }

    /// The last answer as it came: head and body bytes.
    pub fn raw(&self) -> &[u8] {
        &self.buffer[..self.body.end]
    }

    /// The last answer's body.
    pub fn body(&self) -> &[u8] {
        &self.buffer[self.body.clone()]
    }

    /// The last answer: status, headers in wire order and case, body.
    pub fn response(&self) -> Response {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut headers);
        // The head was parsed once already; it parses the same way again.
        let _ = parsed.parse(&self.buffer[..self.head]);
        response_of(&parsed, self.body())
    }
}

/// Sends `request`'s bytes as they are on the connection `opening` makes, and reads the answer as it came; waits at
/// most `timeout` for both.
pub(crate) async fn answer(
    opening: impl Future<Output = std::io::Result<Connection>>,
    request: &[u8],
    timeout: Duration,
) -> Result<Response, NoAnswer> {
    let exchange = async {
        let mut connection = opening
            .await
            .map_err(|error| NoAnswer::Unsent(error.to_string()))?;
        connection
            .exchange(request)
            .await
            .map_err(|error| match error {
                // A reset or a close mid-answer is the server hanging up; so is an answer that is not HTTP.
                ExchangeError::Closed { .. }
                | ExchangeError::Io(_)
                | ExchangeError::Malformed(_) => NoAnswer::Closed(error.to_string()),
            })?;
        Ok(connection.response())
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or(Err(NoAnswer::TimedOut(timeout)))
}

/// The answer a parsed head and its body make: status, headers in wire order and case (values read lossily as
/// UTF-8), body.
pub(crate) fn response_of(parsed: &httparse::Response<'_, '_>, body: &[u8]) -> Response {
    Response {
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
        body: body.to_vec(),
    }
}

/// A complete response in `bytes`: its status, head length and where its body is; `None` while incomplete.
/// Without `Content-Length` the body runs to the close (`closed`: the server has closed); chunked answers are
/// refused (no server of ours sends one).
fn parse_response(
    bytes: &[u8],
    closed: bool,
) -> Result<Option<(u16, usize, Range<usize>)>, ExchangeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let head = match response.parse(bytes) {
        Ok(httparse::Status::Complete(head)) => head,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(error) => return Err(ExchangeError::Malformed(error.to_string())),
    };
    let status = response.code.unwrap_or_default();
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case(name))
            .map(|header| String::from_utf8_lossy(header.value).trim().to_owned())
    };
    if header("transfer-encoding").is_some() {
        return Err(ExchangeError::Malformed(
            "a Transfer-Encoding answer (this client reads Content-Length bodies)".into(),
        ));
    }
    match header("content-length") {
        Some(value) => {
            let length = value.parse::<usize>().map_err(|_| {
                ExchangeError::Malformed(format!("Content-Length {value:?} is not a number"))
            })?;
            Ok((bytes.len() >= head + length).then_some((status, head, head..head + length)))
        }
        // 1xx, 204 and 304 have no body; any other answer without a length ends at the close.
        None if status < 200 || status == 204 || status == 304 => {
            Ok(Some((status, head, head..head)))
        }
        None => Ok(closed.then_some((status, head, head..bytes.len()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_is_complete_with_its_whole_body() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n";
        let mut bytes = head.to_vec();
        bytes.extend_from_slice(b"ab");
        assert!(parse_response(&bytes, false).unwrap().is_none());
        bytes.extend_from_slice(b"cd");
        assert_eq!(
            parse_response(&bytes, false).unwrap(),
            Some((200, head.len(), head.len()..head.len() + 4))
        );
    }

    #[test]
    fn without_a_length_the_body_ends_at_the_close() {
        let bytes = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc";
        assert!(parse_response(bytes, false).unwrap().is_none());
        let (_, head, body) = parse_response(bytes, true).unwrap().unwrap();
        assert_eq!(&bytes[head..][..body.len()], b"abc");
    }

    /// Issue 21, point 10: a step sent with `Expect: 100-continue` gets `100 Continue` first; the answer is the
    /// one after it, whether both come in one read or apart.
    #[tokio::test]
    async fn an_interim_100_continue_is_read_past_to_the_final_answer() {
        const INTERIM: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
        const FINAL: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        const REQUEST: &[u8] =
            b"PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx";
        for together in [true, false] {
            // Apart: a pipe that holds only the interim answer, so the final one is written after it was read.
            let (client, mut server) =
                tokio::io::duplex(if together { 4096 } else { INTERIM.len() });
            let serving = tokio::spawn(async move {
                let mut request = [0u8; REQUEST.len()];
                server.read_exact(&mut request).await.unwrap();
                if together {
                    server.write_all(&[INTERIM, FINAL].concat()).await.unwrap();
                } else {
                    server.write_all(INTERIM).await.unwrap();
                    server.write_all(FINAL).await.unwrap();
                }
                // Held open until the client has read, so that a close cannot stand in for the answer's end.
                let _ = server.read(&mut request).await;
            });
            let mut connection = Connection::over(client);
            let status =
                tokio::time::timeout(Duration::from_secs(10), connection.exchange(REQUEST))
                    .await
                    .expect("the exchange ends")
                    .unwrap_or_else(|error| panic!("together={together}: {error}"));
            assert_eq!(status, 200, "together={together}");
            assert_eq!(connection.body(), b"ok");
            assert_eq!(connection.raw(), FINAL);
            drop(connection);
            serving.await.unwrap();
        }
    }
}
