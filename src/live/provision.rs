//! The `--provision` tier: a destructive case runs on instances the run creates. Each instance of the case's world
//! is created ([`Cloud::create`]: tagged, with its server-side `ActionTimer`, in the ledger before use), awaited
//! until `RUNNING`, and the case's ids are replaced by the created ones. Before each request, an id the run
//! created must be in its ledger with its tag read back; any other id must be proven absent, as in the safe tier.
//! Expected states are polled with back-off (the real API is eventually consistent; `TERMINATED` means no longer
//! listed or on its way out, the Terraform provider's rule). Whatever happens, every created instance is
//! terminated at the end and awaited until gone.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::Value;

use crate::case::Loaded;
use crate::exchange::Exchange;
use crate::harness::{self, CaseRun, Outcome};

use super::cloud::{self, Cloud};
use super::guard::{self, Transport};
use super::ledger::Ledger;
use super::runner::{LiveConfig, ProvisionConfig, TIMEOUT, rewrite, scrub};
use super::served;

/// Runs one destructive case on instances created for it, and destroys them.
pub async fn run(
    loaded: &Loaded,
    config: &LiveConfig,
    settings: &ProvisionConfig,
    ledger: &Ledger,
    endpoint: &impl Transport,
) -> CaseRun {
    let started = Instant::now();
    let cloud = Cloud {
        transport: endpoint,
        credentials: &config.credentials,
    };
    let mut exchanges = Vec::new();
    let mut created = BTreeMap::new();
    let outcome = match steps(
        loaded,
        config,
        settings,
        ledger,
        &cloud,
        &mut created,
        &mut exchanges,
    )
    .await
    {
        Ok(()) => Outcome::Passed,
        Err(outcome) => outcome,
    };
    let progress = config.progress.as_deref();
    let mut teardown = Vec::new();
    for id in created.values() {
        if let Some(progress) = progress {
            progress.tearing_down(id);
        }
        let gone = match cloud.terminate_owned(ledger, id).await {
            Ok(()) => {
                cloud
                    .wait_for(id, "gone", settings.wait, progress, cloud::gone)
                    .await
            }
            Err(error) => Err(error),
        };
        match gone {
            Ok(()) => {
                if let Some(progress) = progress {
                    progress.gone(id);
                }
            }
            Err(error) => teardown.push(error),
        }
    }
    let outcome = match (outcome, teardown.is_empty()) {
        (Outcome::Passed, false) => Outcome::Error {
            step: 0,
            message: format!(
                "teardown failed (run `terminus sweep`): {}",
                teardown.join("; ")
            ),
        },
        (outcome, _) => outcome,
    };
    CaseRun {
        id: loaded.id.clone(),
        outcome,
        exchanges,
        duration: started.elapsed(),
    }
}

