//! Runs the planned cases against a live endpoint, one at a time, each request of a safe case preceded by its
//! proof ([`super::guard`]), each answer checked on what the real API keeps stable.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::case::Loaded;
use crate::exchange::{Exchange, NoAnswer, Response};
use crate::harness::http1::{self, Connection};
use crate::harness::{self, CaseRun, Outcome};
use crate::message::Request;
use crate::provider::ProviderId;

use super::credentials::LiveCredentials;
use super::guard::{self, Transport};
use super::plan::{self, Plan, Tiers};

/// How long one live exchange may take: the real API is far away.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A live run's settings.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    /// The provider whose cases run.
    pub provider: ProviderId,
    /// Where requests go (`http://…` for the stand-in; the production host by default).
    pub endpoint: String,
    /// Where the `DescribeInstances` proofs go: the endpoint, or API 3.0's host for the legacy gateway.
    pub proof_endpoint: String,
    /// Whose account.
    pub credentials: LiveCredentials,
    /// Opt-ins beyond the safe tier.
    pub tiers: Tiers,
    /// Where the run's ledger goes: the `--provision` tier's instances, and anything a safe request created
    /// against every expectation.
    pub ledger_dir: std::path::PathBuf,
    /// Where progress lines go and the operator's stop is read (`None`: silent, never stopped).
    pub progress: Option<std::sync::Arc<super::progress::Progress>>,
    /// With `--provision`: what to create, where the ledger goes, how many at most.
    pub provision: Option<ProvisionConfig>,
}

/// The `--provision` tier's settings.
#[derive(Clone, Debug)]
pub struct ProvisionConfig {
    /// What each created instance is.
    pub provisioning: super::cloud::Provisioning,
    /// The most instances the run may create.
    pub max_instances: usize,
    /// How long to wait for a state (`RUNNING` after creation, a step's expected states, gone at teardown).
    pub wait: Duration,
}

impl LiveConfig {
    /// The production host of a provider's API.
    pub fn production(provider: ProviderId) -> &'static str {
        if provider == ProviderId::TencentLegacy {
            "https://cvm.api.qcloud.com"
        } else if provider == ProviderId::ZenlayerBmc {
            "https://console.zenlayer.com"
        } else {
            "https://cvm.tencentcloudapi.com"
        }
    }
}

/// One case's live result.
#[derive(Clone, Debug)]
pub struct LiveResult {
    /// What the plan said.
    pub plan: Plan,
    /// The run, for cases that ran (`None`: not sent at all).
    pub run: Option<CaseRun>,
}

/// A live endpoint reached over plain HTTP/1.1, one connection per request, as the harness sends.
#[derive(Debug)]
pub struct Endpoint {
    address: SocketAddr,
    /// For `https://`: the name the certificate must carry, and whom to trust.
    tls: Option<(String, std::sync::Arc<rustls::ClientConfig>)>,
    pacer: Pacer,
    /// With [`Endpoint::reusing`]: the connection kept open between requests.
    kept: Option<tokio::sync::Mutex<Option<Connection>>>,
}

impl Endpoint {
    /// The same endpoint, at most one request per `interval` instead of [`PACE`]: for tests against the
    /// stand-in, which has no limits to respect, so that hundreds of cases take seconds, not minutes.
    pub fn paced(mut self, interval: Duration) -> Self {
        self.pacer = Pacer::new(interval);
        self
    }

    /// The same endpoint, keeping its connection open between requests: for reads only (the guard's proofs,
    /// hundreds per run), since a kept connection the server has meanwhile closed is opened afresh and the
    /// request sent again, which only a request that changes nothing may be. A case's request never goes this way.
    pub fn reusing(mut self) -> Self {
        self.kept = Some(tokio::sync::Mutex::new(None));
        self
    }

    async fn open(&self) -> std::io::Result<Connection> {
        match &self.tls {
            None => Connection::open(self.address).await,
            Some((name, config)) => {
                crate::tls::connect(self.address, name, std::sync::Arc::clone(config))
                    .await
                    .map(Connection::over)
            }
        }
    }

