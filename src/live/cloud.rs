//! The calls live mode makes on its own behalf (not a case's): creating the instances of the `--provision` tier,
//! reading their tags back, terminating them, polling until they are gone, and listing what `terminus sweep`
//! may destroy. Tencent Cloud API 3.0 only: Zenlayer bare metal is billed monthly and slow to create, and no
//! public source shows anyone creating it in automated tests (`reference/live-mode.md` §4).
//!
//! Every terminate goes through [`Cloud::terminate_owned`], which refuses an id that is not in this run's ledger
//! or whose `terminus:run` tag does not read back as this run's, just before the request.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::provider::{Call, ProviderId};
use crate::signing::Credentials;

use super::credentials::LiveCredentials;
use super::guard::Transport;
use super::ledger::{self, Entry, Ledger, Listed, RUN_TAG};

/// What to create for the `--provision` tier.
#[derive(Clone, Debug)]
pub struct Provisioning {
    /// `Placement.Zone`, e.g. `ap-guangzhou-3`.
    pub zone: String,
    /// The image to boot.
    pub image: String,
    /// The instance type: the cheapest the zone sells.
    pub instance_type: String,
    /// The server-side deadline: each instance's `ActionTimer` terminates it this long after creation.
    pub deadline: Duration,
}

/// A signed caller of the live endpoint.
#[derive(Debug)]
pub struct Cloud<'a, T: Transport> {
    /// Where requests go.
    pub transport: &'a T,
    /// Whose account.
    pub credentials: &'a LiveCredentials,
}

