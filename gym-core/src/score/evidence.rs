//! Evidence: does each cited signal exist in the telemetry, and does it point at the
//! truth?
//!
//! Existence is checked against what the agent could have seen, so a citation that
//! sounds right but was never observed (a metric the service does not export, a log line
//! it never wrote) counts as fabricated and costs more than citing nothing.

use std::collections::BTreeSet;

use otrashi_scenarios::incident::{GroundTruth, TrueCause};
use otrashi_scenarios::model::Topology;

use super::names::resolve;
use super::rubric::Rubric;
use crate::report::{normalize_evidence_kind, RcaReport};
use crate::telemetry::{MetricKind, MetricSeries, ServiceId, SpanStatus, Telemetry};

/// Log and event citations shorter than this cannot be told apart from noise (`err`).
const MIN_TEXT_CITATION: usize = 4;
/// Log records rendered at most per citation when no template matches.
const MAX_RENDERED_LOGS: usize = 50_000;
/// How long before a fault its deploy may start rolling out and still count as showing
/// it (a rollout takes a while to replace every replica).
const DEPLOY_LEAD_MS: u64 = 60_000;

/// Whether a cited signal is in the telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exists {
    Yes,
    No,
    /// The citation cannot be checked (no or unknown kind, text too short).
    Unverifiable,
}

/// One citation, with the service it is about resolved.
struct Citation<'a> {
    kind: Option<&'static str>,
    service: Option<&'a str>,
    service_text: String,
    signal: String,
}

/// The evidence score in [0, 1] and its reason.
pub(super) fn score_evidence(
    report: &RcaReport,
    truth: &GroundTruth,
    topology: &Topology,
    telemetry: &Telemetry,
    rubric: &Rubric,
) -> (f64, String) {
    let r = &rubric.evidence;
    let mut seen = BTreeSet::new();
    let mut citations = Vec::new();
    for rc in &report.root_causes {
        for e in &rc.evidence {
            let service_text = e.service.clone().unwrap_or_else(|| rc.component.clone());
            let service = resolve(&service_text, topology);
            let kind = normalize_evidence_kind(&e.kind);
            let signal = e.signal.trim().to_owned();
            let key = (
                kind.unwrap_or("?"),
                service.map_or_else(|| service_text.to_lowercase(), str::to_owned),
                signal.to_lowercase(),
            );
            if seen.insert(key) {
                citations.push(Citation {
                    kind,
                    service,
                    service_text,
                    signal,
                });
            }
        }
    }
    if citations.is_empty() {
        return (0.0, "no evidence cited".to_owned());
    }
    let (mut best, mut on_cause, mut on_affected, mut irrelevant, mut fabricated, mut unchecked) =
        (0, 0, 0, 0, 0, 0);
    let mut fabricated_examples = Vec::new();
    let mut sum = 0.0;
    for c in citations.iter().take(r.max_citations) {
        let exists = match (c.kind, c.service) {
            (None, _) => Exists::Unverifiable,
            (Some(_), None) => Exists::No,
            (Some(kind), Some(service)) => match telemetry.service_id(service) {
                None => Exists::No,
                Some(sid) => exists(kind, sid, &c.signal, telemetry, 0),
            },
        };
        match exists {
            Exists::Unverifiable => unchecked += 1,
            Exists::No => {
                fabricated += 1;
                sum -= r.fabricated_penalty;
                if fabricated_examples.len() < 2 {
                    fabricated_examples.push(format!(
                        "{}:{}@{}",
                        c.kind.unwrap_or("?"),
                        c.signal,
                        c.service_text
                    ));
                }
            }
            Exists::Yes => {
                let service = c.service.unwrap_or_default();
                let causes: Vec<_> = truth
                    .root_causes
                    .iter()
                    .filter(|t| t.component == service)
                    .collect();
                if !causes.is_empty() {
                    let expected = causes.iter().any(|t| {
                        t.signals
                            .iter()
                            .any(|s| matches_expected(s, c, service, telemetry, t))
                    });
                    if expected {
                        best += 1;
                        sum += r.expected_signal;
                    } else {
                        on_cause += 1;
                        sum += r.root_cause_signal;
                    }
                } else if truth.affected.iter().any(|a| a == service) {
                    on_affected += 1;
                    sum += r.affected_signal;
                } else {
                    irrelevant += 1;
                }
            }
        }
    }
    let n = citations.len();
    let value = (sum / n as f64).clamp(0.0, 1.0);
    let mut parts = Vec::new();
    for (count, what) in [
        (
            best,
            "show the fault's expected signals during the incident",
        ),
        (
            on_cause,
            "on the root cause (other signals, or not changing after the fault)",
        ),
        (on_affected, "on affected services"),
        (irrelevant, "exist but point away from the incident"),
        (unchecked, "cannot be checked"),
    ] {
        if count > 0 {
            parts.push(format!("{count} {what}"));
        }
    }
    if fabricated > 0 {
        parts.push(format!(
            "{fabricated} {} not exist ({}{})",
            if fabricated == 1 { "does" } else { "do" },
            fabricated_examples.join(", "),
            if fabricated > fabricated_examples.len() {
                ", …"
            } else {
                ""
            }
        ));
    }
    if n > r.max_citations {
        parts.push(format!(
            "{} beyond the first {} not checked",
            n - r.max_citations,
            r.max_citations
        ));
    }
    (
        value,
        format!("{n} distinct citations: {}", parts.join("; ")),
    )
}

