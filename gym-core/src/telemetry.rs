//! The telemetry model: the five CoMELT modalities (code changes, metrics, events, logs,
//! traces) of one episode, as every backend delivers them and every tool reads them.
//!
//! Times are milliseconds from the start of the episode (the start of the warm-up);
//! `start_unix_ms` anchors them to the wall clock for display and export. Services are
//! referred to by their index in `services`, which keeps the records small; strings
//! that repeat (log templates, span operations) are interned.

use serde::{Deserialize, Serialize};

/// Index of a service in [`Telemetry::services`].
pub type ServiceId = u16;

/// Everything observed during one episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Telemetry {
    /// Wall-clock time of `t = 0`, in Unix milliseconds.
    pub start_unix_ms: i64,
    /// Length of the observed window, in ms.
    pub end_ms: u64,
    /// Service names; the index is the [`ServiceId`].
    pub services: Vec<String>,
    /// Metric series.
    pub metrics: Vec<MetricSeries>,
    /// Log templates; [`LogRecord::template`] indexes this.
    pub log_templates: Vec<LogTemplate>,
    /// Log records, sorted by time.
    pub logs: Vec<LogRecord>,
    /// Span operation names; [`Span::operation`] indexes this.
    pub operations: Vec<String>,
    /// Sampled trace spans, sorted by trace then start time.
    pub spans: Vec<Span>,
    /// Orchestrator events, sorted by time.
    pub events: Vec<Event>,
    /// Deploys (with their code diffs), sorted by time.
    pub deploys: Vec<Deploy>,
    /// The alert that opens the investigation.
    pub alert: Alert,
}

impl Telemetry {
    /// The id of the service named `name`.
    pub fn service_id(&self, name: &str) -> Option<ServiceId> {
        self.services
            .iter()
            .position(|s| s == name)
            .and_then(|i| ServiceId::try_from(i).ok())
    }

    /// The name of a service id (`"?"` for an id out of range).
    pub fn service_name(&self, id: ServiceId) -> &str {
        self.services
            .get(usize::from(id))
            .map_or("?", String::as_str)
    }
}

/// Whether a series counts up or reports a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Monotonic, cumulative; resets to zero when the process restarts (as Prometheus
    /// counters do). Read it as a rate.
    Counter,
    /// A level at each sample.
    Gauge,
}

/// One time series, sampled at a fixed step (a scrape interval).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSeries {
    /// Prometheus-style name (`http_requests_total`).
    pub name: String,
    /// The service it was scraped from.
    pub service: ServiceId,
    /// Labels besides `service`, sorted by key (`[("code", "5xx")]`).
    pub labels: Vec<(String, String)>,
    /// Counter or gauge.
    pub kind: MetricKind,
    /// Unit for display (`seconds`, `bytes`, `requests`, `ratio`, `cores`).
    pub unit: String,
    /// Time of the first sample, ms.
    pub start_ms: u64,
    /// Time between samples, ms.
    pub step_ms: u64,
    /// Samples; `NaN` where the scrape failed (the target was down or frozen).
    pub values: Vec<f64>,
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    /// Debug detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something odd but handled.
    Warn,
    /// A failed operation.
    Error,
    /// The process is going down.
    Fatal,
}

impl LogLevel {
    /// Upper-case name, as log lines print it.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
            LogLevel::Fatal => "FATAL",
        }
    }
}

/// A log line shape: text with `{}` holes that [`LogRecord::args`] fill. Grouping logs
/// by template is what keeps repeated lines from flooding an agent's context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogTemplate {
    /// The text, with `{}` for each variable part. May span lines (stack traces).
    pub text: String,
}

impl LogTemplate {
    /// The text with each hole shown as `<*>`, the usual notation of log template miners.
    pub fn pattern(&self) -> String {
        self.text.replace("{}", "<*>")
    }

    /// The text with the holes filled in order; missing args leave `<*>`.
    pub fn render(&self, args: &[String]) -> String {
        let mut out = String::with_capacity(self.text.len() + 16 * args.len());
        let mut rest = self.text.as_str();
        let mut args = args.iter();
        while let Some(pos) = rest.find("{}") {
            out.push_str(&rest[..pos]);
            match args.next() {
                Some(a) => out.push_str(a),
                None => out.push_str("<*>"),
            }
            rest = &rest[pos + 2..];
        }
        out.push_str(rest);
        out
    }
}

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Time, ms.
    pub t_ms: u64,
    /// The service that wrote it.
    pub service: ServiceId,
    /// Severity.
    pub level: LogLevel,
    /// Index into [`Telemetry::log_templates`].
    pub template: u32,
    /// The variable parts, in order.
    pub args: Vec<String>,
    /// The trace it belongs to, when it was written while serving a traced request.
    pub trace_id: Option<u64>,
}

/// Whether a span succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanStatus {
    /// Completed.
    Ok,
    /// Failed (an error response, an exception, a timeout).
    Error,
}

/// One hop of a sampled request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// The request this span belongs to.
    pub trace_id: u64,
    /// Unique within the trace.
    pub span_id: u64,
    /// The calling span; `None` for the root.
    pub parent_id: Option<u64>,
    /// The service that did the work.
    pub service: ServiceId,
    /// Index into [`Telemetry::operations`] (`GET /api/cart`, `SELECT orders`).
    pub operation: u32,
    /// Start, µs from the start of the episode.
    pub start_us: u64,
    /// Duration, µs.
    pub duration_us: u64,
    /// Outcome.
    pub status: SpanStatus,
    /// HTTP status code, 0 when there was no response (a timeout, a refused connection).
    pub http_status: u16,
    /// Error message, for failed spans.
    pub error: Option<String>,
}

/// Severity of an orchestrator event, as Kubernetes types them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    /// Routine.
    Normal,
    /// Needs attention.
    Warning,
}

/// An orchestrator event (a deploy rolled out, a container restarted, a probe failed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Time, ms.
    pub t_ms: u64,
    /// The service (deployment / container) it concerns.
    pub service: ServiceId,
    /// Normal or Warning.
    pub event_type: EventType,
    /// A CamelCase reason, as Kubernetes writes them (`OOMKilled`, `BackOff`,
    /// `Unhealthy`, `ScalingReplicaSet`, `ConfigChanged`, `Killing`, `Started`).
    pub reason: String,
    /// The human-readable message.
    pub message: String,
}

/// A deploy of a new version of a service, with the change it shipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deploy {
    /// Identifier (`deploy-7f3a9c1`), what `get_code_diff` takes.
    pub id: String,
    /// Time the rollout started, ms.
    pub t_ms: u64,
    /// The service deployed.
    pub service: ServiceId,
    /// Version before.
    pub from_version: String,
    /// Version after.
    pub to_version: String,
    /// Commit hash of the change.
    pub commit: String,
    /// Who shipped it.
    pub author: String,
    /// The change's title (commit message's first line).
    pub title: String,
    /// The change as a unified diff.
    pub diff: String,
}

/// The page that starts the investigation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Alert {
    /// When it fired, ms.
    pub t_ms: u64,
    /// The alert rule's name (`HighErrorRate`, `HighLatencyP99`).
    pub name: String,
    /// The service it fired on.
    pub service: String,
    /// Severity (`page`, `ticket`).
    pub severity: String,
    /// One sentence, as the pager shows it.
    pub summary: String,
}
