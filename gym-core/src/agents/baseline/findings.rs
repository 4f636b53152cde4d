//! What the baseline learned from each tool result.

use serde_json::Value;

use super::anomaly::{detect, first_gap, Direction};
use crate::query::{
    parse_rfc3339, CodeDiff, DeployInfo, EventGroup, LogGroup, MetricsResult, ServiceInfo,
    SpanNode, TracesResult,
};
use crate::telemetry::{LogLevel, SpanStatus};

/// A metric family the baseline looks at, with how to read it.
#[derive(Debug, Clone, Copy)]
pub struct SignalDef {
    /// Short name used in evidence (`errors`, `memory`).
    pub name: &'static str,
    /// The metric to ask for.
    pub metric: &'static str,
    /// Label filter, to keep to one series per service (or per call edge).
    pub labels: &'static [(&'static str, &'static str)],
    /// Fragment to look for among the available metrics when the name does not exist.
    pub keyword: &'static str,
    /// Which way is bad.
    pub dir: Direction,
    /// Smallest absolute change that counts.
    pub floor: f64,
    /// Smallest change relative to the healthy level that counts.
    pub rel: f64,
}

const fn sig(
    name: &'static str,
    metric: &'static str,
    labels: &'static [(&'static str, &'static str)],
    keyword: &'static str,
    dir: Direction,
    floor: f64,
    rel: f64,
) -> SignalDef {
    SignalDef {
        name,
        metric,
        labels,
        keyword,
        dir,
        floor,
        rel,
    }
}

use Direction::{Down, Up};

/// The metric families, in query order (most telling first, as the budget may cut the
/// tail).
#[rustfmt::skip]
pub const SIGNALS: &[SignalDef] = &[
    //   name               metric                                         labels                      keyword           dir   floor  rel
    sig("errors",          "http_requests_total",                         &[("code", "5*")],          "requests_total", Up,   0.2,   0.5),
    sig("latency",         "http_request_duration_seconds",               &[("quantile", "0.99")],    "duration",       Up,   0.01,  0.5),
    sig("client_errors",   "http_client_requests_total",                  &[("outcome", "error")],    "client_req",     Up,   0.2,   0.5),
    sig("client_timeouts", "http_client_requests_total",                  &[("outcome", "timeout")],  "",               Up,   0.2,   0.5),
    sig("client_latency",  "http_client_request_duration_seconds",        &[("quantile", "0.99")],    "",               Up,   0.02,  0.5),
    sig("restarts",        "kube_pod_container_status_restarts_total",    &[],                        "restart",        Up,   1e-4,  0.0),
    sig("memory",          "container_memory_working_set_bytes",          &[],                        "memory",         Up,   10e6,  0.2),
    sig("cpu",             "container_cpu_usage_seconds_total",           &[],                        "cpu_usage",      Up,   0.05,  0.5),
    sig("process_cpu",     "process_cpu_seconds_total",                   &[],                        "process_cpu",    Up,   0.05,  0.5),
    sig("throttling",      "container_cpu_cfs_throttled_periods_total",   &[],                        "throttl",        Up,   0.5,   1.0),
    sig("up",              "up",                                          &[],                        "",               Down, 0.3,   0.0),
    sig("available",       "kube_deployment_status_replicas_available",   &[],                        "available",      Down, 0.5,   0.2),
    sig("pool",            "db_pool_connections_in_use",                  &[],                        "pool",           Up,   2.0,   0.5),
    sig("client_requests", "http_client_requests_total",                  &[("outcome", "ok")],       "",               Up,   1.0,   1.0),
    sig("cache_hit",       "cache_hit_ratio",                             &[],                        "hit",            Down, 0.1,   0.2),
    sig("db_latency",      "db_query_duration_seconds",                   &[("quantile", "0.99")],    "query_duration", Up,   0.01,  1.0),
    sig("disk_usage",      "container_fs_usage_bytes",                    &[],                        "fs_usage",       Up,   50e6,  0.3),
    sig("disk_io",         "node_disk_io_time_seconds_total",             &[],                        "disk_io",        Up,   0.05,  1.0),
    sig("retransmits",     "node_netstat_tcp_retrans_segs",               &[],                        "retrans",        Up,   1.0,   1.0),
];

