//! The control API, on the mock's own port under `/__terminus/`: read and seed the world, move its clock,
//! inject and clear faults. Bodies are TOML, the world-file shape, or JSON; answers are JSON.
//!
//! # Who may call it
//!
//! It can replace the world, so it answers only its user, as a user of a shared CI host would expect ([`admit`],
//! in this order; `GET /__terminus/health`, which says nothing but that the server is up, needs only the first):
//!
//! 1. only in origin form (`PUT /__terminus/world`), on the mock's own listener: not in a proxy-form request
//!    (`PUT http://any.host/__terminus/world`), not inside a `CONNECT` tunnel (`403`), and with a `Host` header
//!    (`400`; HTTP/1.0 lets a client leave it out);
//! 2. with a token (given to `terminus serve --control-token` or `TERMINUS_CONTROL_TOKEN`, or generated and printed
//!    once when the server listens on an address that is not loopback): every call carries it as
//!    `X-Terminus-Token` (`401` otherwise);
//! 3. without a token (loopback only): the `Host` names loopback (`localhost`, `127.0.0.1`, `[::1]`, with any port),
//!    so a web page that rebinds its own name to 127.0.0.1 cannot read or change the world (`403`);
//! 4. a `POST` carries a `Content-Type` a browser cannot send cross-origin without asking first (anything but
//!    `text/plain`, `application/x-www-form-urlencoded` and `multipart/form-data`: `application/json`,
//!    `application/toml`), or an `X-Terminus-Token` header (`415` otherwise). `PUT` and `DELETE` are never sent
//!    cross-origin without a preflight, which the mock never approves (it sends no CORS headers).
//!
//! A body that cannot be read (over [`BODY_LIMIT`]: `413`; cut short or stalled past the body timeout: `400`)
//! changes nothing.
//!
//! | request | does |
//! |---|---|
//! | `GET /__terminus/health` | `{"status": "ok"}`: the server is up and answering (no token needed: `terminus health`, a container's `HEALTHCHECK`) |
//! | `GET /__terminus/world` | the world's state, in the world-file shape, keys `[REDACTED]` and tokens `[TOKEN]` |
//! | `PUT /__terminus/world` | replaces the world with the one in the body; a `[REDACTED]` key or `[TOKEN]` token keeps the current account's, so a `GET` puts back as it was; an empty or blank body is refused (`400`): an empty world is a document, `accounts = []` or `{}` |
//! | `POST /__terminus/reset` | back to the world the server started with (the journal stays) |
//! | `GET /__terminus/requests` | the journal (`super::journal`), filtered by `provider`, `action`, `secret-id`, `verdict`, `code`, `since`, `limit` |
//! | `DELETE /__terminus/requests` | clears the journal |
//! | `GET /__terminus/instances/{id}` | one instance (CVM or Zenlayer Bare Metal) |
//! | `GET /__terminus/clock` | `{"now": …}` |
//! | `POST /__terminus/clock` | `{"advance": seconds}` or `{"set": unix_seconds}`, answers `{"now": …}` |
//! | `GET`, `POST`, `DELETE /__terminus/faults` | lists, adds (one fault, in the `[[faults]]` shape), clears |
//! | `GET /__terminus/timings` | the lifecycle's timings, `{"timings": …}` |
//! | `PUT /__terminus/timings` | `{"timings": "immediate"}` or `{"timings": {"stop": 30, …}}`: for transitions started from then on |
//! | `PUT /__terminus/scenario/{id}`, `GET …/{id}/verdict` | loads a scenario's world, judges a client's run (`scenario`) |

use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{HeaderMap, Uri};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::Shared;
use super::journal::Filter;
use crate::message::Reply;
use crate::signing::Secret;
use crate::world::fault::FaultSpec;
use crate::world::lifecycle::TimingsSpec;
use crate::world::{World, WorldSpec, toml_error, without_values};

