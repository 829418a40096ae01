//! HTTP/1.1 messages as they travel on the wire.
//!
//! [`Request`] keeps what a signature depends on exactly as it was sent: the request target, the headers in
//! order and in their original case, and the body bytes. Nothing is normalised on the way in, so a verifier
//! hashes what the client hashed, and a recorder writes back what it received. Parsing of the head is
//! `httparse`'s; this module only decides what to do with the body and how to serialise.
//!
//! A [`Reply`] may also carry a [`Diagnosis`] of its request's signature: never sent, it is what the mock's journal
//! and log say about a rejected signature (built in `signing::diagnose`; it lives here, below signing, so that a
//! reply can hold it).

use std::borrow::Cow;

use std::fmt;

/// The most headers a request may carry before it is refused.
const MAX_HEADERS: usize = 128;

/// An HTTP request as sent: request line, headers in wire order and case, body bytes.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The request target as sent: origin form (`/?a=b`) or absolute form (`http://host/path?a=b`).
    pub target: String,
    /// Header names and values in wire order, with the names' case as sent.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// Why bytes could not be read as an HTTP/1.1 request.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// The head is not a valid HTTP/1.x request line and header block.
    #[error("not an HTTP/1.1 request: {0}")]
    Syntax(httparse::Error),
    /// The head never ends with a blank line.
    #[error("not an HTTP/1.1 request: the head does not end with a blank line")]
    Incomplete,
    /// A header value is not UTF-8.
    #[error("header {name} is not valid UTF-8")]
    HeaderEncoding {
        /// The header's name.
        name: String,
    },
    /// `Content-Length` is not a number.
    #[error("Content-Length {0:?} is not a number")]
    ContentLength(String),
    /// The body is shorter than `Content-Length` says.
    #[error("the body has {actual} bytes but Content-Length says {declared}")]
    TruncatedBody {
        /// What `Content-Length` declares.
        declared: usize,
        /// How many bytes follow the head.
        actual: usize,
    },
}

impl Request {
    /// Reads a request from raw bytes: a request line, headers, a blank line, then the body.
    ///
    /// Lines may end in CRLF or LF. With `Content-Length` the body is exactly that many bytes (anything after
    /// it, such as an editor's final newline, is ignored); without it the body is everything after the head.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut head = httparse::Request::new(&mut headers);
        let head_len = match head.parse(bytes).map_err(ParseError::Syntax)? {
            httparse::Status::Complete(len) => len,
            httparse::Status::Partial => return Err(ParseError::Incomplete),
        };
        let (Some(method), Some(target)) = (head.method, head.path) else {
            return Err(ParseError::Incomplete);
        };
        let headers = head
            .headers
            .iter()
            .map(|header| match std::str::from_utf8(header.value) {
                Ok(value) => Ok((header.name.to_owned(), value.to_owned())),
                Err(_) => Err(ParseError::HeaderEncoding {
                    name: header.name.to_owned(),
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let rest = &bytes[head_len..];
        let mut request = Request {
            method: method.to_owned(),
            target: target.to_owned(),
            headers,
            body: Vec::new(),
        };
        request.body = match request.header("content-length") {
            Some(value) => {
                let declared = value
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| ParseError::ContentLength(value.to_owned()))?;
                match rest.get(..declared) {
                    Some(body) => body.to_vec(),
                    None => {
                        return Err(ParseError::TruncatedBody {
                            declared,
                            actual: rest.len(),
                        });
                    }
                }
            }
            None => rest.to_vec(),
        };
        Ok(request)
    }

    /// The value of the first header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The first of `names` that the request carries more than once (names compared case-insensitively).
    pub fn repeated_header<'n>(&self, names: &[&'n str]) -> Option<&'n str> {
        names.iter().copied().find(|name| {
            self.headers
                .iter()
                .filter(|(key, _)| key.eq_ignore_ascii_case(name))
                .count()
                > 1
        })
    }

    /// Replaces the value of the first header with this name, or appends the header when there is none.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self
            .headers
            .iter_mut()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
        {
            Some((_, existing)) => *existing = value,
            None => self.headers.push((name.to_owned(), value)),
        }
    }

    /// Removes every header with this name.
    pub fn remove_header(&mut self, name: &str) {
        self.headers
            .retain(|(key, _)| !key.eq_ignore_ascii_case(name));
    }

    /// The `Host` header, or for an absolute-form target without one, the target's authority.
    pub fn host(&self) -> Option<&str> {
        self.header("host")
            .or_else(|| split_absolute(&self.target).map(|(authority, _)| authority))
    }

    /// The path of the target, without its query: `/` for `/?a=b` and for `http://host/?a=b`.
    pub fn path(&self) -> &str {
        let origin = self.origin_form();
        match origin.split_once('?').map_or(origin, |(path, _)| path) {
            "" => "/",
            path => path,
        }
    }

    /// The raw query of the target (after `?`, as sent), or `""`.
    pub fn query(&self) -> &str {
        self.origin_form()
            .split_once('?')
            .map_or("", |(_, query)| query)
    }

    /// Replaces the query of the target, keeping its path (and authority, in absolute form).
    pub fn set_query(&mut self, query: &str) {
        let without = self
            .target
            .split_once('?')
            .map_or(self.target.as_str(), |(before, _)| before);
        self.target = if query.is_empty() {
            without.to_owned()
        } else {
            format!("{without}?{query}")
        };
    }

    /// Replaces the body, keeping an existing `Content-Length` header true.
    pub fn set_body(&mut self, body: Vec<u8>) {
        self.body = body;
        if self.header("content-length").is_some() {
            self.set_header("Content-Length", self.body.len().to_string());
        }
    }

    /// The target in origin form: the absolute form's authority dropped.
    fn origin_form(&self) -> &str {
        match split_absolute(&self.target) {
            Some((_, origin)) => origin,
            None => &self.target,
        }
    }

    /// The request serialised as HTTP/1.1 with CRLF line endings.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 256);
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// Splits an absolute-form target (`http://authority/path?query`) into authority and origin form.
fn split_absolute(target: &str) -> Option<(&str, &str)> {
    let rest = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))?;
    Some(match rest.find(['/', '?']) {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    })
}