/// A call edge whose caller sees failures: evidence against the callee.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerHit {
    /// The calling service.
    pub caller: String,
    /// The called service.
    pub peer: String,
    /// The signal (`client_errors`, `client_timeouts`, `client_latency`).
    pub signal: &'static str,
    /// The metric.
    pub metric: String,
    /// When it began, Unix ms.
    pub onset_ms: i64,
}

/// A metric that changed on a service.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricHit {
    /// The service.
    pub service: String,
    /// The signal family.
    pub signal: &'static str,
    /// The metric's name.
    pub metric: String,
    /// When the change began, Unix ms.
    pub onset_ms: i64,
    /// Healthy level.
    pub baseline: f64,
    /// Most extreme level after.
    pub extreme: f64,
    /// Strength, in robust z-scores.
    pub peak_z: f64,
}

/// A log line that names another service with a telling phrase.
#[derive(Debug, Clone, PartialEq)]
pub struct Mention {
    /// The service that wrote the line.
    pub writer: String,
    /// The service it names.
    pub target: String,
    /// The phrase class (`dns`, `refused`, `timeout`).
    pub class: &'static str,
}

/// Everything seen so far in one episode.
#[derive(Debug, Default)]
pub struct Findings {
    /// The alert's service.
    pub alert_service: String,
    /// When the alert fired, Unix ms.
    pub alert_ms: i64,
    /// Log groups first seen before this time (Unix ms) are background chatter.
    pub news_after_ms: i64,
    /// The service catalog.
    pub services: Vec<ServiceInfo>,
    /// Metric changes.
    pub hits: Vec<MetricHit>,
    /// Call edges whose callers see failures.
    pub peer_hits: Vec<PeerHit>,
    /// Metrics seen to exist, as (service, name).
    pub seen_metrics: std::collections::BTreeSet<(String, String)>,
    /// Services whose metrics went missing, with the metric and when.
    pub gaps: Vec<(String, String, i64)>,
    /// Warning-or-worse log groups.
    pub logs: Vec<LogGroup>,
    /// Phrase classes found in each service's own logs: (service, class).
    pub log_classes: Vec<(String, &'static str)>,
    /// Lines naming another service.
    pub mentions: Vec<Mention>,
    /// Error traces.
    pub traces: Option<TracesResult>,
    /// Services where failing requests originate (deepest failing span), with a count
    /// and a trace showing it (empty when the failure is blamed on a callee that has no
    /// failing span of its own).
    pub origins: Vec<(String, usize, String)>,
    /// Events.
    pub events: Vec<EventGroup>,
    /// Deploys.
    pub deploys: Vec<DeployInfo>,
    /// The diff of the suspect's deploy.
    pub diff: Option<CodeDiff>,
}

/// Phrase classes in log lines and error messages.
#[rustfmt::skip]
const CLASSES: &[(&str, &[&str])] = &[
    ("dns", &["no such host", "enotfound", "nxdomain", "name resolution", "failed to resolve", "name or service not known", "unknownhost", "could not resolve"]),
    ("refused", &["connection refused", "econnrefused", "no healthy upstream"]),
    ("timeout", &["timed out", "timeout", "etimedout", "deadline exceeded"]),
    ("reset", &["connection reset", "econnreset", "broken pipe"]),
    ("oom", &["outofmemory", "out of memory", "memoryerror", "allocation failed", "memory allocation of"]),
    ("gc", &["gc pause", "gc overhead"]),
    ("disk_full", &["no space left", "enospc"]),
    ("disk_slow", &["fsync"]),
    ("config", &["invalid configuration", "invalid config", "config error"]),
    ("panic", &["panicked at", "panic: runtime error", "exited with code", "exit status", "halting jvm"]),
    ("pool", &["acquiring connection", "pool exhausted", "too many connections"]),
    ("retry", &["retrying"]),
    ("slow_query", &["slow query"]),
    ("probe", &["liveness probe", "readiness probe", "readiness check"]),
    ("exception", &["exception", "traceback", "stack trace"]),
];

/// The phrase classes present in a text.
pub fn classes(text: &str) -> Vec<&'static str> {
    let lower = text.to_lowercase();
    CLASSES
        .iter()
        .filter(|(_, phrases)| phrases.iter().any(|p| lower.contains(p)))
        .map(|(c, _)| *c)
        .collect()
}