/// Whether a citation shows one of the truth's expected signals (`metric:name@svc`,
/// `log:text@svc`, `event:Reason@svc`, `trace:error@svc`, `deploy@svc`) during the
/// incident: a metric that changes after the fault started, a log line, event or span
/// from after it, a deploy from shortly before it on.
fn matches_expected(
    expected: &str,
    c: &Citation<'_>,
    service: &str,
    telemetry: &Telemetry,
    cause: &TrueCause,
) -> bool {
    let Some(spec) = expected.strip_suffix(&format!("@{service}")) else {
        return false;
    };
    let (modality, name) = spec.split_once(':').unwrap_or((spec, ""));
    let Some(sid) = telemetry.service_id(service) else {
        return false;
    };
    if c.kind != Some(modality) {
        return false;
    }
    let at_ms = cause.injected_at.as_millis();
    let signal = c.signal.to_lowercase();
    let name = name.to_lowercase();
    let named = match modality {
        "metric" => {
            return metric_tokens(&c.signal).any(|tok| {
                tok.eq_ignore_ascii_case(&name)
                    && telemetry.metrics.iter().any(|m| {
                        m.service == sid
                            && m.name.eq_ignore_ascii_case(tok)
                            && series_changes(m, at_ms)
                    })
            })
        }
        // The expected text, or a log line of the service that contains both.
        "log" => {
            signal.contains(&name)
                || log_lines_of(sid, telemetry, at_ms)
                    .any(|l| l.contains(&name) && l.contains(&signal))
        }
        "event" => signal == name,
        "trace" => match trace_keyword(&signal) {
            Some(k) => k == name,
            // A cited trace id shows `error` if the service failed in it, else `slow`.
            None => {
                let ids = trace_ids(&signal);
                let failed = telemetry.spans.iter().any(|s| {
                    ids.contains(&s.trace_id) && s.service == sid && s.status == SpanStatus::Error
                });
                (name == "error") == failed
            }
        },
        "deploy" => true,
        _ => false,
    };
    let from_ms = if modality == "deploy" {
        at_ms.saturating_sub(DEPLOY_LEAD_MS)
    } else {
        at_ms
    };
    named && exists(modality, sid, &c.signal, telemetry, from_ms) == Exists::Yes
}

/// Whether a series moves after `at_ms` compared with before: its mean (of the rate, for
/// counters) shifts by 10 % or by 3 standard deviations of the baseline, scrapes start
/// failing, or a counter starts resetting (restarts). Without a baseline it cannot be
/// told, and counts as changing.
fn series_changes(m: &MetricSeries, at_ms: u64) -> bool {
    let split = if at_ms <= m.start_ms || m.step_ms == 0 {
        0
    } else {
        usize::try_from((at_ms - m.start_ms).div_ceil(m.step_ms)).unwrap_or(usize::MAX)
    };
    let split = split.min(m.values.len());
    let (before, after) = m.values.split_at(split);
    if before.len() < 2 || after.is_empty() {
        return true;
    }
    let nan_share = |v: &[f64]| v.iter().filter(|x| x.is_nan()).count() as f64 / v.len() as f64;
    if nan_share(after) > nan_share(before) + 0.05 {
        return true;
    }
    let levels = |v: &[f64]| -> (Vec<f64>, usize) {
        let finite: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        match m.kind {
            MetricKind::Gauge => (finite, 0),
            MetricKind::Counter => {
                let diffs: Vec<f64> = finite.windows(2).map(|w| w[1] - w[0]).collect();
                let resets = diffs.iter().filter(|d| **d < 0.0).count();
                (diffs.into_iter().filter(|d| *d >= 0.0).collect(), resets)
            }
        }
    };
    let (b, resets_before) = levels(before);
    let (a, resets_after) = levels(after);
    if resets_after > resets_before {
        return true;
    }
    if b.is_empty() || a.is_empty() {
        return !a.is_empty() || b.is_empty();
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (mb, ma) = (mean(&b), mean(&a));
    let sd = (b.iter().map(|x| (x - mb) * (x - mb)).sum::<f64>() / b.len() as f64).sqrt();
    let shift = (ma - mb).abs();
    shift > 0.0 && (shift >= 0.1 * mb.abs() || shift >= 3.0 * sd)
}

fn exists(kind: &str, sid: ServiceId, signal: &str, t: &Telemetry, from_ms: u64) -> Exists {
    let lower = signal.trim().trim_matches(['"', '\'', '`']).to_lowercase();
    let yes = |b: bool| if b { Exists::Yes } else { Exists::No };
    let from_us = from_ms.saturating_mul(1000);
    match kind {
        "metric" => yes(metric_tokens(signal).any(|tok| {
            t.metrics
                .iter()
                .any(|m| m.service == sid && m.name.eq_ignore_ascii_case(tok))
        })),
        "log" if lower.chars().count() < MIN_TEXT_CITATION => Exists::Unverifiable,
        "log" => yes(log_exists(sid, &lower, t, from_ms)),
        "event" if lower.chars().count() < MIN_TEXT_CITATION => Exists::Unverifiable,
        "event" => yes(t.events.iter().any(|e| {
            e.service == sid
                && e.t_ms >= from_ms
                && (e.reason.to_lowercase() == lower || e.message.to_lowercase().contains(&lower))
        })),
        "trace" => {
            let spans = || {
                t.spans
                    .iter()
                    .filter(|s| s.service == sid && s.start_us >= from_us)
            };
            match trace_keyword(&lower) {
                Some("error") => yes(spans().any(|s| s.status == SpanStatus::Error)),
                Some(_) => yes(has_slow_spans(spans().map(|s| s.duration_us).collect())),
                None => {
                    let ids = trace_ids(&lower);
                    yes(spans().any(|s| ids.contains(&s.trace_id)))
                }
            }
        }
        "deploy" => {
            let generic = lower.is_empty()
                || matches!(lower.as_str(), "deploy" | "deployment" | "rollout")
                || t.service_name(sid).eq_ignore_ascii_case(&lower);
            yes(t.deploys.iter().any(|d| {
                d.service == sid
                    && d.t_ms >= from_ms
                    && (generic
                        || d.id.eq_ignore_ascii_case(&lower)
                        || lower.contains(&d.id.to_lowercase())
                        || (lower.len() >= 7 && d.commit.to_lowercase().starts_with(&lower))
                        || d.to_version.eq_ignore_ascii_case(&lower))
            }))
        }
        _ => Exists::Unverifiable,
    }
}

/// Identifier-like tokens of a metric citation, so that `rate(name[5m])` and
/// `name{code="5xx"}` name `name`.
fn metric_tokens(signal: &str) -> impl Iterator<Item = &str> {
    signal
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| !t.is_empty())
}

