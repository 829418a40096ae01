//! The proof made before every live request that is not a read: it cannot name an existing instance.
//!
//! The proof is made on the request as it will be served ([`prove_request`]): its exact bytes, after the case's
//! headers, parameters and tampering, read by [`served`] for every action, region and candidate id a gateway could
//! read in them. Which strings a real API reads as instance ids is its business, not ours, so every value is a
//! candidate, in every spelling a server could decode it to. The tier of each action comes from a table
//! ([`tiers`]), never from the case. Each candidate is looked up with `DescribeInstances` under the run's own
//! credentials, at most 100 at a time (the documented page limit), in every region the request names and in the
//! run's; the proof holds when no answer lists any of them. A batch the API refuses is asked again one id at a
//! time, and an id refused on its own as not an instance id at all (the malformed-id codes) cannot name an
//! instance either. Anything else — no answer, a region the API does not serve, throttling, another error, an
//! answer it cannot read, an id that is found — fails the proof, and the request is not sent: the harm of a missed
//! case is a line in a report; the harm of a wrong guess is a destroyed machine.

use std::future::Future;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::exchange::{NoAnswer, Response};
use crate::message::Request;
use crate::provider::{Call, ProviderId};
use crate::signing::Credentials;

use super::credentials::LiveCredentials;
use super::served::{self, Served};
use super::tiers::{self, Tier};

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

/// Proves a request as it will be served, from its exact bytes ([`served::read`]): its actions' tiers come from
/// the table ([`tiers`]); a request that only reads needs no proof; one that creates without a dry run is refused;
/// one whose action has a dry run must carry `DryRun=true` in every place it names one; anything else has every
/// candidate id proven absent in every region it names and in the run's own. `Err` says why it is not sent.
pub async fn prove_request(
    transport: &impl Transport,
    provider: ProviderId,
    credentials: &LiveCredentials,
    request: &Request,
    timeout: Duration,
) -> Result<(), String> {
    let served = served::read(request)
        .map_err(|why| format!("cannot read the request it would send: {why}; not sent"))?;
    let tiers: Vec<Tier> = served
        .actions
        .iter()
        .map(|action| tiers::of(action))
        .collect();
    refuse_by_tier(&served, &tiers)?;
    if !tiers.is_empty() && tiers.iter().all(|tier| *tier == Tier::Read) {
        return Ok(());
    }
    prove_everywhere(
        transport,
        provider,
        credentials,
        &served,
        &served.candidates,
        timeout,
    )
    .await
}

/// What the safe tier refuses by the action's tier alone: a creating action without a dry run, and a dry-runnable
/// one that does not say `DryRun=true` (everywhere it names `DryRun`).
pub fn refuse_by_tier(served: &Served, tiers: &[Tier]) -> Result<(), String> {
    let named = |tier: Tier| {
        served
            .actions
            .iter()
            .zip(tiers)
            .find(|(_, found)| **found == tier)
            .map(|(action, _)| action.clone())
    };
    if let Some(action) = named(Tier::Creating) {
        return Err(format!(
            "{action} creates and has no dry run: the safe tier creates nothing (it belongs to --provision); \
             not sent"
        ));
    }
    if let Some(action) = named(Tier::DryRunnable) {
        let dry = !served.dry_run.is_empty()
            && served
                .dry_run
                .iter()
                .all(|value| value.trim().eq_ignore_ascii_case("true"));
        if !dry {
            return Err(format!(
                "{action} would create without DryRun=true (DryRun: {:?}): the safe tier creates nothing; \
                 not sent",
                served.dry_run
            ));
        }
    }
    Ok(())
}

