//! The heuristic baseline: what a methodical on-call engineer does in twenty tool calls,
//! using only the tools.
//!
//! It reads the service catalog, the events and the deploys, then one metric family at
//! a time across every service (comparing the early, healthy part of the window with the
//! rest), the warning-and-worse logs grouped by template, and the error traces (where the
//! deepest failing span sits). It ranks services by how troubled they are, how deep in
//! the call graph, how early, and whether a change shipped just before, then maps the
//! signals on the top suspect to a kind. It is meant to be honest and decent, not good:
//! a trained agent should beat it.

mod anomaly;
mod findings;
mod kind;
mod rank;
mod report;

use std::collections::VecDeque;

use serde_json::{json, Value};

use super::Agent;
use crate::observation::{Observation, ObservationKind};
use crate::query::{parse_rfc3339, ServicesResult};
use crate::tools::Action;
use findings::{Findings, SIGNALS};

/// A planned call, and what to do with its answer.
#[derive(Debug, Clone, PartialEq)]
enum Call {
    Services,
    Events,
    Deploys,
    Metric {
        signal: usize,
        name: String,
        retry: bool,
    },
    Logs,
    Traces,
    Diff,
    Report,
}

/// The heuristic baseline agent.
#[derive(Debug, Default)]
pub struct Baseline {
    findings: Findings,
    queue: VecDeque<Call>,
    pending: Option<Call>,
    steps: u32,
    budget: u32,
    diff_fetched: bool,
}

impl Baseline {
    /// A fresh baseline agent.
    pub fn new() -> Baseline {
        Baseline::default()
    }

    fn start(&mut self, obs: &Observation) {
        *self = Baseline::default();
        let alert = &obs.content["alert"];
        self.findings.alert_service = alert["service"].as_str().unwrap_or_default().to_owned();
        self.findings.alert_ms = alert["fired_at"]
            .as_str()
            .and_then(|t| parse_rfc3339(t).ok())
            .unwrap_or(0);
        let time = |key: &str| {
            obs.content[key]
                .as_str()
                .and_then(|t| parse_rfc3339(t).ok())
        };
        if let (Some(from), Some(now)) = (time("telemetry_from"), time("now")) {
            // Lines first seen in the first fifth of the window are the system's normal
            // chatter, not news.
            self.findings.news_after_ms = from + (now - from) / 5;
        }
        self.budget = obs.content["step_budget"]
            .as_u64()
            .and_then(|b| u32::try_from(b).ok())
            .unwrap_or(25)
            .min(25);
        // The cheapest, most telling views first; metric families last and most telling
        // first, so that a tight budget cuts the least useful queries.
        self.queue.push_back(Call::Services);
        self.queue.push_back(Call::Events);
        self.queue.push_back(Call::Deploys);
        self.queue.push_back(Call::Logs);
        self.queue.push_back(Call::Traces);
        for (i, s) in SIGNALS.iter().enumerate() {
            self.queue.push_back(Call::Metric {
                signal: i,
                name: s.metric.to_owned(),
                retry: false,
            });
        }
    }

    fn ingest(&mut self, call: &Call, content: &Value) {
        let f = &mut self.findings;
        match call {
            Call::Services => {
                if let Ok(r) = serde_json::from_value::<ServicesResult>(content.clone()) {
                    f.services = r.services;
                }
            }
            Call::Events => f.ingest_events(content),
            Call::Deploys => f.ingest_deploys(content),
            Call::Metric { signal, retry, .. } => {
                let Some(def) = SIGNALS.get(*signal) else {
                    return;
                };
                if let Some(other) = f.ingest_metrics(def, content) {
                    if !retry {
                        self.queue.push_front(Call::Metric {
                            signal: *signal,
                            name: other,
                            retry: true,
                        });
                    }
                }
            }
            Call::Logs => f.ingest_logs(content),
            Call::Traces => f.ingest_traces(content),
            Call::Diff => {
                f.diff = serde_json::from_value(content.clone()).ok();
            }
            Call::Report => {}
        }
    }

    fn action_for(&self, call: &Call) -> Action {
        match call {
            Call::Services => Action::new("list_services", json!({})),
            Call::Events => Action::new("get_events", json!({"limit": 60})),
            Call::Deploys => Action::new("get_deploys", json!({})),
            Call::Metric {
                signal,
                name,
                retry,
            } => {
                let labels: serde_json::Map<String, Value> = SIGNALS
                    .get(*signal)
                    .filter(|_| !retry)
                    .map(|d| {
                        d.labels
                            .iter()
                            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
                            .collect()
                    })
                    .unwrap_or_default();
                Action::new(
                    "query_metrics",
                    json!({"metric": name, "labels": labels, "limit": 24}),
                )
            }
            Call::Logs => Action::new("search_logs", json!({"level": "WARN", "limit": 30})),
            Call::Traces => Action::new("get_traces", json!({"errors_only": true, "limit": 20})),
            Call::Diff => {
                let top = self.findings.rank().into_iter().next();
                let id = top
                    .and_then(|s| self.findings.deploy_before(&s.service, s.onset_ms).cloned())
                    .map(|d| d.id)
                    .unwrap_or_default();
                Action::new("get_code_diff", json!({"deploy_id": id}))
            }
            Call::Report => Action::new("submit_report", self.findings.report()),
        }
    }

    fn next_call(&mut self) -> Call {
        // Keep the last step for the report, whatever the plan says.
        let left = self.budget.saturating_sub(self.steps);
        if left <= 1 {
            return Call::Report;
        }
        if let Some(c) = self.queue.pop_front() {
            return c;
        }
        if !self.diff_fetched {
            self.diff_fetched = true;
            let top = self.findings.rank().into_iter().next();
            if top.is_some_and(|s| {
                self.findings
                    .deploy_before(&s.service, s.onset_ms)
                    .is_some()
            }) {
                return Call::Diff;
            }
        }
        Call::Report
    }
}

impl Agent for Baseline {
    fn name(&self) -> &str {
        "baseline"
    }

    fn act(&mut self, obs: &Observation) -> Action {
        if obs.kind == ObservationKind::Start {
            self.start(obs);
        } else if let Some(call) = self.pending.take() {
            if obs.kind == ObservationKind::ToolResult {
                self.ingest(&call, &obs.content);
            }
        }
        let call = self.next_call();
        self.steps += 1;
        let action = self.action_for(&call);
        self.pending = Some(call);
        action
    }
}

#[cfg(test)]
mod tests;
