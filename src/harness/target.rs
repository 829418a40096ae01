//! Where cases run: the embedded mock (a fresh [`MockServer`] per case) or any running implementation of the
//! control API (`terminus serve` in another process). Both are driven the same way: seeded and observed through
//! `/__terminus/…`, and sent provider requests over a raw HTTP/1.1 connection ([`crate::harness::http1`]): the bytes the
//! case built, which carry the production `Host` and are byte-identical to what the official clients send, go on
//! the wire unchanged, and the answer is kept as it came (header names in their case and order).

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

use crate::exchange::{NoAnswer, Response};
use crate::harness::http1::{self, Connection};
use crate::message::Request;
use crate::mock::MockServer;
use crate::world::WorldSpec;

/// Where to run cases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A fresh embedded mock per case (the default).
    Mock,
    /// A running server at this base URL (`http://127.0.0.1:18080`), reseeded per case.
    Url(String),
}

impl Target {
    /// The target's name in reports and snapshot suffixes: `mock`, or `target` for a URL.
    pub fn name(&self) -> &'static str {
        match self {
            Target::Mock => "mock",
            Target::Url(_) => "target",
        }
    }
}

/// A target made ready for one case: seeded with its world.
#[derive(Debug)]
pub(crate) struct Session {
    base: String,
    /// Where provider requests go: the target's address, resolved once.
    address: SocketAddr,
    _server: Option<MockServer>,
}

/// How long any single HTTP exchange may take, unless a step says otherwise.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(20);

impl Session {
    /// Starts (embedded) or reseeds (URL) a target with `world`.
    pub(crate) async fn open(target: &Target, world: &WorldSpec) -> Result<Self, String> {
        let (base, server) = match target {
            Target::Mock => {
                let server = MockServer::builder()
                    .world(world.clone())
                    .workers(1)
                    .start()
                    .map_err(|error| format!("cannot start the embedded mock: {error}"))?;
                (server.uri(), Some(server))
            }
            Target::Url(url) => (url.trim_end_matches('/').to_owned(), None),
        };
        let address = resolve(&base).await?;
        let session = Self {
            base,
            address,
            _server: server,
        };
        if matches!(target, Target::Url(_)) {
            let body = toml::to_string(&WorldWithKeys(world)).map_err(|error| error.to_string())?;
            session
                .control(reqwest::Method::PUT, "world", Some(body))
                .await?;
        }
        Ok(session)
    }

    /// Sends a provider request as the exact bytes it was built as (origin-form target, the production `Host`,
    /// headers in their order and case), on a connection of its own, and reads the answer as it came.
    pub(crate) async fn send(
        &self,
        request: &Request,
        timeout: Duration,
    ) -> Result<Response, NoAnswer> {
        http1::answer(Connection::open(self.address), &request.to_bytes(), timeout).await
    }

    /// The target's clock, in Unix seconds.
    pub(crate) async fn now(&self) -> Result<i64, String> {
        let answer = self.control(reqwest::Method::GET, "clock", None).await?;
        answer["now"]
            .as_i64()
            .ok_or_else(|| format!("the control API's clock said {answer}"))
    }

    /// Moves the target's clock forward.
    pub(crate) async fn advance(&self, seconds: i64) -> Result<(), String> {
        self.control(
            reqwest::Method::POST,
            "clock",
            Some(format!("{{\"advance\": {seconds}}}")),
        )
        .await
        .map(drop)
    }

    /// The target's world.
    pub(crate) async fn world(&self) -> Result<WorldSpec, String> {
        let answer = self.control(reqwest::Method::GET, "world", None).await?;
        let accounts = answer["accounts"].as_array().map_or(0, Vec::len);
        let mut answer = answer;
        // Keys are never sent back; fill them so the shape reads.
        if let Some(list) = answer["accounts"].as_array_mut() {
            for account in list {
                account["secret-key"] = Value::from("");
            }
        }
        serde_json::from_value(answer).map_err(|error| {
            format!("the control API's world ({accounts} accounts) does not read: {error}")
        })
    }