/// Proves `ids` absent wherever `served` could be acted on: for the Tencent providers in every region it names
/// and in the run's (legacy short names mapped); for Zenlayer account-wide (its `DescribeInstances` lists every
/// zone), and in the Tencent regions too if the request names any.
pub async fn prove_everywhere(
    transport: &impl Transport,
    provider: ProviderId,
    credentials: &LiveCredentials,
    served: &Served,
    ids: &[String],
    timeout: Duration,
) -> Result<(), String> {
    if ids.is_empty() {
        return Ok(());
    }
    let lookup = |describer, region| Lookup {
        transport,
        describer,
        credentials,
        region,
        timeout,
    };
    if provider == ProviderId::ZenlayerBmc {
        prove_absent(&lookup(ProviderId::ZenlayerBmc, None), ids).await?;
        if served.regions.is_empty() {
            return Ok(());
        }
    }
    let mut regions = served.regions.clone();
    if let Some(own) = &credentials.region {
        let own = served::region_of(own);
        if !regions.contains(&own) {
            regions.insert(0, own);
        }
    }
    if regions.is_empty() {
        return Err(
            "the request names no region and the run has none: cannot prove; not sent".into(),
        );
    }
    // A string refused as no instance id at all is that in every region: asked alone once, not again.
    let mut ids = ids.to_vec();
    for region in &regions {
        let not_ids =
            prove_absent(&lookup(ProviderId::Tencent, Some(region.as_str())), &ids).await?;
        ids.retain(|id| !not_ids.contains(id));
    }
    Ok(())
}

/// Proves that none of `ids` names an instance the lookup can see; `Err` says which id and why not. An error
/// answer is never read as "no instance": a region the API does not serve, throttling, an answer it cannot
/// read all mean not proven. `Ok` holds the ids refused alone as no instance id at all.
async fn prove_absent<T: Transport>(
    lookup: &Lookup<'_, T>,
    ids: &[String],
) -> Result<Vec<String>, String> {
    let mut not_ids = Vec::new();
    for batch in ids.chunks(BATCH) {
        match lookup.describe(batch).await? {
            Found::None => {}
            Found::Refused(code) if NO_SUCH_REGION.contains(&code.as_str()) => {
                return Err(format!(
                    "cannot prove the ids absent in {}: DescribeInstances answered {code}; not sent",
                    lookup.region.unwrap_or("the account")
                ));
            }
            // A batch that found something or was refused: which id? Each is asked alone.
            _ if batch.len() > 1 => {
                for id in batch {
                    let found = lookup.describe(std::slice::from_ref(id)).await?;
                    if judge(id, lookup, found)? {
                        not_ids.push(id.clone());
                    }
                }
            }
            found => {
                if judge(&batch[0], lookup, found)? {
                    not_ids.push(batch[0].clone());
                }
            }
        }
    }
    Ok(not_ids)
}

/// The verdict on one id asked alone: `Ok(true)` when it is refused as no instance id at all.
fn judge<T>(id: &str, lookup: &Lookup<'_, T>, found: Found) -> Result<bool, String> {
    let region = lookup.region.unwrap_or("the account");
    match found {
        Found::None => Ok(false),
        Found::Refused(code) if NOT_AN_ID.contains(&code.as_str()) => Ok(true),
        Found::Some(count) => Err(format!(
            "{id:?} names an existing instance ({count} found in {region}): not sent"
        )),
        Found::Refused(code) | Found::Other(code) => Err(format!(
            "cannot prove {id:?} names no instance in {region}: DescribeInstances answered {code}; not sent"
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
    /// Whose `DescribeInstances`: API 3.0's for both Tencent providers (the legacy gateway has none in
    /// terminus's scope; API 3.0 sees the same account), Zenlayer's own.
    describer: ProviderId,
    credentials: &'a LiveCredentials,
    region: Option<&'a str>,
    timeout: Duration,
}

impl<T: Transport> Lookup<'_, T> {
    /// One `DescribeInstances` of `ids`.
    async fn describe(&self, ids: &[String]) -> Result<Found, String> {
        let Self {
            transport,
            describer,
            credentials,
            region,
            timeout,
        } = *self;
        let (key, count) = if describer == ProviderId::ZenlayerBmc {
            ("instanceIds", "totalCount")
        } else {
            ("InstanceIds", "TotalCount")
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
            region,
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
