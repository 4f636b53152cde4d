//! `get_traces`: sampled requests as span trees, plus a summary of everything matched.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{clamp_limit, resolve_service, round_sig, truncate_text, wall, QueryError, Window};
use crate::telemetry::{Span, SpanStatus, Telemetry};

/// Traces returned when the agent does not ask for a limit.
pub const DEFAULT_TRACES: u32 = 5;
/// Most traces one call returns.
pub const MAX_TRACES: u32 = 20;
/// Most spans shown per trace.
pub const MAX_SPANS_PER_TRACE: usize = 40;
/// Longest error message shown per span.
const MAX_ERROR_CHARS: usize = 300;

/// Arguments of `get_traces`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracesArgs {
    /// Only traces that pass through this service.
    #[serde(default)]
    pub service: Option<String>,
    /// Only traces with at least one failed span.
    #[serde(default)]
    pub errors_only: Option<bool>,
    /// Only traces at least this long, in ms.
    #[serde(default)]
    pub min_duration_ms: Option<f64>,
    /// Window start (of the request).
    #[serde(default)]
    pub start: Option<String>,
    /// Window end.
    #[serde(default)]
    pub end: Option<String>,
    /// Most traces to return (default 5, at most 20), slowest first.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One span with its children.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanNode {
    /// The service that did the work.
    pub service: String,
    /// What it did.
    pub operation: String,
    /// How long, in ms.
    pub duration_ms: f64,
    /// `ok` or `error`.
    pub status: SpanStatus,
    /// HTTP status; absent when there was no response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Error message of a failed span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Calls it made, in start order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<SpanNode>,
}

/// One trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceResult {
    /// Trace id (hex).
    pub trace_id: String,
    /// When the request started.
    pub start: String,
    /// End-to-end duration, ms.
    pub duration_ms: f64,
    /// Whether any span failed.
    pub error: bool,
    /// Spans in the trace.
    pub span_count: usize,
    /// The root span and its descendants.
    pub root: SpanNode,
}

/// Aggregates over every matched trace, not only the ones returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TracesSummary {
    /// Traces that matched.
    pub matched: usize,
    /// Of those, traces with a failed span.
    pub with_errors: usize,
    /// Median duration, ms.
    #[serde(with = "super::nan_as_null")]
    pub p50_ms: f64,
    /// 99th percentile duration, ms.
    #[serde(with = "super::nan_as_null")]
    pub p99_ms: f64,
    /// Id of the slowest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slowest_trace_id: Option<String>,
    /// Failed spans per service, over the matched traces.
    pub error_spans_by_service: BTreeMap<String, usize>,
}

/// Result of `get_traces`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TracesResult {
    /// Window start.
    pub start: String,
    /// Window end.
    pub end: String,
    /// Aggregates.
    pub summary: TracesSummary,
    /// The slowest matched traces.
    pub traces: Vec<TraceResult>,
    /// What was cut or adjusted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

struct TraceView<'a> {
    id: u64,
    spans: Vec<&'a Span>,
    root: &'a Span,
}

fn group_traces(t: &Telemetry) -> Vec<TraceView<'_>> {
    let mut by_id: HashMap<u64, Vec<&Span>> = HashMap::new();
    for s in &t.spans {
        by_id.entry(s.trace_id).or_default().push(s);
    }
    let mut out: Vec<TraceView<'_>> = by_id
        .into_iter()
        .filter_map(|(id, mut spans)| {
            spans.sort_by_key(|s| (s.start_us, s.span_id));
            let root = spans
                .iter()
                .find(|s| s.parent_id.is_none())
                .or_else(|| spans.first())
                .copied()?;
            Some(TraceView { id, spans, root })
        })
        .collect();
    out.sort_by_key(|v| v.id);
    out
}

