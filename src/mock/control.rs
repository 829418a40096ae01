//! The control API, on the mock's own port under `/__terminus/`: read and seed the world, move its clock,
//! inject and clear faults. Unsigned (the mock listens on loopback). Bodies are TOML, the world-file shape, or
//! JSON; answers are JSON.
//!
//! | request | does |
//! |---|---|
//! | `GET /__terminus/world` | the world's state, in the world-file shape, without keys and tokens |
//! | `PUT /__terminus/world` | replaces the world with the one in the body |
//! | `GET /__terminus/instances/{id}` | one instance (CVM or Zenlayer Bare Metal) |
//! | `GET /__terminus/clock` | `{"now": …}` |
//! | `POST /__terminus/clock` | `{"advance": seconds}` or `{"set": unix_seconds}`, answers `{"now": …}` |
//! | `GET`, `POST`, `DELETE /__terminus/faults` | lists, adds (one fault, in the `[[faults]]` shape), clears |

use hyper::Uri;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::fault::FaultSpec;
use super::{Reply, Shared};
use crate::world::{World, WorldSpec, toml_error, without_values};

/// Where the control API lives.
pub(super) const PREFIX: &str = "/__terminus/";
/// The largest control body read (a world file).
pub(super) const BODY_LIMIT: usize = 16 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct ClockChange {
    advance: Option<i64>,
    set: Option<i64>,
}

pub(super) fn handle(method: &str, uri: &Uri, body: &[u8], shared: &Shared) -> Reply {
    let path = uri.path().trim_start_matches(PREFIX).trim_end_matches('/');
    let answer = match (method, path) {
        ("GET", "world") => Ok(world_json(&shared.world())),
        ("PUT", "world") => parse::<WorldSpec>(body).and_then(|spec| {
            spec.check("request body")
                .map_err(|error| error.to_string())?;
            let mut world = shared.world();
            *world = World::new(spec);
            Ok(world_json(&world))
        }),
        ("GET", "clock") => Ok(json!({ "now": shared.world().clock.now() })),
        ("POST", "clock") => parse::<ClockChange>(body).map(|change| {
            let mut world = shared.world();
            if let Some(at) = change.set {
                world.clock.set(at);
            }
            if let Some(seconds) = change.advance {
                world.clock.advance(seconds);
            }
            json!({ "now": world.clock.now() })
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
            let world = shared.world();
            return match world
                .spec
                .instances
                .iter()
                .find(|instance| instance.id == id)
            {
                Some(instance) => reply(200, serde_json::to_value(instance).unwrap_or_default()),
                // Zenlayer Bare Metal instances, as the snapshot sees them (recycle bin released when due).
                None => match world
                    .snapshot()
                    .bmc_instances
                    .iter()
                    .find(|instance| instance.id == id)
                {
                    Some(instance) => {
                        reply(200, serde_json::to_value(instance).unwrap_or_default())
                    }
                    None => reply(404, json!({ "error": format!("no instance {id}") })),
                },
            };
        }
        (_, "world" | "clock" | "faults") => {
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

fn world_json(world: &World) -> Value {
    serde_json::to_value(world.snapshot()).unwrap_or_default()
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
