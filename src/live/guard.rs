//! The proof made before every live request that is not a read: it cannot name an existing instance.
//!
//! Which strings of a request a real API reads as instance ids is its business, not ours, so every string in the
//! step's parameters (at any depth: `InstanceIds`, `InstanceIds.0`, `instanceId`, a filter's values…) is a
//! candidate. Each is looked up with the provider's `DescribeInstances` under the run's own credentials, at most
//! 100 at a time (the documented page limit); the proof holds when the answer lists none of them. A batch the API
//! refuses is asked again one id at a time, and an id refused on its own as not an instance id at all (the
//! malformed-id codes) cannot name an instance either. Anything else — no answer, another error, an id that is
//! found — fails the proof, and the request is not sent: the harm of a missed case is a line in a report; the harm
//! of a wrong guess is a destroyed machine.

use std::future::Future;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::exchange::{NoAnswer, Response};
use crate::message::Request;
use crate::provider::{Call, ProviderId};
use crate::signing::Credentials;

use super::credentials::LiveCredentials;

/// Ids per `DescribeInstances` call: Tencent's documented maximum for `InstanceIds`, Zenlayer's page size.
const BATCH: usize = 100;

/// Codes with which an API refuses a lone string as no instance id at all.
const NOT_AN_ID: [&str; 4] = [
    "InvalidInstanceId.Malformed",
    "InvalidParameterValue.InstanceIdMalformed",
    "INVALID_INSTANCE_ID_MALFORMED",
    "INVALID_PARAMETER_VALUE",
];

/// Codes with which an API refuses a region it does not serve.
const NO_SUCH_REGION: [&str; 3] = [
    "UnsupportedRegion",
    "UnsupportedOperation.Region",
    "InvalidParameterValue.Region",
];

/// Sends one request and reads its answer: the live endpoint, or a test's stand-in for it.
pub trait Transport: Sync {
    /// Sends `request` and waits at most `timeout` for the answer.
    fn send(
        &self,
        request: &Request,
        timeout: Duration,
    ) -> impl Future<Output = Result<Response, NoAnswer>> + Send;
}

/// Whether a request for `action` needs the proof: every action but the reads (`Describe…`, `Get…`,
/// `Inquiry…`), and any request whose extra headers or parameter names could name another action (an
/// `X-TC-Action` header, an `Action` parameter that the legacy gateway reads from the query).
pub fn needs_proof<'a>(action: &str, names: impl IntoIterator<Item = &'a String>) -> bool {
    let read = ["Describe", "Get", "Inquiry"]
        .iter()
        .any(|prefix| action.starts_with(prefix));
    !read
        || names
            .into_iter()
            .any(|name| name.to_ascii_lowercase().contains("action"))
}

/// Every string and number in the parameters, at any depth, once each, in first-seen order (a number, because
/// an API may read `564212148932313088` as the id `"564212148932313088"`).
pub fn candidates(params: &Map<String, Value>) -> Vec<String> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        let text = match value {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        };
        if let Some(text) = text {
            if !out.contains(&text) {
                out.push(text);
            }
            return;
        }
        match value {
            Value::Array(items) => items.iter().for_each(|item| walk(item, out)),
            Value::Object(map) => map.values().for_each(|item| walk(item, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    params.values().for_each(|value| walk(value, &mut out));
    out
}

/// Proves that none of `ids` names an instance the credentials can see; `Err` says which id and why not.
pub async fn prove_absent(
    transport: &impl Transport,
    provider: ProviderId,
    credentials: &LiveCredentials,
    region: Option<&str>,
    ids: &[String],
    timeout: Duration,
) -> Result<(), String> {
    let lookup = Lookup {
        transport,
        provider,
        credentials,
        region,
        timeout,
    };
    for batch in ids.chunks(BATCH) {
        match lookup.describe(batch).await? {
            Found::None => {}
            // A region the API does not serve holds no instance to name.
            Found::Refused(code) if region.is_some() && NO_SUCH_REGION.contains(&code.as_str()) => {
            }
            // A batch that found something or was refused: which id? Each is asked alone.
            _ if batch.len() > 1 => {
                for id in batch {
                    judge(id, lookup.describe(std::slice::from_ref(id)).await?)?;
                }
            }
            found => judge(&batch[0], found)?,
        }
    }
    Ok(())
}

/// The verdict on one id asked alone.
fn judge(id: &str, found: Found) -> Result<(), String> {
    match found {
        Found::None => Ok(()),
        Found::Refused(code) if NOT_AN_ID.contains(&code.as_str()) => Ok(()),
        Found::Some(count) => Err(format!(
            "{id:?} names an existing instance ({count} found): not sent"
        )),
        Found::Refused(code) | Found::Other(code) => Err(format!(
            "cannot prove {id:?} names no instance: DescribeInstances answered {code}; not sent"
        )),
    }
}

/// What a `DescribeInstances` of some ids found.
enum Found {
    /// Nothing.
    None,
    /// This many instances.
    Some(u64),
    /// An error answer with this code.
    Refused(String),
    /// An answer that says nothing either way.
    Other(String),
}

/// Where and as whom `prove_absent` looks ids up.
struct Lookup<'a, T> {
    transport: &'a T,
    provider: ProviderId,
    credentials: &'a LiveCredentials,
    region: Option<&'a str>,
    timeout: Duration,
}

impl<T: Transport> Lookup<'_, T> {
    /// One `DescribeInstances` of `ids`.
    async fn describe(&self, ids: &[String]) -> Result<Found, String> {
        let Self {
            transport,
            provider,
            credentials,
            region,
            timeout,
        } = *self;
        // The legacy gateway has no DescribeInstances in terminus's scope; API 3.0 sees the same account.
        let (describer, key, count) = if provider == ProviderId::ZenlayerBmc {
            (ProviderId::ZenlayerBmc, "instanceIds", "totalCount")
        } else {
            (ProviderId::Tencent, "InstanceIds", "TotalCount")
        };
        let mut params = Map::new();
        params.insert(key.into(), Value::from(ids.to_vec()));
        if describer == ProviderId::ZenlayerBmc {
            params.insert("pageSize".into(), Value::from(BATCH));
        }
        let signing = Credentials::new(
            credentials.secret_id.clone(),
            credentials.secret_key().clone(),
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs() as i64);
        let call = Call {
            action: "DescribeInstances",
            params: &params,
            region: region.or(credentials.region.as_deref()),
            version: None,
            credentials: &signing,
            token: credentials.token().map(|token| token.expose()),
            timestamp: now,
            nonce: u64::from(now.unsigned_abs() as u32),
            sign: describer.default_sign(),
            method: "POST",
            headers: &[],
        };
        let (request, _) = describer
            .build_request(&call)
            .map_err(|error| format!("cannot build the DescribeInstances proof: {error}"))?;
        let response = transport.send(&request, timeout).await.map_err(|error| {
            format!("the DescribeInstances proof got no answer ({error}): not sent")
        })?;
        Ok(match describer.read_answer(&response.body) {
            Ok(Ok(fields)) => match fields.get(count).and_then(Value::as_u64) {
                Some(0) => Found::None,
                Some(found) => Found::Some(found),
                None => Found::Other(format!("HTTP {} without {count}", response.status)),
            },
            Ok(Err(code)) => Found::Refused(code),
            Err(why) => Found::Other(format!("HTTP {}, {why}", response.status)),
        })
    }
}
