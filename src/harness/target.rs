//! Where cases run: the embedded mock (a fresh [`MockServer`] per case) or any running implementation of the
//! control API (`terminus serve` in another process). Both are driven the same way: seeded and observed through
//! `/__terminus/…`, and sent provider requests in proxy form, so requests carry the production host and are
//! byte-identical to what the official clients send.

use std::time::Duration;

use serde_json::Value;

use crate::exchange::Response;
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
    client: reqwest::Client,
    _server: Option<MockServer>,
}

/// How long any single HTTP exchange may take.
const TIMEOUT: Duration = Duration::from_secs(20);

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
        let proxy =
            reqwest::Proxy::http(&base).map_err(|error| format!("bad target {base}: {error}"))?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .proxy(proxy)
            .timeout(TIMEOUT)
            .build()
            .map_err(|error| format!("cannot build an HTTP client: {error}"))?;
        let session = Self {
            base,
            client,
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

    /// Sends a provider request, in proxy form to the production host it names.
    pub(crate) async fn send(&self, request: &Request) -> Result<Response, String> {
        let host = request.host().unwrap_or("localhost");
        let url = format!("http://{host}{}", request.target);
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|error| error.to_string())?;
        let mut builder = self.client.request(method, url);
        for (name, value) in &request.headers {
            if !name.eq_ignore_ascii_case("content-length") {
                builder = builder.header(name, value);
            }
        }
        let response = builder
            .body(request.body.clone())
            .send()
            .await
            .map_err(describe)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response.bytes().await.map_err(describe)?.to_vec();
        Ok(Response {
            status,
            headers,
            body,
        })
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

    async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Value, String> {
        let url = format!("{}/__terminus/{path}", self.base);
        // Control requests go straight to the target, not through it as a proxy.
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(TIMEOUT)
            .build()
            .map_err(describe)?;
        let mut request = client.request(method, &url);
        if let Some(body) = body {
            request = request.body(body);
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
