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
    pub response: Result<Response, String>,
    /// How long the answer took.
    pub elapsed: Duration,
}