    /// One exchange on the kept connection (opened if there is none), sent again once on a fresh connection
    /// if the kept one turns out closed.
    async fn send_kept(
        &self,
        kept: &tokio::sync::Mutex<Option<Connection>>,
        bytes: &[u8],
    ) -> Result<Response, NoAnswer> {
        let mut slot = kept.lock().await;
        loop {
            let (mut connection, reused) = match slot.take() {
                Some(connection) => (connection, true),
                None => (
                    self.open()
                        .await
                        .map_err(|error| NoAnswer::Unsent(error.to_string()))?,
                    false,
                ),
            };
            match connection.exchange(bytes).await {
                Ok(_) => {
                    let response = connection.response();
                    let closes = response.headers.iter().any(|(name, value)| {
                        name.eq_ignore_ascii_case("connection")
                            && value.trim().eq_ignore_ascii_case("close")
                    });
                    if !closes {
                        *slot = Some(connection);
                    }
                    return Ok(response);
                }
                Err(_) if reused => {}
                Err(error) => return Err(NoAnswer::Closed(error.to_string())),
            }
        }
    }

    /// Resolves an endpoint URL: `http://host[:port]`, or `https://host[:port]` trusting the public web roots,
    /// or only the certificates in `ca_cert` when given (the stand-in's generated CA).
    pub async fn resolve(url: &str, ca_cert: Option<&std::path::Path>) -> Result<Self, String> {
        let url = url.trim_end_matches('/');
        let Some(rest) = url.strip_prefix("https://") else {
            return Ok(Self {
                address: harness::target::resolve(url).await?,
                tls: None,
                pacer: Pacer::new(PACE),
                kept: None,
            });
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if port.parse::<u16>().is_ok() => (host, port),
            _ => (authority, "443"),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let address = tokio::net::lookup_host((host, port.parse::<u16>().unwrap_or(443)))
            .await
            .map_err(|error| format!("bad endpoint {url}: {error}"))?
            .next()
            .ok_or_else(|| format!("bad endpoint {url}: the name resolves to no address"))?;
        let config = crate::tls::Trust::from_ca_file(ca_cert)
            .and_then(|trust| trust.client_config())
            .map_err(|error| format!("endpoint {url}: {error}"))?;
        Ok(Self {
            address,
            tls: Some((host.to_owned(), config)),
            pacer: Pacer::new(PACE),
            kept: None,
        })
    }
}

impl Transport for Endpoint {
    async fn send(&self, request: &Request, timeout: Duration) -> Result<Response, NoAnswer> {
        self.pacer.wait().await;
        if let Some(kept) = &self.kept {
            return tokio::time::timeout(timeout, self.send_kept(kept, &request.to_bytes()))
                .await
                .unwrap_or(Err(NoAnswer::TimedOut(timeout)));
        }
        http1::answer(self.open(), &request.to_bytes(), timeout).await
    }
}

/// Plans and runs the cases, calling `progress` after each.
pub async fn run_live(
    cases: Vec<Loaded>,
    config: &LiveConfig,
    endpoint: &impl Transport,
    proofs: &impl Transport,
    progress: impl Fn(&Loaded, &LiveResult),
) -> Vec<(Loaded, LiveResult)> {
    let mut results = Vec::with_capacity(cases.len());
    // One ledger for the run, written before any instance is used.
    let mut provision = match &config.provision {
        Some(settings) if config.tiers.provision => {
            match super::ledger::new_run_id()
                .and_then(|run| super::ledger::Ledger::create(&config.ledger_dir, &run))
            {
                Ok(ledger) => {
                    if let Some(progress) = &config.progress {
                        progress.ledger(ledger.path().to_owned(), config.ledger_dir.clone());
                    }
                    Some((settings, ledger, 0_usize))
                }
                Err(error) => {
                    return cases
                        .into_iter()
                        .map(|loaded| {
                            let result = LiveResult {
                                plan: Plan::OptIn(format!(
                                    "cannot write the run's ledger: {error}"
                                )),
                                run: None,
                            };
                            progress(&loaded, &result);
                            (loaded, result)
                        })
                        .collect();
                }
            }
        }
        _ => None,
    };
    for (index, loaded) in cases.into_iter().enumerate() {
        if let Some(ticker) = &config.progress {
            if ticker.stopping() {
                let result = LiveResult {
                    plan: Plan::OptIn("not run: the operator stopped the run".into()),
                    run: None,
                };
                progress(&loaded, &result);
                results.push((loaded, result));
                continue;
            }
            ticker.begin(index + 1, &loaded.id);
        }
        let mut plan = plan::plan(&loaded.case, config.tiers);
        if plan == Plan::Safe
            && let Some(reason) = creates_without_dry_run(&loaded)
        {
            plan = Plan::NotLiveVerifiable(reason);
        }
        if plan == Plan::Safe
            && let Some(reason) = depends_on_seeded_instances(&loaded).await
        {
            plan = Plan::NotLiveVerifiable(reason);
        }
        let result = match plan {
            Plan::Safe => {
                let run = run_safe(&loaded, config, endpoint, proofs).await;
                LiveResult {
                    plan,
                    run: Some(run),
                }
            }
            Plan::Provision => match provision.as_mut() {
                Some((settings, ledger, created)) if config.provider == ProviderId::Tencent => {
                    let needed = loaded.case.world.instances.len();
                    let unmade =
                        loaded.case.world.instances.iter().find(|instance| {
                            instance.state != crate::world::InstanceState::Running
                        });
                    if let Some(instance) = unmade {
                        LiveResult {
                            plan: Plan::NotLiveVerifiable(format!(
                                "needs a {} instance; the provision tier creates RUNNING ones",
                                instance.state.name()
                            )),
                            run: None,
                        }
                    } else if *created + needed > settings.max_instances {
                        LiveResult {
                            plan: Plan::OptIn(format!(
                                "needs {needed} instances; --max-instances {} allows {} more",
                                settings.max_instances,
                                settings.max_instances.saturating_sub(*created)
                            )),
                            run: None,
                        }
                    } else {
                        *created += needed;
                        let run =
                            super::provision::run(&loaded, config, settings, ledger, endpoint)
                                .await;
                        LiveResult {
                            plan,
                            run: Some(run),
                        }
                    }
                }
                Some(_) => LiveResult {
                    plan: Plan::OptIn(
                        "--provision creates Tencent Cloud API 3.0 instances only".into(),
                    ),
                    run: None,
                },
                None => LiveResult {
                    plan: Plan::OptIn("--provision needs --zone and --image".into()),
                    run: None,
                },
            },
            other => LiveResult {
                plan: other,
                run: None,
            },
        };
        progress(&loaded, &result);
        results.push((loaded, result));
    }
    results
}

/// A safe case whose step's action creates and has no dry run (the table: Zenlayer's `CreateInstances`) cannot
/// run in the safe tier, which creates nothing; the guard would refuse its request anyway.
fn creates_without_dry_run(loaded: &Loaded) -> Option<String> {
    let default_action = crate::case::pascal_case(&loaded.action);
    loaded
        .case
        .steps
        .iter()
        .enumerate()
        .find_map(|(index, step)| {
            let action = step.action.as_deref().unwrap_or(&default_action);
            (super::tiers::of(action) == super::tiers::Tier::Creating).then(|| {
                format!(
                    "step {} sends {action}, which creates and has no dry run: the safe tier creates nothing",
                    index + 1
                )
            })
        })
}

/// A safe case names ids that exist in its world and none on a live account: if its expectations need them to
/// exist, live would fail it for nothing. The mock is asked, with the case's world emptied of instances as a live
/// account is: a case that does not pass there depends on what it seeds.
async fn depends_on_seeded_instances(loaded: &Loaded) -> Option<String> {
    let mut empty = loaded.clone();
    empty.case.world.instances.clear();
    empty.case.world.bmc_instances.clear();
    for step in &mut empty.case.steps {
        step.expect.instances.clear();
        step.expect.every_instance = None;
        step.expect.response.clear();
    }
    let run = harness::run_case(&empty, &harness::Target::Mock).await;
    let (step, message) = run.outcome.problem()?;
    let first_line = message.lines().next().unwrap_or_default();
    Some(format!(
        "its answer needs the instances it seeds, which a live account does not have (without them, step {step}: \
         {first_line}); it belongs in the --provision tier"
    ))
}

/// The case as the live account sees it: the world's first account is the live identity (a step naming that
/// account names it too; any other SecretId a step names, a fake one, is sent as written), in the live region.
pub(super) fn rewrite(loaded: &Loaded, credentials: &LiveCredentials) -> Loaded {
    let mut live = loaded.clone();
    let world = &mut live.case.world;
    let original = world
        .accounts
        .first()
        .map(|account| account.secret_id.clone());
    // Its SecretId changes, so the store is built again.
    let mut accounts = world.accounts.to_vec();
    if let Some(account) = accounts.first_mut() {
        account.secret_id.clone_from(&credentials.secret_id);
        account.secret_key = credentials.secret_key().clone();
        account.token = credentials.token().cloned();
        account.bearer_token = None;
    }
    world.accounts = accounts.into();
    if let Some(region) = &credentials.region {
        world.region.clone_from(region);
    }
    for step in &mut live.case.steps {
        if step.credentials.is_some() && step.credentials == original {
            step.credentials = Some(credentials.secret_id.clone());
        }
        // Response values (an AccountId, a TotalCount) are the case's world's, not the live account's, and the
        // signing stages are the case's keys': live holds a step to its status, code and envelope only.
        step.skew = step.skew.map(away_from_the_window_edge);
        step.expect.response.clear();
        step.expect.signed.clear();
        // The plan let a safe case through only if these say "unchanged", of instances the proof showed absent.
        step.expect.instances.clear();
        step.expect.every_instance = None;
    }
    live
}

/// Both providers accept a signature dated within five minutes of their clock. A case that signs just outside
/// (301 s) or just inside (299 s) that window tests the edge on the mock's exact clock; live, the network and the
/// two clocks add seconds nobody controls, so the skew moves 60 s further from the edge on its own side: an
/// expired signature stays expired, an accepted one accepted.
fn away_from_the_window_edge(skew: i64) -> i64 {
    const WINDOW: i64 = 300;
    const MARGIN: i64 = 60;
    match skew.abs() {
        outside if outside > WINDOW => skew + skew.signum() * MARGIN,
        inside if inside > WINDOW - MARGIN => skew - skew.signum() * MARGIN,
        _ => skew,
    }
}

/// Spaces requests out so that a live run stays under the documented limits (TerminateInstances: 10 per second;
/// DescribeInstances: 40), whatever the cases do: a throttled answer would be the run's fault, not the API's.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    last: tokio::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Pacer {
    /// At most one request per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// Waits until the next request may go.
    pub async fn wait(&self) {
        let mut last = self.last.lock().await;
        if let Some(at) = *last {
            tokio::time::sleep_until(at + self.interval).await;
        }
        *last = Some(tokio::time::Instant::now());
    }
}

