//! Injected faults: errors, HTTP 5xx, latency and dropped connections, for the next N requests or a fraction
//! of them. Applied before a request reaches its provider, as a flaky gateway would. Fractions draw from a
//! generator seeded by the world, so a run with the same seed strikes the same requests.
//!
//! # The queue
//!
//! Counted faults (`count`, default 1) form a queue, in the order they were given: a request meets only the first
//! one that applies to it (its `action` filter), which consumes one of its count; the next fault strikes only once
//! that one is used up. So `[error, http, drop]` strike the first, second and third requests, one each, and a
//! fault for `DescribeInstances` waits, without blocking the faults behind it, until such a request comes.
//! Fractional faults (`fraction`) stand beside the queue: each is drawn for every request it applies to, until
//! cleared. A request's latencies add up; of the faults that replace its answer, the queued one wins, then the
//! first standing one.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A fault, as written in a world file (`[[faults]]`) or posted to `/__terminus/faults`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FaultSpec {
    /// What happens.
    pub kind: FaultKind,
    /// `error`: the provider's error code to answer with (default: its internal error, e.g. `InternalError`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `error` and `http`: the message of the provider's error envelope (default: its internal error's,
    /// e.g. `Internal error.`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `http`: the status to answer with (default 503).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `latency`: how long to wait before answering, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub millis: Option<u64>,
    /// Strike the next `count` requests (default 1 when no `fraction` is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Strike each request with this probability, until the fault is cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraction: Option<f64>,
    /// Only requests for this action (default: every action).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// The longest injected latency: 10 minutes, longer than any client waits.
pub const MAX_LATENCY_MILLIS: u64 = 600_000;
/// The longest message a fault may carry (a real error message is a sentence or two).
pub const MAX_MESSAGE_BYTES: usize = 4096;

impl FaultSpec {
    /// Checks what the TOML and JSON shapes cannot, naming the field: `status` an HTTP error status (400 to 599)
    /// and only on `http`, `millis` at most [`MAX_LATENCY_MILLIS`] and only on `latency`, `code` only on `error`,
    /// `message` only on `error` and `http` and at most [`MAX_MESSAGE_BYTES`], `count` at least 1, `fraction` a
    /// number from 0 to 1 (not NaN, not infinite).
    pub fn check(&self) -> Result<(), String> {
        let only_on =
            |field: &str, kind: &str| format!("{field} applies only to kind = \"{kind}\"");
        if let Some(status) = self.status {
            if self.kind != FaultKind::Http {
                return Err(only_on("status", "http"));
            }
            if !(400..=599).contains(&status) {
                return Err(format!(
                    "status {status} is not an HTTP error status (400 to 599)"
                ));
            }
        }
        if let Some(millis) = self.millis {
            if self.kind != FaultKind::Latency {
                return Err(only_on("millis", "latency"));
            }
            if millis > MAX_LATENCY_MILLIS {
                return Err(format!(
                    "millis {millis} is more than {MAX_LATENCY_MILLIS} (10 minutes)"
                ));
            }
        }
        if self.code.is_some() && self.kind != FaultKind::Error {
            return Err(only_on("code", "error"));
        }
        if let Some(message) = &self.message {
            if !matches!(self.kind, FaultKind::Error | FaultKind::Http) {
                return Err("message applies only to kind = \"error\" or \"http\"".into());
            }
            if message.len() > MAX_MESSAGE_BYTES {
                return Err(format!(
                    "message is {} bytes; at most {MAX_MESSAGE_BYTES}",
                    message.len()
                ));
            }
        }
        if self.count == Some(0) {
            return Err("count = 0 strikes nothing; give at least 1".into());
        }
        if let Some(fraction) = self.fraction
            && !(fraction.is_finite() && (0.0..=1.0).contains(&fraction))
        {
            return Err(format!("fraction {fraction} is not a number from 0 to 1"));
        }
        Ok(())
    }
}