async fn steps<T: Transport>(
    loaded: &Loaded,
    config: &LiveConfig,
    settings: &ProvisionConfig,
    ledger: &Ledger,
    cloud: &Cloud<'_, T>,
    created: &mut BTreeMap<String, String>,
    exchanges: &mut Vec<Exchange>,
) -> Result<(), Outcome> {
    let error = |step: usize, message: String| Outcome::Error { step, message };
    for instance in &loaded.case.world.instances {
        let id = cloud
            .create(ledger, &settings.provisioning, instance.protected)
            .await
            .map_err(|why| error(0, format!("cannot create the case's instance: {why}")))?;
        if let Some(progress) = config.progress.as_deref() {
            progress.created(&id);
        }
        created.insert(instance.id.clone(), id);
    }
    for id in created.values() {
        cloud
            .wait_for(
                id,
                "RUNNING",
                settings.wait,
                config.progress.as_deref(),
                |listed| {
                    listed.and_then(|i| i.get("InstanceState")) == Some(&Value::from("RUNNING"))
                },
            )
            .await
            .map_err(|why| error(0, why))?;
    }
    let mut live = rewrite(loaded, &config.credentials);
    super::runner::with_dry_run(&mut live, ledger.run());
    // The case's instance ids become the created ones, in parameters and expected states.
    let rename = |text: &str| {
        created.iter().fold(text.to_owned(), |text, (old, new)| {
            text.replace(old.as_str(), new)
        })
    };
    for (step, original) in live.case.steps.iter_mut().zip(&loaded.case.steps) {
        let params = rename(&Value::Object(step.params.clone()).to_string());
        if let Ok(Value::Object(params)) = serde_json::from_str(&params) {
            step.params = params;
        }
        step.expect.instances = original
            .expect
            .instances
            .iter()
            .map(|(id, state)| (rename(id), state.clone()))
            .collect();
        step.expect
            .every_instance
            .clone_from(&original.expect.every_instance);
    }
    let ours: Vec<&String> = created.values().collect();
    for (index, step) in live.case.steps.iter().enumerate() {
        let number = index + 1;
        let (request, trace) =
            harness::build(&live, step, 11_886 + index as u64, super::cloud::unix_now())
                .map_err(|why| error(number, why))?;
        // Read as it will be served: a creating action only with DryRun=true (the run creates through
        // `Cloud::create` alone); ours in the ledger with the tag read back now; anything else proven absent.
        let served = served::read(&request).map_err(|why| {
            error(
                number,
                format!("cannot read the request it would send: {why}; not sent"),
            )
        })?;
        let tiers: Vec<_> = served.actions.iter().map(|a| super::tiers::of(a)).collect();
        guard::refuse_by_tier(&served, &tiers).map_err(|why| error(number, why))?;
        let (mine, others): (Vec<String>, Vec<String>) = served
            .candidates
            .iter()
            .cloned()
            .partition(|id| ours.contains(&id));
        for id in &mine {
            let listed = cloud.describe(id).await.map_err(|why| error(number, why))?;
            let tagged = listed
                .as_ref()
                .and_then(|i| i.get("Tags"))
                .and_then(Value::as_array)
                .is_some_and(|tags| {
                    tags.iter().any(|tag| {
                        tag.get("Key").and_then(Value::as_str) == Some(super::ledger::RUN_TAG)
                            && tag.get("Value").and_then(Value::as_str) == Some(ledger.run())
                    })
                });
            if !ledger.holds(id).unwrap_or(false) || !tagged {
                return Err(error(
                    number,
                    format!("{id} is not provably this run's: not sent"),
                ));
            }
        }
        guard::prove_everywhere(
            cloud.transport,
            config.provider,
            &config.credentials,
            &served,
            &others,
            TIMEOUT,
        )
        .await
        .map_err(|why| error(number, why))?;
        let exchange = Exchange::timed(number, request, trace, async |request| {
            cloud
                .transport
                .send(request, step.timeout.unwrap_or(TIMEOUT))
                .await
        })
        .await;
        if let Err(no_answer) = &exchange.response {
            let message = format!("no answer from the endpoint: {no_answer}");
            exchanges.push(exchange);
            return Err(error(number, message));
        }
        let checked = harness::check_answer(live.provider, step, &exchange);
        exchanges.push(exchange);
        checked.map_err(|message| Outcome::Failed {
            step: number,
            message: scrub(&message, &config.credentials),
        })?;
        let expected: Vec<(String, String)> = match &step.expect.every_instance {
            Some(state) => ours
                .iter()
                .map(|id| ((*id).clone(), state.clone()))
                .collect(),
            None => step
                .expect
                .instances
                .iter()
                .map(|(id, s)| (id.clone(), s.clone()))
                .collect(),
        };
        for (id, state) in expected {
            cloud
                .wait_for(
                    &id,
                    &state,
                    settings.wait,
                    config.progress.as_deref(),
                    |listed| {
                        if state == "TERMINATED" {
                            cloud::gone(listed)
                        } else {
                            listed.and_then(|i| i.get("InstanceState"))
                                == Some(&Value::from(state.as_str()))
                        }
                    },
                )
                .await
                .map_err(|why| Outcome::Failed {
                    step: number,
                    message: why,
                })?;
        }
    }
    Ok(())
}