/// Eight requests a second: under every documented limit of the actions cases send.
pub const PACE: Duration = Duration::from_millis(125);

async fn run_safe(
    loaded: &Loaded,
    config: &LiveConfig,
    endpoint: &impl Transport,
    proofs: &impl Transport,
) -> CaseRun {
    let started = Instant::now();
    let mut live = rewrite(loaded, &config.credentials);
    // The run id this case's creating steps are tagged with, and the ledger's if anything is created after all.
    let run = match super::ledger::new_run_id() {
        Ok(run) => run,
        Err(error) => {
            return CaseRun {
                id: loaded.id.clone(),
                outcome: Outcome::Error {
                    step: 0,
                    message: format!("cannot draw a run id: {error}"),
                },
                exchanges: Vec::new(),
                duration: started.elapsed(),
            };
        }
    };
    with_dry_run(&mut live, &run);
    let mut exchanges = Vec::new();
    let mut outcome = Outcome::Passed;
    let mut nonces = 11_886_u64..;
    // The real gateway remembers every Nonce of a key for five minutes, across runs: each case's nonces are moved
    // by a random offset, fresh per run, which keeps the case's own repeats (a replayed nonce) what they were.
    let offset = random_offset();
    'steps: for (index, step) in live.case.steps.iter().enumerate() {
        let number = index + 1;
        for _ in 0..step.repeat.unwrap_or(1) {
            let nonce = step.nonce.unwrap_or(nonces.next().unwrap_or_default()) + offset;
            let (request, trace) = match harness::build(&live, step, nonce, unix_now()) {
                Ok(built) => built,
                Err(message) => {
                    outcome = Outcome::Error {
                        step: number,
                        message,
                    };
                    break 'steps;
                }
            };
            // The proof is made on the bytes that go on the wire, each time they are built.
            let proven = guard::prove_request(
                proofs,
                config.provider,
                &config.credentials,
                &request,
                TIMEOUT,
            )
            .await;
            if let Err(why) = proven {
                outcome = Outcome::Error {
                    step: number,
                    message: why,
                };
                break 'steps;
            }
            let exchange = Exchange::timed(number, request, trace, async |request| {
                endpoint
                    .send(request, step.timeout.unwrap_or(TIMEOUT))
                    .await
            })
            .await;
            if let Some(message) = created_anyway(config, endpoint, &exchange, &run).await {
                exchanges.push(exchange);
                outcome = Outcome::Error {
                    step: number,
                    message,
                };
                break 'steps;
            }
            // No answer is an error of the run (the network, the endpoint), not a divergence of the API.
            if let Err(no_answer) = &exchange.response {
                outcome = Outcome::Error {
                    step: number,
                    message: format!("no answer from the endpoint: {no_answer}"),
                };
                exchanges.push(exchange);
                break 'steps;
            }
            let checked = harness::check_answer(live.provider, step, &exchange);
            exchanges.push(exchange);
            if let Err(message) = checked {
                outcome = Outcome::Failed {
                    step: number,
                    message: scrub(&message, &config.credentials),
                };
                break 'steps;
            }
        }
    }
    CaseRun {
        id: loaded.id.clone(),
        outcome,
        exchanges,
        duration: started.elapsed(),
    }
}