/// Where the control API lives.
pub(super) const PREFIX: &str = "/__terminus/";
/// The health check, the one control path open without the token.
const HEALTH: &str = "/__terminus/health";
/// The largest control body read (a world file).
pub(super) const BODY_LIMIT: usize = 16 * 1024 * 1024;
/// The header that carries the control token.
pub const TOKEN_HEADER: &str = "x-terminus-token";
/// The media types a browser sends cross-origin without a preflight (Fetch standard, CORS-safelisted request
/// header `Content-Type`).
const BROWSER_SIMPLE_TYPES: [&str; 3] = [
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
];

/// What [`admit`] looks at.
pub(super) struct Access<'a> {
    pub(super) method: &'a str,
    pub(super) uri: &'a Uri,
    pub(super) headers: &'a HeaderMap,
    /// Inside a `CONNECT` tunnel.
    pub(super) tunnelled: bool,
}

/// Whether this control call may be served (the rules are in the module docs); the refusal otherwise.
pub(super) fn admit(access: &Access<'_>, shared: &Shared) -> Result<(), Reply> {
    if access.tunnelled || access.uri.scheme().is_some() || access.uri.authority().is_some() {
        return Err(Reply::error(
            403,
            "the control API is served only in origin form (PUT /__terminus/world) on the mock's own listener, not through a proxy or a CONNECT tunnel",
        ));
    }
    // The health check says nothing but "up", so an orchestrator probes it without the token, by any name.
    if access.method == "GET" && access.uri.path().trim_end_matches('/') == HEALTH {
        return Ok(());
    }
    // HTTP/1.0 lets a client leave `Host` out; the loopback check below would then have nothing to look at.
    if access.headers.get(HOST).is_none() {
        return Err(Reply::error(
            400,
            "a control call needs a Host header (the control API checks who it is for)",
        ));
    }
    let presented = access.headers.get(TOKEN_HEADER);
    match &shared.control_token {
        Some(token) => {
            if !presented.is_some_and(|value| token.matches(value.as_bytes())) {
                return Err(Reply::error(
                    401,
                    "the control API of this server needs its token in the X-Terminus-Token header (terminus serve printed it, or it was given with --control-token or TERMINUS_CONTROL_TOKEN)",
                ));
            }
        }
        None => {
            let hosts: Vec<_> = access.headers.get_all(HOST).iter().collect();
            if hosts.len() > 1
                || hosts
                    .first()
                    .is_some_and(|host| !names_loopback(host.as_bytes()))
            {
                return Err(Reply::error(
                    403,
                    "the control API answers only requests whose Host names loopback (localhost, 127.0.0.1, [::1]); to serve it on another address, listen there and use a control token",
                ));
            }
        }
    }
    if access.method == "POST" && presented.is_none() {
        let media_type = access
            .headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(|value| value.split(';').next().unwrap_or_default().trim());
        let forgeable = media_type.is_none_or(|media_type| {
            media_type.is_empty()
                || BROWSER_SIMPLE_TYPES
                    .iter()
                    .any(|simple| media_type.eq_ignore_ascii_case(simple))
        });
        if forgeable {
            return Err(Reply::error(
                415,
                "a control POST needs Content-Type application/json or application/toml (or an X-Terminus-Token header): a web page can send text/plain, form and multipart bodies to any address",
            ));
        }
    }
    Ok(())
}

