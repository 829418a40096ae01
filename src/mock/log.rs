//! The request log of `terminus serve --log FILE`: one JSON object per provider request, appended as it is
//! answered, for tests and users that must know what reached the server rather than what a client meant to send.
//!
//! Each line says which instances the request *named while they existed*: every instance of the world that was
//! not yet destroyed when the request arrived and whose id occurs anywhere in the request's target or body. That
//! is read from the bytes, not from a provider's parser, so a request that a parser would misread (a tampered
//! body, an id in an unexpected field) is still counted: the live-mode safety tests read this field.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use serde_json::json;

use crate::message::Reply;
use crate::message::Request;
use crate::provider::ProviderId;
use crate::world::bmc::BmcStatus;
use crate::world::{InstanceState, World};

/// An open request log.
#[derive(Debug)]
pub(crate) struct RequestLog {
    file: Mutex<std::fs::File>,
}

impl RequestLog {
    /// Opens (creating, appending to) the log at `path`; a link or anything but a regular file there is refused.
    pub(crate) fn open(path: &Path) -> Result<Self, crate::file::FileError> {
        let file = crate::file::append(path)?;
        Ok(Self {
            file: Mutex::new(file),
        })
    }

    /// Appends one request's line. A failed write is reported on standard error once per failure and does not
    /// stop the server: the answer has been decided already.
    pub(crate) fn write(&self, entry: &Entry) {
        let line = json!({
            "at": entry.at,
            "provider": entry.provider.name(),
            "action": entry.action,
            "status": entry.status,
            "code": entry.code,
            "names-existing": entry.names_existing,
        });
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(error) = writeln!(file, "{line}") {
            report_log_failure(&error);
        }
    }
}

#[allow(clippy::print_stderr)]
fn report_log_failure(error: &std::io::Error) {
    eprintln!("terminus serve: cannot write the request log: {error}");
}

/// What the log says about one request.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) at: i64,
    pub(crate) provider: ProviderId,
    pub(crate) action: Option<String>,
    pub(crate) status: u16,
    pub(crate) code: Option<String>,
    pub(crate) names_existing: Vec<String>,
}

/// The ids of the world's instances, not yet destroyed, that occur in the request's target or body.
pub(crate) fn named_existing(world: &World, request: &Request) -> Vec<String> {
    let body = String::from_utf8_lossy(&request.body);
    let named = |id: &str| !id.is_empty() && (request.target.contains(id) || body.contains(id));
    let cvm = world
        .spec()
        .instances
        .iter()
        .filter(|instance| instance.state != InstanceState::Terminated)
        .map(|instance| instance.id.as_str());
    let bmc = world
        .spec()
        .bmc_instances
        .iter()
        .filter(|instance| instance.status != BmcStatus::Released)
        .map(|instance| instance.id.as_str());
    cvm.chain(bmc)
        .filter(|id| named(id))
        .map(str::to_owned)
        .collect()
}

/// The error code of an answer in the provider's envelope, if it is one.
pub(crate) fn code_of(provider: ProviderId, reply: &Reply) -> Option<String> {
    provider.read_answer(&reply.body).ok()?.err()
}