/// Every step whose action has a dry run (the table: `RunInstances`) asks for it, unless the case names `DryRun`
/// itself: the safe tier creates nothing. A case that says `DryRun = false` is then refused by the guard. The same
/// steps carry the run's tag (`TagSpecification`, [`super::ledger::RUN_TAG`] = `run`), so that an instance an API
/// creates against every expectation is tagged from its first moment, and `terminus sweep` can find it through the
/// ledger the run writes for it.
pub(super) fn with_dry_run(live: &mut Loaded, run: &str) {
    let default_action = crate::case::pascal_case(&live.action);
    for step in &mut live.case.steps {
        let action = step
            .action
            .clone()
            .unwrap_or_else(|| default_action.clone());
        if super::tiers::of(&action) != super::tiers::Tier::DryRunnable {
            continue;
        }
        if !step
            .params
            .keys()
            .any(|name| name.eq_ignore_ascii_case("dryrun"))
        {
            step.params
                .insert("DryRun".into(), serde_json::Value::Bool(true));
        }
        let tag = serde_json::json!({
            "ResourceType": "instance",
            "Tags": [{ "Key": super::ledger::RUN_TAG, "Value": run }],
        });
        let named = step
            .params
            .iter_mut()
            .find(|(name, _)| name.eq_ignore_ascii_case("tagspecification"));
        match named {
            Some((_, serde_json::Value::Array(specifications))) => specifications.push(tag),
            // Not a list: the API refuses it before creating anything (and DryRun stands).
            Some(_) => {}
            None => {
                step.params.insert(
                    "TagSpecification".into(),
                    serde_json::Value::Array(vec![tag]),
                );
            }
        }
    }
}