impl<T: Transport> Cloud<'_, T> {
    /// One API 3.0 call: the answer's fields, or the error code (or why there was no answer).
    pub async fn call(
        &self,
        action: &str,
        params: Map<String, Value>,
    ) -> Result<Map<String, Value>, String> {
        let signing = Credentials::new(
            self.credentials.secret_id.clone(),
            self.credentials.secret_key().clone(),
        );
        let now = unix_now();
        let call = Call {
            action,
            params: &params,
            region: self.credentials.region.as_deref(),
            version: None,
            credentials: &signing,
            token: self.credentials.token().map(|token| token.expose()),
            timestamp: now,
            nonce: now.unsigned_abs(),
            sign: ProviderId::Tencent.default_sign(),
            method: "POST",
            headers: &[],
        };
        let (request, _) = ProviderId::Tencent
            .build_request(&call)
            .map_err(|error| format!("cannot build {action}: {error}"))?;
        let response = self
            .transport
            .send(&request, super::runner::TIMEOUT)
            .await
            .map_err(|error| format!("{action}: no answer ({error})"))?;
        match ProviderId::Tencent.read_answer(&response.body) {
            Ok(Ok(fields)) => Ok(fields),
            Ok(Err(code)) => Err(code),
            Err(why) => Err(format!("{action}: HTTP {} {why}", response.status)),
        }
    }

    /// Creates one tagged pay-as-you-go instance with its `ActionTimer`, records it in the ledger as soon as its
    /// id is known (before anything else is done with the answer), and returns the id.
    pub async fn create(
        &self,
        ledger: &Ledger,
        provisioning: &Provisioning,
        protected: bool,
    ) -> Result<String, String> {
        let now = unix_now();
        let timer_at = now + provisioning.deadline.as_secs() as i64;
        let params = json!({
            "InstanceChargeType": "POSTPAID_BY_HOUR",
            "Placement": { "Zone": provisioning.zone },
            "ImageId": provisioning.image,
            "InstanceType": provisioning.instance_type,
            "InstanceCount": 1,
            "InstanceName": format!("terminus-{}", ledger.run()),
            "DisableApiTermination": protected,
            "TagSpecification": [{
                "ResourceType": "instance",
                "Tags": [{ "Key": RUN_TAG, "Value": ledger.run() }],
            }],
            "ActionTimer": {
                "TimerAction": "TerminateInstances",
                "ActionTime": iso(timer_at),
            },
        });
        let Value::Object(params) = params else {
            unreachable!("a JSON object")
        };
        let answer = self.call("RunInstances", params).await?;
        let id = answer
            .get("InstanceIdSet")
            .and_then(|set| set.get(0))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("RunInstances answered no InstanceIdSet: {answer:?}"))?
            .to_owned();
        ledger
            .record(&Entry {
                run: ledger.run().to_owned(),
                id: id.clone(),
                region: self.credentials.region.clone().unwrap_or_default(),
                created: now,
            })
            .map_err(|error| format!("cannot write the ledger (instance {id} exists!): {error}"))?;
        Ok(id)
    }

    /// The instance as `DescribeInstances` lists it now (`None`: not listed).
    pub async fn describe(&self, id: &str) -> Result<Option<Map<String, Value>>, String> {
        let answer = self
            .call("DescribeInstances", object(json!({ "InstanceIds": [id] })))
            .await?;
        Ok(answer
            .get("InstanceSet")
            .and_then(Value::as_array)
            .and_then(|set| set.first())
            .and_then(Value::as_object)
            .cloned())
    }

    /// Polls until the instance's state satisfies `done` (its listing, `None` when not listed), with back-off
    /// from 1 s doubling to 8 s, as real clients poll an eventually consistent API; errs after `deadline`.
    ///
    /// Each poll is told to `progress`; a wait for anything but `gone` ends when the operator asks the run to
    /// stop (a teardown's wait goes on: it is what the stop is for).
    pub async fn wait_for(
        &self,
        id: &str,
        what: &str,
        deadline: Duration,
        progress: Option<&super::progress::Progress>,
        done: impl Fn(Option<&Map<String, Value>>) -> bool,
    ) -> Result<(), String> {
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_secs(1);
        loop {
            let listed = self.describe(id).await?;
            if done(listed.as_ref()) {
                return Ok(());
            }
            if let Some(progress) = progress {
                if progress.stopping() && what != "gone" {
                    return Err(format!("stopped by the operator while {id} was not {what}"));
                }
                progress.waiting(&format!("{id} to be {what}"), started.elapsed());
            }
            if started.elapsed() + pause > deadline {
                return Err(format!("{id} is not {what} after {deadline:?}"));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(8));
        }
    }

    /// Terminates an instance of this run: only if it is in the run's ledger and its run tag reads back as this
    /// run's just before; clears its termination protection first (it is ours: the tag says so).
    pub async fn terminate_owned(&self, ledger: &Ledger, id: &str) -> Result<(), String> {
        if !ledger
            .holds(id)
            .map_err(|error| format!("cannot read the ledger: {error}"))?
        {
            return Err(format!("{id} is not in this run's ledger: not terminated"));
        }
        self.terminate_tagged(id, ledger.run()).await
    }

    /// Terminates `id` if its `terminus:run` tag reads back as `run` now.
    pub async fn terminate_tagged(&self, id: &str, run: &str) -> Result<(), String> {
        let listed = self.describe(id).await?;
        let Some(listed) = listed else {
            return Ok(());
        };
        if run_tag(&listed).as_deref() != Some(run) {
            return Err(format!(
                "{id}'s {RUN_TAG} tag does not read back as {run}: not terminated"
            ));
        }
        if listed.get("DisableApiTermination") == Some(&Value::Bool(true)) {
            self.call(
                "ModifyInstancesAttribute",
                object(json!({ "InstanceIds": [id], "DisableApiTermination": false })),
            )
            .await?;
        }
        // An instance in a passing state (PENDING right after creation, STOPPING…) is refused until it settles:
        // asked again with back-off, for at most five minutes.
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_secs(1);
        loop {
            match self
                .call("TerminateInstances", object(json!({ "InstanceIds": [id] })))
                .await
            {
                Ok(_) => return Ok(()),
                // Already on its way out (a second call, or its ActionTimer).
                Err(code) if code.starts_with("UnsupportedOperation.InstanceStateTermin") => {
                    return Ok(());
                }
                Err(code)
                    if PASSING.iter().any(|state| code.ends_with(state))
                        && started.elapsed() + pause < Duration::from_secs(300) =>
                {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(8));
                }
                Err(code) => return Err(format!("TerminateInstances {id}: {code}")),
            }
        }
    }

    /// Every instance carrying the run tag, with its tag value and creation time, page by page: at most
    /// [`MOST_PAGES`] pages, so that an endpoint whose `TotalCount` never ends cannot keep the sweep paging
    /// forever; hitting the bound is an error that says so.
    pub async fn list_tagged(&self) -> Result<Vec<Listed>, String> {
        let mut found = Vec::new();
        for page in 0.. {
            if page == MOST_PAGES {
                return Err(format!(
                    "the listing did not end after {MOST_PAGES} pages ({} tagged instances): stopped there; \
                     an account with more terminus instances than that is not one a sweep should guess about",
                    found.len()
                ));
            }
            let answer = self
                .call(
                    "DescribeInstances",
                    object(json!({
                        "Filters": [{ "Name": "tag-key", "Values": [RUN_TAG] }],
                        "Offset": page * 100,
                        "Limit": 100,
                    })),
                )
                .await?;
            let set = answer
                .get("InstanceSet")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for instance in set.iter().filter_map(Value::as_object) {
                found.push(Listed {
                    id: instance
                        .get("InstanceId")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    run_tag: run_tag(instance),
                    created: instance
                        .get("CreatedTime")
                        .and_then(Value::as_str)
                        .and_then(parse_iso)
                        .unwrap_or(i64::MAX),
                });
            }
            let total = answer
                .get("TotalCount")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if set.is_empty() || (page + 1) * 100 >= total {
                break;
            }
        }
        Ok(found)
    }
}