    /// Every call of the control API goes through here (its headers, if it ever requires any, are set once).
    async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Value, String> {
        let url = format!("{}/__terminus/{path}", self.base);
        // Control requests go straight to the target, not through it as a proxy.
        let client = crate::tls::http_client(&crate::tls::Trust::public_roots())
            .map_err(|error| error.to_string())?
            .timeout(TIMEOUT)
            .build()
            .map_err(describe)?;
        // A type the control API accepts on POST (TOML for a world, JSON otherwise), and its token when the target
        // needs one (`terminus serve` off loopback prints it; TERMINUS_CONTROL_TOKEN passes it here).
        let mut request = client.request(method, &url);
        if let Ok(token) = std::env::var("TERMINUS_CONTROL_TOKEN") {
            request = request.header(crate::mock::TOKEN_HEADER, token);
        }
        if let Some(body) = body {
            let media_type = if body.trim_start().starts_with('{') {
                "application/json"
            } else {
                "application/toml"
            };
            request = request.header("content-type", media_type).body(body);
        }
        let response = request.send().await.map_err(describe)?;
        let status = response.status();
        let text = response.text().await.map_err(describe)?;
        if !status.is_success() {
            return Err(format!("control API {url} answered {status}: {text}"));
        }
        serde_json::from_str(&text)
            .map_err(|error| format!("control API {url} answered non-JSON ({error}): {text}"))
    }
}

/// The world as TOML with its keys, the body `PUT /__terminus/world` takes.
pub(crate) fn world_toml_with_keys(world: &WorldSpec) -> Result<String, String> {
    toml::to_string(&WorldWithKeys(world)).map_err(|error| error.to_string())
}

/// The world in its file shape, with the keys the control API needs to seed accounts.
struct WorldWithKeys<'a>(&'a WorldSpec);

impl serde::Serialize for WorldWithKeys<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut value = serde_json::to_value(self.0).map_err(serde::ser::Error::custom)?;
        if let Some(accounts) = value["accounts"].as_array_mut() {
            for (account, spec) in accounts.iter_mut().zip(&self.0.accounts) {
                account["secret-key"] = Value::from(spec.secret_key.expose());
                if let Some(token) = &spec.token {
                    account["token"] = Value::from(token.expose());
                }
                if let Some(token) = &spec.bearer_token {
                    account["bearer-token"] = Value::from(token.expose());
                }
            }
        }
        value.serialize(serializer)
    }
}

/// The socket address of a target's base URL (`http://host:port`); the raw client speaks plain HTTP only.
pub(crate) async fn resolve(base: &str) -> Result<SocketAddr, String> {
    let authority = base
        .strip_prefix("http://")
        .ok_or_else(|| format!("bad target {base}: only http:// targets can be sent raw bytes"))?;
    let authority = authority.split('/').next().unwrap_or_default();
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    tokio::net::lookup_host(&with_port)
        .await
        .map_err(|error| format!("bad target {base}: {error}"))?
        .next()
        .ok_or_else(|| format!("bad target {base}: the name resolves to no address"))
}

/// An HTTP client error with its causes.
fn describe(error: reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server that answers every request `{}` and hands over the bytes of each connection's first request.
    async fn recorder() -> (String, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut bytes = Vec::new();
                let mut buffer = [0u8; 4096];
                // The head, then the body its Content-Length announces.
                loop {
                    let read = stream.read(&mut buffer).await.unwrap_or(0);
                    bytes.extend_from_slice(&buffer[..read]);
                    if read == 0 {
                        break;
                    }
                    if let Ok(request) = Request::parse(&bytes)
                        && request.header("content-length").is_some()
                    {
                        break;
                    }
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nX-Mixed-Case: v\r\nContent-Length: 2\r\n\r\n{}")
                    .await;
                let _ = sender.send(bytes);
            }
        });
        (base, receiver)
    }

    #[tokio::test]
    async fn the_bytes_a_case_built_are_the_bytes_on_the_wire() {
        let (base, mut sent) = recorder().await;
        let session = Session::open(&Target::Url(base), &WorldSpec::default())
            .await
            .unwrap();
        let mut next = async || {
            tokio::time::timeout(TIMEOUT, sent.recv())
                .await
                .expect("the recorder hands over a request within the timeout")
                .expect("the recorder runs")
        };
        let _world_upload = next().await;
        let request = Request::parse(
            b"POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nX-TC-Action: TerminateInstances\r\n\
              Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        )
        .unwrap();
        let response = tokio::time::timeout(TIMEOUT, session.send(&request, TIMEOUT))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&next().await),
            String::from_utf8_lossy(&request.to_bytes())
        );
        assert_eq!(
            response.headers,
            [
                ("X-Mixed-Case".to_owned(), "v".to_owned()),
                ("Content-Length".to_owned(), "2".to_owned())
            ]
        );
        assert_eq!(response.body, b"{}");
    }
}