impl fmt::Debug for Request {
    /// Secrets never reach a log: `Authorization` and `X-TC-Token` values are masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let masked = name.eq_ignore_ascii_case("authorization")
                    || name.eq_ignore_ascii_case("x-tc-token");
                (
                    name.as_str(),
                    if masked {
                        "** REDACTED **"
                    } else {
                        value.as_str()
                    },
                )
            })
            .collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("headers", &headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

/// An answer: a status, its headers in wire order, and a body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// Every header, in the order it is sent (the server adds none but the ones HTTP requires and these lack).
    pub headers: Vec<(&'static str, Cow<'static, str>)>,
    /// The body.
    pub body: Vec<u8>,
    /// Why the request's signature was rejected (or accepted only in a client's quirk): for the mock's journal and
    /// log, never on the wire unless the request asks for it (`X-Terminus-Explain`).
    pub diagnosis: Option<Box<Diagnosis>>,
    /// What the provider says of its own answer (the envelope's code, who signed), so the mock's journal and log
    /// need not read the body and the request back; `None`: they do.
    pub summary: Option<Summary>,
}

/// A provider's account of one answer, for the journal and the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The error code of the answer's envelope; `None` for a success.
    pub code: Option<String>,
    /// The SecretId the request named.
    pub secret_id: Option<String>,
}

impl Reply {
    /// A JSON answer: `Content-Type: application/json` exactly (the Python SDK ignores errors under any other
    /// Content-Type) and its `Content-Length`.
    pub fn json(status: u16, body: Vec<u8>) -> Self {
        Self {
            status,
            headers: vec![
                ("Content-Type", "application/json".into()),
                ("Content-Length", body.len().to_string().into()),
            ],
            body,
            diagnosis: None,
            summary: None,
        }
    }

    /// The connection closes after this answer: a `Connection` header the reply carries says `close`.
    pub(crate) fn close(&mut self) {
        for (name, value) in &mut self.headers {
            if name.eq_ignore_ascii_case("connection") {
                *value = "close".into();
            }
        }
    }

    /// `{"error": message}`: the mock's own answer, outside any provider's envelope (control API, limits).
    pub(crate) fn error(status: u16, message: &str) -> Self {
        Self::json(
            status,
            serde_json::to_vec(&serde_json::json!({ "error": message })).unwrap_or_default(),
        )
    }
}

/// The explanation of one rejected signature, as a reply carries it (built by `signing::diagnose`, which tries the
/// common client mistakes).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Diagnosis {
    /// The scheme the request was signed with (`TC3-HMAC-SHA256`).
    pub scheme: &'static str,
    /// The known mistake whose signature is the request's (`host-without-port`, …); `None` when none is.
    pub mistake: Option<&'static str>,
    /// The likely cause, in words.
    pub cause: String,
    /// The first step at which what the client signed departs from what the server computes (`canonical-request`),
    /// or `signature` when no mistake explains it.
    pub step: &'static str,
    /// How that step differs (quoting both sides where the mistake is known).
    pub difference: String,
    /// The canonical request the server computed (TC3, ZC2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canonical_request: Option<String>,
    /// The string to sign the server computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub string_to_sign: Option<String>,
}

impl Diagnosis {
    /// One line for a log or an HTTP header: the cause, the step, and its difference, in visible ASCII.
    pub fn summary(&self) -> String {
        let line = match self.mistake {
            Some(mistake) => format!(
                "{mistake}: {}; first difference at {}: {}",
                self.cause, self.step, self.difference
            ),
            None => format!("{} (at {})", self.cause, self.step),
        };
        line.chars()
            .map(|c| match c {
                '\u{2026}' => '~',
                ' '..='~' => c,
                _ => ' ',
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_bounds_the_body_and_ignores_a_trailing_newline() {
        let request =
            Request::parse(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}\n").unwrap();
        assert_eq!(request.body, b"{}");
    }

    #[test]
    fn lf_line_endings_are_read_like_crlf() {
        let request = Request::parse(b"GET /?a=b HTTP/1.1\nHost: h\n\n").unwrap();
        assert_eq!((request.path(), request.query()), ("/", "a=b"));
    }

    #[test]
    fn absolute_form_targets_give_path_query_and_host() {
        let request =
            Request::parse(b"GET http://cvm.tencentcloudapi.com/?x=1 HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(request.host(), Some("cvm.tencentcloudapi.com"));
        assert_eq!((request.path(), request.query()), ("/", "x=1"));
    }

    #[test]
    fn a_short_body_is_refused_with_both_lengths() {
        let error = Request::parse(b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n{}").unwrap_err();
        assert_eq!(
            error,
            ParseError::TruncatedBody {
                declared: 9,
                actual: 2
            }
        );
    }

    #[test]
    fn serialising_a_crlf_request_gives_back_its_bytes() {
        let raw = b"POST / HTTP/1.1\r\nhost: a\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(Request::parse(raw).unwrap().to_bytes(), raw);
    }
}
