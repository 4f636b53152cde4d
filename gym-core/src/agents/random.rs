//! An agent that calls tools at random and then guesses: the floor of every score table.

use serde_json::{json, Value};

use otrashi_scenarios::rng::Rng;
use otrashi_scenarios::FaultKind;

use super::Agent;
use crate::observation::{Observation, ObservationKind};
use crate::tools::Action;

const METRICS: [&str; 6] = [
    "http_requests_total",
    "http_request_duration_seconds",
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
    "kube_pod_container_status_restarts_total",
    "up",
];

/// The service list, random valid tool calls for a few steps, then a report that names
/// a random service and a random kind with a random confidence.
#[derive(Debug, Clone)]
pub struct RandomAgent {
    seed: u64,
    rng: Rng,
    services: Vec<String>,
    calls_left: usize,
}

impl RandomAgent {
    /// A random agent; the same seed makes the same choices on the same observations.
    pub fn new(seed: u64) -> RandomAgent {
        RandomAgent {
            seed,
            rng: Rng::new(seed),
            services: Vec::new(),
            calls_left: 0,
        }
    }

    fn service_arg(&mut self) -> Value {
        if self.services.is_empty() || self.rng.chance(0.5) {
            Value::Null
        } else {
            Value::String(self.rng.pick(&self.services).clone())
        }
    }

    fn random_call(&mut self) -> Action {
        let service = self.service_arg();
        match self.rng.below(6) {
            0 => Action::new("list_services", json!({})),
            1 => {
                let metric = *self.rng.pick(&METRICS);
                Action::new(
                    "query_metrics",
                    json!({"metric": metric, "service": service}),
                )
            }
            2 => {
                let level = *self.rng.pick(&["INFO", "WARN", "ERROR"]);
                Action::new("search_logs", json!({"service": service, "level": level}))
            }
            3 => Action::new(
                "get_traces",
                json!({"service": service, "errors_only": self.rng.chance(0.5)}),
            ),
            4 => Action::new("get_events", json!({"service": service})),
            _ => Action::new("get_deploys", json!({"service": service})),
        }
    }
}

impl Agent for RandomAgent {
    fn name(&self) -> &str {
        "random"
    }

    fn act(&mut self, obs: &Observation) -> Action {
        if obs.kind == ObservationKind::Start {
            self.rng = Rng::new(self.seed);
            self.services.clear();
            if let Some(s) = obs.content["alert"]["service"].as_str() {
                self.services.push(s.to_owned());
            }
            self.calls_left = 2 + self.rng.below(5);
            // Learn the service names first, so that the final guess is uniform over
            // the system rather than stuck on the alerting service.
            return Action::new("list_services", json!({}));
        }
        if let Some(list) = obs.content.get("services").and_then(Value::as_array) {
            self.services = list
                .iter()
                .filter_map(|s| s.get("name").and_then(Value::as_str))
                .map(str::to_owned)
                .collect();
        }
        if self.calls_left > 0 {
            self.calls_left -= 1;
            return self.random_call();
        }
        let component = if self.services.is_empty() {
            "unknown".to_owned()
        } else {
            self.rng.pick(&self.services).clone()
        };
        let kind = *self.rng.pick(FaultKind::ALL);
        Action::new(
            "submit_report",
            json!({
                "root_causes": [{
                    "component": component,
                    "fault": kind.as_str(),
                    "level": kind.level().as_str(),
                    "confidence": (self.rng.f64() * 100.0).round() / 100.0,
                    "explanation": "a random guess",
                }],
                "summary": "A random guess, as a floor for comparison.",
            }),
        )
    }
}