impl Findings {
    /// Names of the services known so far.
    pub fn service_names(&self) -> Vec<String> {
        self.services.iter().map(|s| s.name.clone()).collect()
    }

    /// Reads a `query_metrics` result for a signal. Returns the name to retry with when
    /// the metric does not exist but a similar one does.
    pub fn ingest_metrics(&mut self, sig: &SignalDef, v: &Value) -> Option<String> {
        let r: MetricsResult = serde_json::from_value(v.clone()).ok()?;
        if r.series.is_empty() {
            // The name exists but no series has the labels: ask again without them.
            if r.available_metrics.is_empty() && r.matched_series == 0 && !sig.labels.is_empty() {
                return Some(sig.metric.to_owned());
            }
            if sig.keyword.is_empty() {
                return None;
            }
            return r
                .available_metrics
                .iter()
                .find(|m| m.contains(sig.keyword))
                .cloned();
        }
        for s in &r.series {
            self.seen_metrics
                .insert((s.service.clone(), s.name.clone()));
            let Ok(t0) = parse_rfc3339(&s.start) else {
                continue;
            };
            let at = |i: usize| t0 + (i as f64 * s.step_s * 1000.0) as i64;
            let change = detect(&s.values, sig.dir, 4.0, sig.floor, sig.rel);
            if let Some(c) = change {
                if let (Some(peer), "client_errors" | "client_timeouts" | "client_latency") =
                    (s.labels.get("peer"), sig.name)
                {
                    self.peer_hits.push(PeerHit {
                        caller: s.service.clone(),
                        peer: peer.clone(),
                        signal: sig.name,
                        metric: s.name.clone(),
                        onset_ms: at(c.onset),
                    });
                    continue;
                }
                self.hits.push(MetricHit {
                    service: s.service.clone(),
                    signal: sig.name,
                    metric: s.name.clone(),
                    onset_ms: at(c.onset),
                    baseline: c.baseline,
                    extreme: c.extreme,
                    peak_z: c.peak_z,
                });
            }
            // Quantiles and ratios have no value when there is no traffic; only the
            // scrape-health and counter families say "the target was not there".
            let gap_means_down = matches!(sig.name, "up" | "errors" | "memory" | "cpu");
            if let Some(g) = first_gap(&s.values).filter(|_| gap_means_down) {
                if !self.gaps.iter().any(|(sv, _, _)| *sv == s.service) {
                    self.gaps.push((s.service.clone(), s.name.clone(), at(g)));
                }
            }
        }
        None
    }

    fn note_mentions(&mut self, writer: &str, text: &str) {
        let found = classes(text);
        for class in &found {
            if !self
                .log_classes
                .iter()
                .any(|(s, c)| s == writer && c == class)
            {
                self.log_classes.push((writer.to_owned(), class));
            }
        }
        let lower = text.to_lowercase();
        let names = self.service_names();
        for target in names.iter().filter(|n| n.as_str() != writer) {
            if !lower.contains(target.as_str()) {
                continue;
            }
            for class in found
                .iter()
                .filter(|c| matches!(**c, "dns" | "refused" | "timeout" | "reset"))
            {
                let m = Mention {
                    writer: writer.to_owned(),
                    target: target.clone(),
                    class,
                };
                if !self.mentions.contains(&m) {
                    self.mentions.push(m);
                }
            }
        }
    }