/// If a request the safe tier sent created instances after all (an API that ignored `DryRun`), says so: the ids
/// are written to a ledger at once, terminated, and the case becomes an error of the run naming them.
async fn created_anyway(
    config: &LiveConfig,
    endpoint: &impl Transport,
    exchange: &Exchange,
    run: &str,
) -> Option<String> {
    let response = exchange.response.as_ref().ok()?;
    let fields = config.provider.read_answer(&response.body).ok()?.ok()?;
    let ids: Vec<String> = ["InstanceIdSet", "instanceIdSet"]
        .iter()
        .filter_map(|key| fields.get(*key)?.as_array())
        .flatten()
        .filter_map(|id| id.as_str().map(str::to_owned))
        .collect();
    if ids.is_empty() {
        return None;
    }
    let ledgered = super::ledger::Ledger::create(&config.ledger_dir, run).and_then(|ledger| {
        for id in &ids {
            ledger.record(&super::ledger::Entry {
                run: ledger.run().to_owned(),
                id: id.clone(),
                region: config.credentials.region.clone().unwrap_or_default(),
                created: unix_now(),
            })?;
        }
        Ok(ledger.path().display().to_string())
    });
    let ledgered = match ledgered {
        Ok(path) => {
            if let Some(progress) = &config.progress {
                progress.ledger(path.clone().into(), config.ledger_dir.clone());
            }
            format!("written to the ledger {path}")
        }
        Err(error) => format!("NOT written to a ledger ({error})"),
    };
    let terminated = if config.provider == ProviderId::ZenlayerBmc {
        "not terminated (Zenlayer: terminate them by hand)".to_owned()
    } else {
        let cloud = super::cloud::Cloud {
            transport: endpoint,
            credentials: &config.credentials,
        };
        let mut params = serde_json::Map::new();
        params.insert("InstanceIds".into(), serde_json::Value::from(ids.clone()));
        match cloud.call("TerminateInstances", params).await {
            Ok(_) => "terminated".to_owned(),
            Err(why) => {
                // Left alive: the run's end says so, with the ledger.
                if let Some(progress) = &config.progress {
                    ids.iter().for_each(|id| progress.created(id));
                }
                format!("NOT terminated ({why}): terminate them by hand")
            }
        }
    };
    Some(format!(
        "UNEXPECTED: the safe tier's request created {} (the API ignored DryRun=true); {ledgered}; {terminated}. \
         Check the account now.",
        ids.join(", ")
    ))
}