/// The kinds of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Answer with the provider's error envelope and `code`.
    Error,
    /// Answer with HTTP `status` and the provider's internal-error envelope.
    Http,
    /// Wait `millis`, then handle the request normally.
    Latency,
    /// Close the connection without answering.
    Drop,
}

/// What a request runs into.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Strike {
    /// Wait this long first.
    pub delay: Duration,
    /// Then, instead of handling the request, this.
    pub outcome: Option<Outcome>,
}

/// A fault that replaces the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The provider's error envelope with this code and message (`None`: its internal error's).
    Error {
        /// The error code.
        code: Option<String>,
        /// The error message.
        message: Option<String>,
    },
    /// This HTTP status with the provider's internal-error envelope (and this message, when given).
    Http {
        /// The HTTP status.
        status: u16,
        /// The error message.
        message: Option<String>,
    },
    /// No answer: the connection is closed.
    Drop,
}

/// The faults still to strike, and the generator for fractions.
#[derive(Clone, Debug)]
pub struct FaultPlan {
    faults: Vec<(FaultSpec, Option<u32>)>,
    random: u64,
}

impl FaultPlan {
    /// A plan from specs; `seed` makes fractions reproducible.
    pub fn new(specs: Vec<FaultSpec>, seed: u64) -> Self {
        let mut plan = Self {
            faults: Vec::new(),
            random: seed ^ 0x9e37_79b9_7f4a_7c15,
        };
        specs.into_iter().for_each(|spec| plan.add(spec));
        plan
    }

    /// Adds a fault after the others.
    pub fn add(&mut self, spec: FaultSpec) {
        let remaining = match (spec.count, spec.fraction) {
            (Some(count), _) => Some(count),
            (None, Some(_)) => None,
            (None, None) => Some(1),
        };
        self.faults.push((spec, remaining));
    }

    /// Removes every fault.
    pub fn clear(&mut self) {
        self.faults.clear();
    }

    /// The faults still to strike, as specs.
    pub fn remaining(&self) -> Vec<FaultSpec> {
        self.faults
            .iter()
            .map(|(spec, remaining)| FaultSpec {
                count: *remaining,
                ..spec.clone()
            })
            .collect()
    }

    /// What the next request (for `action`, when known) runs into (the rules are in the module docs): the first
    /// counted fault that applies, consuming one of its count, and every standing (fractional) fault drawn.
    pub fn strike(&mut self, action: Option<&str>) -> Strike {
        let mut strike = Strike::default();
        if self.faults.is_empty() {
            return strike;
        }
        let applies = |spec: &FaultSpec| {
            spec.action
                .as_deref()
                .is_none_or(|wanted| Some(wanted) == action)
        };
        let head = self
            .faults
            .iter()
            .position(|(spec, remaining)| remaining.is_some_and(|left| left > 0) && applies(spec));
        if let Some(index) = head {
            // A counted fault with a fraction strikes its request with that probability, and is used up only
            // by the requests it strikes.
            let drawn = self.faults[index]
                .0
                .fraction
                .is_none_or(|fraction| self.next_unit() < fraction);
            if drawn {
                let (spec, remaining) = &mut self.faults[index];
                if let Some(left) = remaining {
                    *left -= 1;
                }
                hit(&mut strike, spec);
            }
        }
        for index in 0..self.faults.len() {
            let (spec, remaining) = &self.faults[index];
            let Some(fraction) = spec.fraction.filter(|_| remaining.is_none()) else {
                continue;
            };
            if !applies(spec) || self.next_unit() >= fraction {
                continue;
            }
            let spec = self.faults[index].0.clone();
            hit(&mut strike, &spec);
        }
        self.faults.retain(|(_, remaining)| *remaining != Some(0));
        strike
    }