fn log_lines_of(sid: ServiceId, t: &Telemetry, from_ms: u64) -> impl Iterator<Item = String> + '_ {
    t.logs
        .iter()
        .filter(move |r| r.service == sid && r.t_ms >= from_ms)
        .take(MAX_RENDERED_LOGS)
        .filter_map(move |r| {
            t.log_templates
                .get(r.template as usize)
                .map(|tpl| tpl.render(&r.args).to_lowercase())
        })
}

/// A log citation exists when it is part of a template the service used, when a
/// template's fixed text all appears in it (the agent quoted a rendered line), or when a
/// rendered line of the service contains it.
fn log_exists(sid: ServiceId, lower: &str, t: &Telemetry, from_ms: u64) -> bool {
    let used: BTreeSet<u32> = t
        .logs
        .iter()
        .filter(|r| r.service == sid && r.t_ms >= from_ms)
        .map(|r| r.template)
        .collect();
    let template_match = used
        .iter()
        .filter_map(|i| t.log_templates.get(*i as usize))
        .any(|tpl| {
            let text = tpl.text.to_lowercase();
            if text.contains(lower) || tpl.pattern().to_lowercase().contains(lower) {
                return true;
            }
            let fixed: Vec<&str> = text.split("{}").filter(|p| !p.trim().is_empty()).collect();
            let fixed_len: usize = fixed.iter().map(|p| p.len()).sum();
            let mut rest = lower;
            fixed_len >= 8
                && fixed.iter().all(|part| match rest.find(part) {
                    Some(i) => {
                        rest = &rest[i + part.len()..];
                        true
                    }
                    None => false,
                })
        });
    template_match || log_lines_of(sid, t, from_ms).any(|l| l.contains(lower))
}

/// `error` or `slow` for the trace patterns an agent may cite instead of an id.
fn trace_keyword(lower: &str) -> Option<&'static str> {
    match lower.trim() {
        "error" | "errors" | "5xx" | "failed" | "failure" | "error spans" => Some("error"),
        "slow" | "latency" | "high latency" | "slow spans" | "timeout" | "timeouts" => Some("slow"),
        _ => None,
    }
}

/// The ids a cited trace id may mean: `0xabc` is hex; bare digits may be either.
fn trace_ids(lower: &str) -> Vec<u64> {
    let s = lower.trim();
    if let Some(hex) = s.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).ok().into_iter().collect();
    }
    let mut ids: Vec<u64> = s.parse().ok().into_iter().collect();
    ids.extend(u64::from_str_radix(s, 16).ok());
    ids
}

/// Whether some spans are markedly slower than the usual ones (the slowest at least
/// twice the median).
fn has_slow_spans(mut d: Vec<u64>) -> bool {
    if d.len() < 2 {
        return false;
    }
    d.sort_unstable();
    let median = d[d.len() / 2];
    d.last().is_some_and(|max| *max >= median.saturating_mul(2))
}