/// The most pages of 100 a sweep's listing reads: 10 000 tagged instances, far more than any run's
/// `--max-instances`.
pub const MOST_PAGES: u64 = 100;

/// The refusals of an instance in a passing state (`UnsupportedOperation.InstanceState…`), which end by waiting.
const PASSING: [&str; 4] = [
    "InstanceStatePending",
    "InstanceStateStarting",
    "InstanceStateStopping",
    "InstanceStateRebooting",
];

/// Whether a listing says the instance is gone: not listed, or on its way out (the Terraform provider's rule).
pub fn gone(listed: Option<&Map<String, Value>>) -> bool {
    listed.is_none_or(|instance| {
        matches!(
            instance.get("InstanceState").and_then(Value::as_str),
            Some("TERMINATING" | "SHUTDOWN" | "TERMINATED")
        )
    })
}

/// The value of the instance's `terminus:run` tag.
fn run_tag(instance: &Map<String, Value>) -> Option<String> {
    instance
        .get("Tags")?
        .as_array()?
        .iter()
        .find(|tag| tag.get("Key").and_then(Value::as_str) == Some(RUN_TAG))?
        .get("Value")?
        .as_str()
        .map(str::to_owned)
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

const ISO: &[time::format_description::BorrowedFormatItem<'_>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

fn iso(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|at| at.format(ISO).ok())
        .unwrap_or_default()
}

/// `YYYY-MM-DDThh:mm:ssZ`, the API's time format, in Unix seconds.
fn parse_iso(text: &str) -> Option<i64> {
    let (date, clock) = text.strip_suffix('Z')?.split_once('T')?;
    let numbers = |part: &str, separator: char| -> Option<Vec<u32>> {
        part.split(separator).map(|n| n.parse().ok()).collect()
    };
    let (date, clock) = (numbers(date, '-')?, numbers(clock, ':')?);
    let [year, month, day]: [u32; 3] = date[..].try_into().ok()?;
    let [hour, minute, second]: [u32; 3] = clock[..].try_into().ok()?;
    let date = time::Date::from_calendar_date(
        i32::try_from(year).ok()?,
        time::Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
    )
    .ok()?;
    Some(
        time::PrimitiveDateTime::new(date, clock)
            .assume_utc()
            .unix_timestamp(),
    )
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// The sweep: what it would do to each tagged instance, and, with `destroy`, does it.
pub async fn sweep<T: Transport>(
    cloud: &Cloud<'_, T>,
    ledgers: &std::collections::BTreeMap<String, Entry>,
    older_than: i64,
    destroy: bool,
) -> Result<Vec<(Listed, ledger::Verdict, Option<String>)>, String> {
    let now = unix_now();
    let mut report = Vec::new();
    for listed in cloud.list_tagged().await? {
        let verdict = ledger::judge(&listed, ledgers, now, older_than);
        let done = match (&verdict, destroy, &listed.run_tag) {
            (ledger::Verdict::Destroy, true, Some(run)) => Some(
                cloud
                    .terminate_tagged(&listed.id, run)
                    .await
                    .map_or_else(|error| error, |()| "terminated".to_owned()),
            ),
            _ => None,
        };
        report.push((listed, verdict, done));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::exchange::{NoAnswer, Response};
    use crate::message::Request;

    /// An account as the real API would list it (DescribeInstances' documented fields), recording every action
    /// and the ids it named.
    struct Account {
        instances: Vec<Value>,
        sent: Mutex<Vec<(String, Value)>>,
    }

    impl Transport for Account {
        async fn send(&self, request: &Request, _: Duration) -> Result<Response, NoAnswer> {
            let action = request.header("x-tc-action").unwrap_or_default().to_owned();
            let params: Value = serde_json::from_slice(&request.body).unwrap_or_default();
            self.sent
                .lock()
                .unwrap()
                .push((action.clone(), params.clone()));
            let fields = match action.as_str() {
                "DescribeInstances" => {
                    let set: Vec<&Value> = match params.get("InstanceIds") {
                        Some(ids) => self
                            .instances
                            .iter()
                            .filter(|i| ids.as_array().unwrap().contains(&i["InstanceId"]))
                            .collect(),
                        None => self
                            .instances
                            .iter()
                            .filter(|i| i["Tags"].as_array().is_some_and(|t| !t.is_empty()))
                            .collect(),
                    };
                    json!({ "TotalCount": set.len(), "InstanceSet": set })
                }
                _ => json!({}),
            };
            let mut body = json!({ "Response": fields });
            body["Response"]["RequestId"] = json!("6a4f8f6e-3c1b-4f7e-9a4b-1c2d3e4f5a6b");
            Ok(Response {
                status: 200,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: body.to_string().into_bytes(),
            })
        }
    }

    fn listed(id: &str, run: Option<&str>, created: &str) -> Value {
        let tags = run.map_or(json!([]), |run| json!([{ "Key": RUN_TAG, "Value": run }]));
        json!({ "InstanceId": id, "InstanceState": "RUNNING", "CreatedTime": created, "Tags": tags })
    }

    #[tokio::test]
    async fn sweep_terminates_only_tagged_ledgered_old_instances_and_lists_by_default() {
        let account = Account {
            instances: vec![
                listed("ins-oursold1", Some("run-a"), "2020-01-01T00:00:00Z"),
                listed("ins-untagged", None, "2020-01-01T00:00:00Z"),
                listed("ins-otherrun", Some("run-b"), "2099-01-01T00:00:00Z"),
                listed("ins-notledgr", Some("run-a"), "2020-01-01T00:00:00Z"),
            ],
            sent: Mutex::new(Vec::new()),
        };
        let credentials =
            LiveCredentials::new("AKIDsweep", "key", None, Some("ap-guangzhou".into()));
        let cloud = Cloud {
            transport: &account,
            credentials: &credentials,
        };
        let entry = |id: &str, run: &str| {
            (
                id.to_owned(),
                Entry {
                    run: run.into(),
                    id: id.into(),
                    region: "ap-guangzhou".into(),
                    created: 0,
                },
            )
        };
        let ledgers = std::collections::BTreeMap::from([
            entry("ins-oursold1", "run-a"),
            entry("ins-otherrun", "run-b"),
        ]);
        let terminated = |account: &Account| -> Vec<Value> {
            account
                .sent
                .lock()
                .unwrap()
                .iter()
                .filter(|(action, _)| action == "TerminateInstances")
                .map(|(_, params)| params["InstanceIds"].clone())
                .collect()
        };

        let listing = sweep(&cloud, &ledgers, 7200, false).await.unwrap();
        assert_eq!(
            listing.len(),
            3,
            "the untagged instance is not even listed: {listing:?}"
        );
        assert!(
            terminated(&account).is_empty(),
            "without --yes nothing is terminated"
        );

        let done = sweep(&cloud, &ledgers, 7200, true).await.unwrap();
        assert_eq!(terminated(&account), [json!(["ins-oursold1"])]);
        let verdicts: Vec<(&str, bool)> = done
            .iter()
            .map(|(listed, verdict, _)| (listed.id.as_str(), *verdict == ledger::Verdict::Destroy))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("ins-oursold1", true),
                ("ins-otherrun", false),
                ("ins-notledgr", false)
            ]
        );
    }

    /// An endpoint that always answers a full page and a `TotalCount` that never ends.
    struct Endless;

    impl Transport for Endless {
        async fn send(&self, _: &Request, _: Duration) -> Result<Response, NoAnswer> {
            // As a network answers: later, so that a deadline around the listing can fire.
            tokio::task::yield_now().await;
            let page: Vec<Value> = (0..100)
                .map(|n| {
                    listed(
                        &format!("ins-{n:08}"),
                        Some("run-a"),
                        "2020-01-01T00:00:00Z",
                    )
                })
                .collect();
            let body = json!({ "Response": {
                "TotalCount": u64::MAX,
                "InstanceSet": page,
                "RequestId": "6a4f8f6e-3c1b-4f7e-9a4b-1c2d3e4f5a6b",
            }});
            Ok(Response {
                status: 200,
                headers: vec![],
                body: body.to_string().into_bytes(),
            })
        }
    }

    #[tokio::test]
    async fn a_listing_that_never_ends_stops_at_the_bound_and_says_so() {
        let credentials =
            LiveCredentials::new("AKIDsweep", "key", None, Some("ap-guangzhou".into()));
        let cloud = Cloud {
            transport: &Endless,
            credentials: &credentials,
        };
        let listed = tokio::time::timeout(Duration::from_secs(20), cloud.list_tagged())
            .await
            .expect("the listing ends");
        let error = listed.expect_err("hitting the bound is an error");
        assert!(error.contains("did not end after 100 pages"), "{error}");
    }

    #[test]
    fn the_api_time_format_reads_back() {
        assert_eq!(parse_iso(&iso(1_700_000_000)), Some(1_700_000_000));
        assert_eq!(parse_iso("2023-11-14T22:13:20"), None);
    }
}