fn build_node(
    t: &Telemetry,
    span: &Span,
    children: &HashMap<u64, Vec<&Span>>,
    budget: &mut usize,
    depth: usize,
) -> SpanNode {
    *budget = budget.saturating_sub(1);
    let mut node = SpanNode {
        service: t.service_name(span.service).to_owned(),
        operation: t
            .operations
            .get(span.operation as usize)
            .cloned()
            .unwrap_or_default(),
        duration_ms: round_sig(span.duration_us as f64 / 1000.0),
        status: span.status,
        http_status: (span.http_status != 0).then_some(span.http_status),
        error: span
            .error
            .as_deref()
            .map(|e| truncate_text(e, MAX_ERROR_CHARS).0),
        children: Vec::new(),
    };
    if depth < 32 {
        for c in children.get(&span.span_id).into_iter().flatten() {
            if *budget == 0 {
                break;
            }
            node.children
                .push(build_node(t, c, children, budget, depth + 1));
        }
    }
    node
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Answers `get_traces`.
pub fn get_traces(t: &Telemetry, args: &TracesArgs) -> Result<TracesResult, QueryError> {
    let window = Window::resolve(t, args.start.as_deref(), args.end.as_deref())?;
    let service = resolve_service(t, args.service.as_deref())?;
    let mut notes = Vec::new();
    let limit = clamp_limit(args.limit, DEFAULT_TRACES, MAX_TRACES, "limit", &mut notes);
    let errors_only = args.errors_only.unwrap_or(false);
    let min_us = args.min_duration_ms.unwrap_or(0.0).max(0.0) * 1000.0;

    let mut matched: Vec<TraceView<'_>> = group_traces(t)
        .into_iter()
        .filter(|v| window.contains(v.root.start_us / 1000))
        .filter(|v| service.is_none_or(|s| v.spans.iter().any(|sp| sp.service == s)))
        .filter(|v| !errors_only || v.spans.iter().any(|s| s.status == SpanStatus::Error))
        .filter(|v| v.root.duration_us as f64 >= min_us)
        .collect();
    matched.sort_by(|a, b| {
        b.root
            .duration_us
            .cmp(&a.root.duration_us)
            .then(a.id.cmp(&b.id))
    });

    let mut durations: Vec<f64> = matched
        .iter()
        .map(|v| v.root.duration_us as f64 / 1000.0)
        .collect();
    durations.sort_by(f64::total_cmp);
    let mut error_spans: BTreeMap<String, usize> = BTreeMap::new();
    for v in &matched {
        for s in v.spans.iter().filter(|s| s.status == SpanStatus::Error) {
            *error_spans
                .entry(t.service_name(s.service).to_owned())
                .or_default() += 1;
        }
    }
    let summary = TracesSummary {
        matched: matched.len(),
        with_errors: matched
            .iter()
            .filter(|v| v.spans.iter().any(|s| s.status == SpanStatus::Error))
            .count(),
        p50_ms: round_sig(percentile(&durations, 0.5)),
        p99_ms: round_sig(percentile(&durations, 0.99)),
        slowest_trace_id: matched.first().map(|v| format!("{:016x}", v.id)),
        error_spans_by_service: error_spans,
    };
    if matched.len() > limit {
        notes.push(format!(
            "showing the {limit} slowest of {} matching traces (at most {MAX_TRACES} per call)",
            matched.len()
        ));
    }
    let mut cut_spans = false;
    let traces = matched
        .iter()
        .take(limit)
        .map(|v| {
            let mut children: HashMap<u64, Vec<&Span>> = HashMap::new();
            for s in &v.spans {
                if let Some(p) = s.parent_id {
                    children.entry(p).or_default().push(s);
                }
            }
            let mut budget = MAX_SPANS_PER_TRACE;
            let root = build_node(t, v.root, &children, &mut budget, 0);
            cut_spans |= v.spans.len() > MAX_SPANS_PER_TRACE;
            TraceResult {
                trace_id: format!("{:016x}", v.id),
                start: wall(t, v.root.start_us / 1000),
                duration_ms: round_sig(v.root.duration_us as f64 / 1000.0),
                error: v.spans.iter().any(|s| s.status == SpanStatus::Error),
                span_count: v.spans.len(),
                root,
            }
        })
        .collect();
    if cut_spans {
        notes.push(format!(
            "traces with more than {MAX_SPANS_PER_TRACE} spans are shown in part"
        ));
    }
    Ok(TracesResult {
        start: wall(t, window.start_ms),
        end: wall(t, window.end_ms),
        summary,
        traces,
        notes,
    })
}
