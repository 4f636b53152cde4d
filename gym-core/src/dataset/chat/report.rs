//! The reference report: what the investigation saw, the citations it supports, and
//! the report's score with the bundled rubric.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use otrashi_scenarios::{GroundTruth, Incident, TrueCause, Via};

use super::MAX_STEPS;
use crate::query::wall;
use crate::score::{EpisodeStats, Rubric};
use crate::telemetry::{SpanStatus, Telemetry};

/// What the investigation observed, to cite from.
#[derive(Default)]
pub(super) struct Seen {
    /// (tool, service, answer text, lower-cased).
    pub(super) answers: Vec<(String, Option<String>, String)>,
}

/// Whether `service`'s spans since `at_ms` have outliers: the slowest at least twice the
/// median, the pattern a `slow` trace citation stands for.
pub(super) fn slow_spans(t: &Telemetry, service: &str, at_ms: u64) -> bool {
    let Some(sid) = t.service_id(service) else {
        return false;
    };
    let mut d: Vec<u64> = t
        .spans
        .iter()
        .filter(|s| s.service == sid && s.start_us / 1000 >= at_ms)
        .map(|s| s.duration_us)
        .collect();
    if d.len() < 2 {
        return false;
    }
    d.sort_unstable();
    let median = d[d.len() / 2];
    d.last().is_some_and(|max| *max >= median.saturating_mul(2))
}

impl Seen {
    /// Whether a `query_metrics` call for `service` returned series of `metric`.
    pub(super) fn has_series(&self, service: &str, metric: &str) -> bool {
        self.answers.iter().any(|(t, s, text)| {
            t == "query_metrics"
                && s.as_deref() == Some(service)
                && serde_json::from_str::<Value>(text).is_ok_and(|v| {
                    v["series"].as_array().is_some_and(|series| {
                        series.iter().any(|x| x["name"].as_str() == Some(metric))
                    })
                })
        })
    }

    pub(super) fn contains(&self, tool: &str, service: &str, needle: &str) -> bool {
        let needle = needle.to_lowercase();
        self.answers.iter().any(|(t, s, text)| {
            t == tool && s.as_deref() == Some(service) && text.contains(&needle)
        })
    }
}

/// The deploy of `service` closest before (or just after) `at_ms`: the one that shipped
/// the fault.
pub(super) fn suspect_deploy<'a>(t: &'a Telemetry, service: &str, at_ms: u64) -> Option<&'a str> {
    let sid = t.service_id(service)?;
    t.deploys
        .iter()
        .filter(|d| d.service == sid && d.t_ms <= at_ms + 60_000)
        .max_by_key(|d| d.t_ms)
        .map(|d| d.id.as_str())
}

pub(super) fn evidence_for(t: &Telemetry, cause: &TrueCause, seen: &Seen) -> Vec<Value> {
    let c = cause.component.as_str();
    let mut out = Vec::new();
    let at_ms = cause.injected_at.as_millis();
    for signal in &cause.signals {
        let (modality, rest) = signal.split_once(':').unwrap_or((signal.as_str(), ""));
        let modality = modality.split('@').next().unwrap_or(modality);
        let name = rest.rsplit_once('@').map_or(rest, |(n, _)| n);
        let cite = match modality {
            "metric" if seen.has_series(c, name) => {
                Some(json!({"kind": "metric", "service": c, "signal": name,
                    "note": format!("{name} on {c} changes when the incident starts")}))
            }
            "log" if seen.contains("search_logs", c, name) => {
                Some(json!({"kind": "log", "service": c, "signal": name,
                    "note": format!("{c} logs `{name}` during the incident")}))
            }
            "event" if seen.contains("get_events", c, name) => {
                Some(json!({"kind": "event", "service": c, "signal": name,
                    "note": format!("{name} events on {c}")}))
            }
            "trace" if name == "error" => {
                let failed = t.service_id(c).is_some_and(|sid| {
                    t.spans.iter().any(|s| {
                        s.service == sid
                            && s.status == SpanStatus::Error
                            && s.start_us / 1000 >= at_ms
                    })
                });
                failed.then(|| {
                    json!({"kind": "trace", "service": c, "signal": "error",
                    "note": format!("traces fail at {c}")})
                })
            }
            "trace" if name == "slow" => slow_spans(t, c, at_ms).then(|| {
                json!({"kind": "trace", "service": c, "signal": "slow",
                    "note": format!("the slowest traces spend their time in {c}")})
            }),
            "deploy" => suspect_deploy(t, c, at_ms)
                .filter(|id| seen.contains("get_deploys", c, id))
                .map(|id| {
                    json!({"kind": "deploy", "service": c, "signal": id,
                    "note": format!("{id} shipped to {c} just before the symptoms")})
                }),
            _ => None,
        };
        if let Some(v) = cite {
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

pub(super) fn report_for(truth: &GroundTruth, t: &Telemetry, seen: &Seen) -> Value {
    let causes: Vec<Value> = truth
        .root_causes
        .iter()
        .map(|cause| {
            let c = &cause.component;
            json!({
                "component": c,
                "fault": cause.fault.as_str(),
                "level": cause.level.as_str(),
                "confidence": 0.85,
                "evidence": evidence_for(t, cause, seen),
                "explanation": format!(
                    "{c} has a {} fault ({}) starting at {}; its callers inherit the failures and latency, which fired the alert on {}.",
                    cause.fault.short_name().replace('_', " "),
                    cause.fault.def().signature,
                    wall(t, cause.injected_at.as_millis()),
                    t.alert.service,
                ),
            })
        })
        .collect();
    let roots: BTreeSet<&str> = truth
        .root_causes
        .iter()
        .map(|c| c.component.as_str())
        .collect();
    let affected: Vec<&str> = truth
        .affected
        .iter()
        .map(String::as_str)
        .filter(|a| !roots.contains(a))
        .collect();
    let remediation: Vec<String> = truth
        .root_causes
        .iter()
        .map(|c| {
            match (
                c.via,
                suspect_deploy(t, &c.component, c.injected_at.as_millis()),
            ) {
                (Via::Deploy, Some(id)) => format!("Roll back {id} of {}", c.component),
                _ => format!(
                    "Mitigate the {} on {}",
                    c.fault.short_name().replace('_', " "),
                    c.component
                ),
            }
        })
        .collect();
    let names: Vec<&str> = roots.iter().copied().collect();
    json!({
        "root_causes": causes,
        "affected": affected,
        "remediation": remediation,
        "summary": format!(
            "Root cause in {}; the alert {} on {} is a downstream symptom.",
            names.join(" and "), t.alert.name, t.alert.service,
        ),
    })
}

pub(super) fn score_report(
    report: &Value,
    incident: &Incident,
    truth: &GroundTruth,
    t: &Telemetry,
    steps: u32,
) -> f64 {
    let Ok((parsed, _)) = crate::report::parse_report(report) else {
        return 0.0;
    };
    let stats = EpisodeStats {
        steps,
        max_steps: MAX_STEPS,
        elapsed_s: 0.0,
        time_budget_s: 600.0,
        invalid_actions: 0,
    };
    crate::score::score(
        &parsed,
        truth,
        &incident.topology,
        t,
        &stats,
        &Rubric::default(),
    )
    .total
}