    /// Reads a `search_logs` result.
    pub fn ingest_logs(&mut self, v: &Value) {
        let Ok(r) = serde_json::from_value::<crate::query::LogsResult>(v.clone()) else {
            return;
        };
        let news_after = self.news_after_ms;
        let is_news =
            |g: &crate::query::LogGroup| parse_rfc3339(&g.first).map_or(true, |t| t >= news_after);
        for g in r
            .groups
            .into_iter()
            // A handful of warnings is background chatter even when new; a sustained
            // stream of them, or any error, is news.
            .filter(|g| is_news(g) && (g.level >= LogLevel::Error || g.count >= 10))
        {
            for s in &g.services {
                let text = format!("{}\n{}", g.pattern, g.example);
                self.note_mentions(s, &text);
            }
            self.logs.push(g);
        }
    }

    /// Reads a `get_traces` result: where do failing requests originate?
    pub fn ingest_traces(&mut self, v: &Value) {
        let Ok(r) = serde_json::from_value::<TracesResult>(v.clone()) else {
            return;
        };
        for t in &r.traces {
            if let Some(origin) = deepest_error(&t.root) {
                let msg = origin.error.clone().unwrap_or_default();
                self.note_mentions(&origin.service, &msg);
                // A failure that waited on a slow callee was born in the callee.
                let slow_child = origin
                    .children
                    .iter()
                    .filter(|c| c.duration_ms >= 0.5 * origin.duration_ms)
                    .max_by(|a, b| a.duration_ms.total_cmp(&b.duration_ms));
                let blamed = match slow_child {
                    Some(c) => c.service.clone(),
                    None => self.blame(&origin.service, &msg),
                };
                // The trace is cited only where it shows the failure itself.
                let trace_id = if blamed == origin.service {
                    t.trace_id.clone()
                } else {
                    String::new()
                };
                match self.origins.iter_mut().find(|(s, _, _)| *s == blamed) {
                    Some(o) => o.1 += 1,
                    None => self.origins.push((blamed, 1, trace_id)),
                }
            }
        }
        self.traces = Some(r);
    }

    /// Where a failing span's error was born: at the span's service, or at the callee it
    /// names when the call never reached it (no resolution, refused, timed out).
    fn blame(&self, service: &str, msg: &str) -> String {
        let lower = msg.to_lowercase();
        let unreachable = classes(msg)
            .iter()
            .any(|c| matches!(*c, "dns" | "refused" | "timeout" | "reset"));
        self.services
            .iter()
            .find(|sv| sv.name == service)
            .and_then(|sv| sv.calls.iter().find(|c| lower.contains(c.as_str())))
            .filter(|_| unreachable)
            .cloned()
            .unwrap_or_else(|| service.to_owned())
    }

    /// Reads a `get_events` result.
    pub fn ingest_events(&mut self, v: &Value) {
        if let Ok(r) = serde_json::from_value::<crate::query::EventsResult>(v.clone()) {
            for e in &r.events {
                let text = e.message.clone();
                self.note_mentions(&e.service, &text);
            }
            self.events = r.events;
        }
    }

    /// Reads a `get_deploys` result.
    pub fn ingest_deploys(&mut self, v: &Value) {
        if let Ok(r) = serde_json::from_value::<crate::query::DeploysResult>(v.clone()) {
            self.deploys = r.deploys;
        }
    }
}

/// The deepest failing span under `node`: where the error was born, not where it was
/// relayed.
pub fn deepest_error(node: &SpanNode) -> Option<&SpanNode> {
    let from_children = node.children.iter().filter_map(deepest_error).next();
    from_children.or((node.status == SpanStatus::Error).then_some(node))
}