/// Text built from requests and answers, with every secret of the run replaced.
pub(super) fn scrub(text: &str, credentials: &LiveCredentials) -> String {
    crate::signing::redact_all(text, credentials.secrets())
}

/// 1 to 2^31, from the operating system (a clock-derived value if it has none to give).
fn random_offset() -> u64 {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        bytes = (unix_now() as u32).to_le_bytes();
    }
    u64::from(u32::from_le_bytes(bytes) >> 1) + 1
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::{Value, json};

    use super::*;
    use crate::case::Case;

    /// An account that holds `ins-exists01` in `ap-shanghai` only, and records every request it is sent.
    #[derive(Default)]
    struct Account {
        sent: Mutex<Vec<(String, Option<String>, Value)>>,
    }

    impl Transport for Account {
        async fn send(&self, request: &Request, _: Duration) -> Result<Response, NoAnswer> {
            let action = request.header("x-tc-action").unwrap_or_default().to_owned();
            let region = request.header("x-tc-region").map(str::to_owned);
            let params: Value = serde_json::from_slice(&request.body).unwrap_or_default();
            self.sent
                .lock()
                .unwrap()
                .push((action.clone(), region.clone(), params.clone()));
            let found = action == "DescribeInstances"
                && region.as_deref() == Some("ap-shanghai")
                && params["InstanceIds"]
                    .as_array()
                    .is_some_and(|ids| ids.contains(&json!("ins-exists01")));
            let body = json!({ "Response": {
                "TotalCount": u8::from(found),
                "InstanceSet": [],
                "RequestId": "6a4f8f6e-3c1b-4f7e-9a4b-1c2d3e4f5a6b",
            }});
            Ok(Response {
                status: 200,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: body.to_string().into_bytes(),
            })
        }
    }

    fn loaded(text: &str) -> Loaded {
        let mut case: Case = toml::from_str(text).unwrap();
        case.world
            .accounts
            .push(ProviderId::Tencent.example_account());
        Loaded {
            id: "tencent/terminate-instances/synthetic".into(),
            provider: ProviderId::Tencent,
            action: "terminate-instances".into(),
            scenario: "synthetic".into(),
            path: "synthetic.toml".into(),
            case,
        }
    }

    const HEAD: &str = "title = \"t\"\nsource = { doc = \"d\", quote = \"q\" }\nlive = \"safe\"\n";

    async fn run(
        text: &str,
    ) -> (
        Vec<(Loaded, LiveResult)>,
        Vec<(String, Option<String>, Value)>,
        Account,
    ) {
        let (endpoint, proofs) = (Account::default(), Account::default());
        let config = LiveConfig {
            provider: ProviderId::Tencent,
            endpoint: "https://cvm.tencentcloudapi.com".into(),
            proof_endpoint: "https://cvm.tencentcloudapi.com".into(),
            credentials: LiveCredentials::new("AKIDlive", "key", None, Some("ap-guangzhou".into())),
            tiers: Tiers::default(),
            ledger_dir: std::env::temp_dir().join("terminus-runner-unused"),
            progress: None,
            provision: None,
        };
        let results = run_live(vec![loaded(text)], &config, &endpoint, &proofs, |_, _| {}).await;
        let proved = proofs.sent.lock().unwrap().clone();
        (results, proved, endpoint)
    }

    #[tokio::test]
    async fn an_id_that_exists_in_the_steps_region_is_proven_there_and_nothing_is_sent() {
        let (results, proved, endpoint) = run(&format!(
            "{HEAD}[[step]]\nregion = \"ap-shanghai\"\nparams = {{ InstanceIds = [\"ins-exists01\"] }}\n\
             expect.error = \"InvalidInstanceId.NotFound\"\n"
        ))
        .await;
        let regions: Vec<Option<&str>> = proved
            .iter()
            .map(|(_, region, _)| region.as_deref())
            .collect();
        assert!(
            regions.contains(&Some("ap-guangzhou")) && regions.contains(&Some("ap-shanghai")),
            "{proved:?}"
        );
        let run = results[0].1.run.as_ref().unwrap();
        assert!(
            matches!(&run.outcome, Outcome::Error { message, .. } if message.contains("names an existing instance")),
            "{:?}",
            run.outcome
        );
        assert!(
            endpoint.sent.lock().unwrap().is_empty(),
            "not one byte reaches the endpoint"
        );
    }

    #[tokio::test]
    async fn a_read_that_names_another_action_in_its_parameters_is_proven_too() {
        let (_, proved, endpoint) = run(&format!(
            "{HEAD}[[step]]\naction = \"DescribeInstances\"\nparams = {{ Action = \"TerminateInstances\", \
             InstanceIds = [\"ins-00000000\"] }}\nexpect.error = \"UnknownParameter\"\n"
        ))
        .await;
        assert!(!proved.is_empty(), "the proof ran");
        assert_eq!(endpoint.sent.lock().unwrap().len(), 1);
        let (_, proved_plain, _) = run(&format!(
            "{HEAD}[[step]]\naction = \"DescribeInstances\"\nparams = {{ InstanceIds = [\"ins-00000000\"] }}\n"
        ))
        .await;
        assert!(proved_plain.is_empty(), "a plain read needs no proof");
    }
}