    /// A number in [0, 1) from a xorshift64* generator.
    fn next_unit(&mut self) -> f64 {
        let mut x = self.random.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.random = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Adds what one fault does to a request's strike: its latency, or its answer unless one is already decided.
fn hit(strike: &mut Strike, spec: &FaultSpec) {
    let outcome = match spec.kind {
        FaultKind::Latency => {
            strike.delay += Duration::from_millis(spec.millis.unwrap_or(0));
            return;
        }
        FaultKind::Error => Outcome::Error {
            code: spec.code.clone(),
            message: spec.message.clone(),
        },
        FaultKind::Http => Outcome::Http {
            status: spec.status.unwrap_or(503),
            message: spec.message.clone(),
        },
        FaultKind::Drop => Outcome::Drop,
    };
    strike.outcome.get_or_insert(outcome);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: FaultKind) -> FaultSpec {
        FaultSpec {
            kind,
            code: None,
            message: None,
            status: None,
            millis: Some(5),
            count: None,
            fraction: None,
            action: None,
        }
    }

    #[test]
    fn a_counted_fault_strikes_that_many_requests_then_none() {
        let mut plan = FaultPlan::new(
            vec![FaultSpec {
                count: Some(2),
                ..spec(FaultKind::Drop)
            }],
            1,
        );
        assert_eq!(plan.strike(None).outcome, Some(Outcome::Drop));
        assert_eq!(plan.strike(None).outcome, Some(Outcome::Drop));
        assert_eq!(plan.strike(None), Strike::default());
    }

    #[test]
    fn a_fraction_strikes_about_that_share_and_the_same_ones_for_the_same_seed() {
        let fraction = FaultSpec {
            fraction: Some(0.25),
            ..spec(FaultKind::Error)
        };
        let run = |seed| {
            let mut plan = FaultPlan::new(vec![fraction.clone()], seed);
            (0..4000)
                .map(|_| plan.strike(None).outcome.is_some())
                .collect::<Vec<_>>()
        };
        let struck = run(7).iter().filter(|hit| **hit).count();
        assert!((800..1200).contains(&struck), "{struck} of 4000");
        assert_eq!(run(7), run(7));
    }

    #[test]
    fn standing_latencies_add_up_and_do_not_replace_the_answer() {
        let always = FaultSpec {
            fraction: Some(1.0),
            ..spec(FaultKind::Latency)
        };
        let mut plan = FaultPlan::new(vec![always.clone(), always, spec(FaultKind::Drop)], 1);
        assert_eq!(
            plan.strike(None),
            Strike {
                delay: Duration::from_millis(10),
                outcome: Some(Outcome::Drop)
            }
        );
        assert_eq!(plan.strike(None).outcome, None);
    }

    #[test]
    fn queued_faults_strike_one_request_each_in_order() {
        let mut plan = FaultPlan::new(
            vec![
                FaultSpec {
                    code: Some("ResourceInsufficient".into()),
                    message: Some("No room.".into()),
                    ..spec(FaultKind::Error)
                },
                FaultSpec {
                    count: Some(2),
                    status: Some(502),
                    ..spec(FaultKind::Http)
                },
                spec(FaultKind::Drop),
            ],
            1,
        );
        let outcomes: Vec<_> = (0..5).map(|_| plan.strike(None).outcome).collect();
        let bad_gateway = Some(Outcome::Http {
            status: 502,
            message: None,
        });
        assert_eq!(
            outcomes,
            vec![
                Some(Outcome::Error {
                    code: Some("ResourceInsufficient".into()),
                    message: Some("No room.".into())
                }),
                bad_gateway.clone(),
                bad_gateway,
                Some(Outcome::Drop),
                None
            ]
        );
    }

    #[test]
    fn a_fault_for_another_action_waits_without_holding_up_the_queue() {
        let mut plan = FaultPlan::new(
            vec![
                FaultSpec {
                    action: Some("DescribeInstances".into()),
                    ..spec(FaultKind::Drop)
                },
                spec(FaultKind::Error),
            ],
            1,
        );
        assert!(matches!(
            plan.strike(Some("TerminateInstances")).outcome,
            Some(Outcome::Error { .. })
        ));
        assert_eq!(plan.strike(Some("TerminateInstances")).outcome, None);
        assert_eq!(
            plan.strike(Some("DescribeInstances")).outcome,
            Some(Outcome::Drop)
        );
        assert!(plan.remaining().is_empty());
    }
}
