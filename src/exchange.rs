//! [`Exchange`]: one request and its answer, the record everything speaks. The harness produces them, the
//! snapshot writer renders them, and `terminus diff` compares their renderings.

use std::time::Duration;

use crate::message::Request;
use crate::signing::Trace;

/// An HTTP response as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (in their case as received) and values, in wire order.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The value of the first header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// One request, how it was signed, and what came back.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// The step (1-based) that sent it.
    pub step: usize,
    /// The request as sent (origin-form target, production host).
    pub request: Request,
    /// The signing trace, for signed requests.
    pub trace: Option<Trace>,
    /// The answer, or why there was none.
    pub response: Result<Response, NoAnswer>,
    /// How long the answer took.
    pub elapsed: Duration,
}

impl Exchange {
    /// Sends `request` with `send` (whichever transport), timing it: the record of step `step`.
    pub async fn timed(
        step: usize,
        request: Request,
        trace: Option<Trace>,
        send: impl AsyncFnOnce(&Request) -> Result<Response, NoAnswer>,
    ) -> Exchange {
        let sent = std::time::Instant::now();
        let response = send(&request).await;
        Exchange {
            step,
            request,
            trace,
            response,
            elapsed: sent.elapsed(),
        }
    }
}

/// Why a request got no answer. A server that closes the connection and a client that stops waiting look alike
/// from far away ("no answer") but mean different things: only the first is what a `drop` fault, or a gateway that
/// hangs up, does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoAnswer {
    /// The server closed (or reset) the connection before a complete answer; the client's own words.
    Closed(String),
    /// The client stopped waiting after this long, the connection still open.
    TimedOut(Duration),
    /// The request could not be sent at all (no connection, a bad target); the client's own words.
    Unsent(String),
}

impl NoAnswer {
    /// What happened, without the client library's wording: the same for every client, so snapshots of two
    /// targets compare equal.
    pub fn kind(&self) -> String {
        match self {
            NoAnswer::Closed(_) => "the connection closed without an answer".to_owned(),
            NoAnswer::TimedOut(after) => format!(
                "the client stopped waiting after {}",
                humantime::format_duration(*after)
            ),
            NoAnswer::Unsent(_) => "the request could not be sent".to_owned(),
        }
    }
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoAnswer::Closed(detail) | NoAnswer::Unsent(detail) => {
                write!(f, "{} ({detail})", self.kind())
            }
            NoAnswer::TimedOut(_) => f.write_str(&self.kind()),
        }
    }
}
