//! Helpers shared by the test modules.

pub mod binary;
pub mod cases;

use std::path::Path;

use terminus::message::Request;

/// The blocking counterpart of `terminus::tls::http_client`, for every test that talks HTTP: reqwest is built with
/// `rustls-no-provider`, so a client must be handed the crate's own rustls configuration (ring provider) or its
/// build panics. Like the crate's clients, it takes no proxy from the environment and follows no redirect.
pub fn http_client() -> reqwest::blocking::ClientBuilder {
    let config = terminus::tls::Trust::public_roots()
        .rustls_config()
        .expect("the public roots make a client configuration");
    reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(config)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
}

/// The example SecretKey of Tencent's documentation, used by the captured vectors.
pub const TENCENT_KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
/// The example SecretId of Tencent's documentation.
pub const TENCENT_ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
/// The timestamp the captured vectors were signed at (2023-11-14 22:13:20 UTC; 2023-11-15 in Beijing).
pub const SIGNED_AT: i64 = 1_700_000_000;

/// A vector's signed request as the official client sent it (`tests/vectors/<name>/request.http`).
pub fn captured(name: &str) -> Request {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name)
        .join("request.http");
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("failed to load vector {}: {e}", path.display()));
    Request::parse(&bytes).unwrap_or_else(|e| panic!("vector {} is not HTTP: {e}", path.display()))
}

/// The state of instance `id` on `server` (`RUNNING`, `TERMINATED`…); panics when it holds no such instance.
/// Whether the instance is destroyed: `TERMINATED`, or already dropped from the world once its listing window
/// passed (a test on the machine's clock can take longer than the window).
pub fn destroyed(server: &terminus::mock::MockServer, id: &str) -> bool {
    server
        .snapshot()
        .instances
        .iter()
        .find(|instance| instance.id == id)
        .is_none_or(|instance| instance.state.name() == "TERMINATED")
}

pub fn state_of(server: &terminus::mock::MockServer, id: &str) -> String {
    server
        .snapshot()
        .instances
        .iter()
        .find(|instance| instance.id == id)
        .map(|instance| instance.state.name())
        .unwrap_or_else(|| panic!("no instance {id}"))
}

/// A raw HTTP/1.1 client over `std::net::TcpStream`, for requests no HTTP library would send: every read has a
/// deadline, so no answer (or a server that never closes) cannot hang a test.
pub mod raw {
    use std::io::{ErrorKind, Read};
    use std::net::TcpStream;
    use std::time::Instant;

    /// A response as received.
    #[derive(Clone, Debug)]
    pub struct Response {
        /// The status code.
        pub status: u16,
        /// Header names (lowercased) and values, in wire order.
        pub headers: Vec<(String, String)>,
        /// The body bytes.
        pub body: Vec<u8>,
    }

    impl Response {
        /// Every value of a header.
        pub fn header_values(&self, name: &str) -> Vec<&str> {
            self.headers
                .iter()
                .filter(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str())
                .collect()
        }
    }

    /// What came back on a connection.
    #[derive(Clone, Debug)]
    pub enum Answer {
        /// A complete response.
        Response(Response),
        /// The server closed (or reset) the connection without sending a byte.
        Closed,
        /// The server closed after sending bytes that are not a complete response.
        Truncated(Vec<u8>),
        /// Nothing conclusive before the deadline.
        Silent(Vec<u8>),
    }

    /// Reads one response from `stream`, using and consuming `buffer` (bytes already read); `no_body` for the
    /// answer to a HEAD request.
    pub fn read_answer(
        stream: &mut TcpStream,
        buffer: &mut Vec<u8>,
        deadline: Instant,
        no_body: bool,
    ) -> Answer {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if let Some((response, used)) = parse(buffer, no_body, false) {
                buffer.drain(..used);
                return Answer::Response(response);
            }
            let now = Instant::now();
            if now >= deadline {
                return Answer::Silent(std::mem::take(buffer));
            }
            let _ = stream.set_read_timeout(Some(deadline - now));
            match stream.read(&mut chunk) {
                Ok(0) => return at_end(buffer, no_body),
                Ok(read) => buffer.extend_from_slice(&chunk[..read]),
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error)
                    if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return at_end(buffer, no_body),
            }
        }
    }

    /// The connection ended: whatever the buffer holds is the answer.
    fn at_end(buffer: &mut Vec<u8>, no_body: bool) -> Answer {
        if buffer.is_empty() {
            return Answer::Closed;
        }
        match parse(buffer, no_body, true) {
            Some((response, used)) => {
                buffer.drain(..used);
                Answer::Response(response)
            }
            None => Answer::Truncated(std::mem::take(buffer)),
        }
    }

    /// A complete response at the start of `bytes`, and how many bytes it took; `ended` when no more will come
    /// (a response without Content-Length then ends with the connection).
    fn parse(bytes: &[u8], no_body: bool, ended: bool) -> Option<(Response, usize)> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut head = httparse::Response::new(&mut headers);
        let head_len = match head.parse(bytes).ok()? {
            httparse::Status::Complete(length) => length,
            httparse::Status::Partial => return None,
        };
        let status = head.code?;
        let headers: Vec<(String, String)> = head
            .headers
            .iter()
            .map(|header| {
                (
                    header.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(header.value).into_owned(),
                )
            })
            .collect();
        if (100..200).contains(&status) {
            // An interim response: the real one follows.
            let (response, used) = parse(&bytes[head_len..], no_body, ended)?;
            return Some((response, head_len + used));
        }
        let length = headers
            .iter()
            .find(|(name, _)| name == "content-length")
            .and_then(|(_, value)| value.trim().parse::<usize>().ok());
        let body_len = if no_body || status == 204 || status == 304 {
            0
        } else {
            match length {
                Some(length) => length,
                None if ended => bytes.len() - head_len,
                None => return None,
            }
        };
        let body = bytes.get(head_len..head_len + body_len)?.to_vec();
        Some((
            Response {
                status,
                headers,
                body,
            },
            head_len + body_len,
        ))
    }
}

/// A TerminateInstances request to the mock, TC3-signed with the documentation's example key at `timestamp`.
pub fn signed_terminate(
    ids: &[&str],
    release_address: bool,
    release_prepaid_data_disks: bool,
    timestamp: i64,
) -> Vec<u8> {
    use terminus::signing::{self, Credentials, Scheme, SignOptions};
    let mut body = serde_json::json!({ "InstanceIds": ids });
    if release_address {
        body["ReleaseAddress"] = true.into();
    }
    if release_prepaid_data_disks {
        body["ReleasePrepaidDataDisks"] = true.into();
    }
    let body = serde_json::to_vec(&body).expect("JSON values serialise");
    let head = format!(
        "POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Type: application/json\r\n\
         X-TC-Action: TerminateInstances\r\nX-TC-Version: 2017-03-12\r\nX-TC-Region: ap-guangzhou\r\n\
         X-TC-Timestamp: {timestamp}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&body);
    let unsigned = Request::parse(&bytes).expect("the request is HTTP");
    signing::sign(
        &unsigned,
        &Credentials::new(TENCENT_ID, TENCENT_KEY),
        Scheme::Tc3,
        &SignOptions::default(),
    )
    .expect("the request can be signed")
    .request
    .to_bytes()
}