/// Whether a `Host` value names a loopback address (`localhost`, `127.0.0.0/8`, `::1`), with or without a port.
fn names_loopback(host: &[u8]) -> bool {
    let Ok(host) = std::str::from_utf8(host) else {
        return false;
    };
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inside, "")) => inside,
            Some((inside, port)) if port.strip_prefix(':').is_some_and(is_port) => inside,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return false,
            None => host,
        }
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// 1 to 5 digits.
fn is_port(digits: &str) -> bool {
    (1..=5).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The answer to a body over [`BODY_LIMIT`].
pub(super) fn too_large() -> Reply {
    Reply::error(
        413,
        &format!("the control API reads bodies of at most {BODY_LIMIT} bytes; nothing was changed"),
    )
}

/// `PUT /__terminus/timings`: `{"timings": "immediate"}` or `{"timings": {"stop": 30}}`, as in a world file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimingsChange {
    timings: TimingsSpec,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct ClockChange {
    advance: Option<i64>,
    set: Option<i64>,
}

pub(super) fn handle(method: &str, uri: &Uri, body: &[u8], shared: &Shared) -> Reply {
    let path = uri.path().trim_start_matches(PREFIX).trim_end_matches('/');
    if let Some(reply) = super::scenario::handle(method, path, shared) {
        return reply;
    }
    let answer = match (method, path) {
        ("GET", "health") => Ok(json!({ "status": "ok" })),
        ("GET", "world") => Ok(world_json(&shared.world())),
        // An empty body is more often a mistake (a file that was not there, a variable that was not set) than a
        // wish for an empty world, which a document says (`accounts = []`, or `{}`).
        ("PUT", "world") if body.trim_ascii().is_empty() => Err(
            "the body is empty; to replace the world with an empty one, send a document that says so, e.g. `accounts = []` (TOML) or `{}` (JSON)".to_owned(),
        ),
        ("PUT", "world") => parse::<WorldSpec>(body).and_then(|mut spec| {
            let mut world = shared.world();
            keep_elided_secrets(&mut spec, &world)?;
            spec.check("request body")
                .map_err(|error| error.to_string())?;
            world.replace(spec);
            Ok(world_json(&world))
        }),
        ("POST", "reset") => {
            let mut world = shared.world();
            world.replace(shared.initial.spec());
            Ok(world_json(&world))
        }
        ("GET", "requests") => match Filter::from_query(uri.query().unwrap_or_default()) {
            // Written straight into the answer: a copy of the journal as a JSON value would be several times its size.
            Ok(filter) => {
                let mut body = Vec::new();
                return match shared.journal().write_selected(&filter, &mut body) {
                    Ok(()) => Reply::json(200, body),
                    Err(error) => reply(500, json!({ "error": error.to_string() })),
                };
            }
            Err(error) => Err(error),
        },
        ("DELETE", "requests") => {
            shared.journal().clear();
            Ok(json!({ "requests": [] }))
        }
        ("GET", "clock") => Ok(json!({ "now": shared.world().clock.now() })),
        ("POST", "clock") => parse::<ClockChange>(body).map(|change| {
            let mut world = shared.world();
            if let Some(at) = change.set {
                world.clock.set(at);
            }
            if let Some(seconds) = change.advance {
                world.clock.advance(seconds);
            }
            // Requests that verified their timestamps against the old clock verify again.
            world.mark_changed();
            json!({ "now": world.clock.now() })
        }),
        ("GET", "timings") => Ok(json!({ "timings": shared.world().spec().timings })),
        // New timings apply to the transitions actions start from now on; those under way keep their end.
        ("PUT", "timings") => parse::<TimingsChange>(body).map(|change| {
            let mut world = shared.world();
            world.set_timings(change.timings);
            json!({ "timings": world.spec().timings })
        }),
        ("GET", "faults") => Ok(json!({ "faults": shared.world().faults.remaining() })),
        ("POST", "faults") => parse::<FaultSpec>(body).and_then(|fault| {
            fault
                .check()
                .map_err(|why| format!("request body: {why}"))?;
            let mut world = shared.world();
            world.faults.add(fault);
            Ok(json!({ "faults": world.faults.remaining() }))
        }),
        ("DELETE", "faults") => {
            shared.world().faults.clear();
            Ok(json!({ "faults": [] }))
        }
        ("GET", path) if path.starts_with("instances/") => {
            let id = &path["instances/".len()..];
            let mut world = shared.world();
            if let Some(instance) = world.instance(id) {
                return reply(200, serde_json::to_value(instance).unwrap_or_default());
            }
            // Zenlayer Bare Metal instances, as the snapshot sees them (recycle bin released when due).
            return match world.bmc().get(id) {
                Some(instance) => reply(200, serde_json::to_value(instance).unwrap_or_default()),
                None => reply(404, json!({ "error": format!("no instance {id}") })),
            };
        }
        (_, "world" | "clock" | "faults" | "health" | "reset" | "requests" | "timings") => {
            return reply(
                405,
                json!({ "error": format!("{method} is not allowed on {}", uri.path()) }),
            );
        }
        _ => {
            return reply(
                404,
                json!({ "error": format!("no control endpoint {}", uri.path()) }),
            );
        }
    };
    match answer {
        Ok(value) => reply(200, value),
        Err(error) => reply(400, json!({ "error": error })),
    }
}

/// What stands for a secret key in `GET /__terminus/world` (what a [`Secret`] prints as), and keeps it in a `PUT`.
const ELIDED_KEY: &str = crate::signing::REDACTED;
/// What stands for a session or bearer token, likewise.
const ELIDED_TOKEN: &str = "[TOKEN]";

/// The world in the world-file shape, its secrets elided: every account's `secret-key` is `[REDACTED]`, and a
/// `token` or `bearer-token` it has is `[TOKEN]`, so the answer puts back as it is.
fn world_json(world: &World) -> Value {
    let mut value = serde_json::to_value(world.snapshot()).unwrap_or_default();
    if let Some(accounts) = value.get_mut("accounts").and_then(Value::as_array_mut) {
        for (json, account) in accounts.iter_mut().zip(&world.spec().accounts) {
            let Some(fields) = json.as_object_mut() else {
                continue;
            };
            fields.insert("secret-key".into(), ELIDED_KEY.into());
            if account.token.is_some() {
                fields.insert("token".into(), ELIDED_TOKEN.into());
            }
            if account.bearer_token.is_some() {
                fields.insert("bearer-token".into(), ELIDED_TOKEN.into());
            }
        }
    }
    value
}

/// Puts back the secrets a `PUT` world elides (`[REDACTED]`, `[TOKEN]`) from the current world's account with the
/// same SecretId; an elided secret of an account the world does not have is an error that names it.
fn keep_elided_secrets(spec: &mut WorldSpec, world: &World) -> Result<(), String> {
    // Only keys and tokens change here, never a SecretId, so the store's index holds.
    for account in spec.accounts.items_mut() {
        let current = world.account(&account.secret_id);
        let unknown = |what: &str| {
            format!(
                "request body: account {}: {what} is elided, and the world has no such account to keep it from; give it",
                account.secret_id
            )
        };
        if account.secret_key.expose() == ELIDED_KEY {
            account.secret_key = current
                .map(|current| current.secret_key.clone())
                .ok_or_else(|| unknown("secret-key"))?;
        }
        if account.token.as_ref().map(Secret::expose) == Some(ELIDED_TOKEN) {
            account.token = Some(
                current
                    .and_then(|current| current.token.clone())
                    .ok_or_else(|| unknown("token"))?,
            );
        }
        if account.bearer_token.as_ref().map(Secret::expose) == Some(ELIDED_TOKEN) {
            account.bearer_token = Some(
                current
                    .and_then(|current| current.bearer_token.clone())
                    .ok_or_else(|| unknown("bearer-token"))?,
            );
        }
    }
    Ok(())
}

/// Reads a body as JSON when it is a JSON object, otherwise as TOML (whose first line may well be `[[accounts]]`).
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_owned())?;
    // Errors never quote the body: a world holds keys (see `world::toml_error`).
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|error| {
            format!(
                "request body: line {}, column {}: {}",
                error.line(),
                error.column(),
                without_values(&json_message(&error))
            )
        })
    } else {
        toml::from_str(text).map_err(|error| format!("request body: {}", toml_error(text, &error)))
    }
}

/// A JSON error's message without serde_json's ` at line L column C` suffix (the caller places it first).
fn json_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

fn reply(status: u16, value: Value) -> Reply {
    Reply::json(status, serde_json::to_vec(&value).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::names_loopback;

    #[test]
    fn loopback_hosts_are_named_with_or_without_a_port() {
        for host in [
            "127.0.0.1:18080",
            "127.0.0.1",
            "localhost:1",
            "LOCALHOST",
            "[::1]:8080",
            "[::1]",
            "127.8.9.1:80",
        ] {
            assert!(names_loopback(host.as_bytes()), "{host}");
        }
        for host in [
            "evil.example:18080",
            "127.0.0.1.evil.example",
            "localhost.evil.example:80",
            "10.0.0.1:18080",
            "[::2]:80",
            "127.0.0.1:80:80",
            "127.0.0.1:",
            "[::1]x",
            "",
        ] {
            assert!(!names_loopback(host.as_bytes()), "{host}");
        }
    }
}
