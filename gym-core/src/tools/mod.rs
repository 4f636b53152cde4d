//! The agent's fixed tool set: names, descriptions, JSON Schemas for the arguments, and
//! the dispatch of one call against an episode's telemetry.
//!
//! The same tools on every backend, so that an agent trained on the simulator is
//! evaluated on Docker or Kubernetes without change. Nothing reachable through them
//! says what the gym did to the system: they read telemetry, as an engineer on call
//! would.

pub mod action;
mod report_schema;
pub mod validate;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use otrashi_scenarios::Topology;

use crate::query::{self, QueryError};
use crate::telemetry::Telemetry;

pub use action::{Action, ActionError};
pub use report_schema::report_parameters;

/// The tool that ends an episode.
pub const SUBMIT_REPORT: &str = "submit_report";

/// Every tool name, in the order they are presented.
pub const TOOL_NAMES: [&str; 8] = [
    "list_services",
    "query_metrics",
    "search_logs",
    "get_traces",
    "get_events",
    "get_deploys",
    "get_code_diff",
    SUBMIT_REPORT,
];

/// One tool as an agent is told about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Its name.
    pub name: String,
    /// What it does and how to use it.
    pub description: String,
    /// JSON Schema of its arguments (an object schema).
    pub parameters: Value,
}

impl ToolSpec {
    /// The first sentence of the description, for a short tool list.
    pub fn summary(&self) -> &str {
        self.description
            .split_once(". ")
            .map_or(self.description.as_str(), |(first, _)| first)
    }
}

const TIME_START: &str = "Window start: an RFC 3339 UTC time (2026-01-01T12:00:00Z), `now`, or an offset back from now such as `-15m`. Default: the start of the telemetry.";
const TIME_END: &str =
    "Window end, in the same forms as `start`. Default: now (the end of the telemetry).";

fn time_props() -> (Value, Value) {
    (
        json!({"type": "string", "description": TIME_START}),
        json!({"type": "string", "description": TIME_END}),
    )
}

fn description(name: &str) -> &'static str {
    match name {
        "list_services" => "List the services of the system: kind, runtime, replicas, which services each one calls and is called by. A service catalog, the same before and during the incident.",
        "query_metrics" => "Query metric time series. Counters (names ending in _total) are returned as per-second rates, gauges as they are; null means no data (a failed scrape). Each series has at most 60 points and a min/max/mean/last summary; at most 24 series per call. When no metric matches, the metrics that exist are listed.",
        "search_logs" => "Search log lines. Lines are grouped by template (variable parts shown as <*>) with a count, first and last time, the services that wrote them and one example, so a line repeated thousands of times costs one entry. At most 30 groups per call.",
        "get_traces" => "Get sampled request traces as span trees (service, operation, duration, status, HTTP status, error message), slowest first, with a summary over all matching traces (count, errors, p50/p99, failed spans per service). At most 20 traces per call.",
        "get_events" => "Get orchestrator events (container restarts, OOM kills, back-offs, probe failures, scaling, configuration changes, deletions), earliest first; identical repeats are folded into one entry with a count.",
        "get_deploys" => "List deploys: id, time, service, versions, author, title and files changed. Use get_code_diff to read the change a deploy shipped.",
        "get_code_diff" => "Get the unified diff a deploy shipped, by deploy id (or commit hash). Long diffs are cut with a note.",
        SUBMIT_REPORT => "Submit your root-cause analysis report. This ends the investigation and the report is scored. List the most likely root cause first, with the component, what went wrong, the level, your confidence (0 to 1), and the evidence you saw.",
        _ => "",
    }
}

fn parameters(name: &str) -> Value {
    let (start, end) = time_props();
    let service = |what: &str| json!({"type": "string", "description": what});
    match name {
        "list_services" => {
            json!({"type": "object", "properties": {}, "additionalProperties": false})
        }
        "query_metrics" => json!({
            "type": "object",
            "properties": {
                "metric": {"type": "string", "description": "A metric name (http_requests_total), a glob (container_*), or a fragment (memory) matched as a substring."},
                "service": service("Only series scraped from this service. Default: every service."),
                "labels": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Only series whose labels have these values; `*` globs are allowed in values, e.g. {\"code\": \"5*\"}."},
                "start": start,
                "end": end,
                "step": {"type": "string", "description": "Resolution such as `30s` or `1m`; made coarser if it would exceed 60 points."},
                "limit": {"type": "integer", "minimum": 1, "description": "Most series to return (default 12, at most 24)."}
            },
            "required": ["metric"],
            "additionalProperties": false
        }),
        "search_logs" => json!({
            "type": "object",
            "properties": {
                "service": service("Only lines from this service."),
                "query": {"type": "string", "description": "Words that must all appear in the line, case-insensitive; \"double quotes\" keep a phrase together."},
                "level": {"type": "string", "enum": ["DEBUG", "INFO", "WARN", "ERROR", "FATAL"], "description": "Minimum level."},
                "start": start,
                "end": end,
                "limit": {"type": "integer", "minimum": 1, "description": "Most groups to return (default 20, at most 30)."},
                "sort": {"type": "string", "enum": ["severity", "count", "time"], "description": "Order of the groups: most severe first (default), most frequent first, or earliest first."}
            },
            "additionalProperties": false
        }),
        "get_traces" => json!({
            "type": "object",
            "properties": {
                "service": service("Only traces that pass through this service."),
                "errors_only": {"type": "boolean", "description": "Only traces with a failed span."},
                "min_duration_ms": {"type": "number", "minimum": 0, "description": "Only traces at least this long end to end, in ms."},
                "start": start,
                "end": end,
                "limit": {"type": "integer", "minimum": 1, "description": "Most traces to return, slowest first (default 5, at most 20)."}
            },
            "additionalProperties": false
        }),
        "get_events" => json!({
            "type": "object",
            "properties": {
                "service": service("Only events about this service."),
                "start": start,
                "end": end,
                "type": {"type": "string", "enum": ["Normal", "Warning"], "description": "Only events of this type."},
                "limit": {"type": "integer", "minimum": 1, "description": "Most entries to return (default 40, at most 60)."}
            },
            "additionalProperties": false
        }),
        "get_deploys" => json!({
            "type": "object",
            "properties": {
                "service": service("Only deploys of this service."),
                "start": start,
                "end": end
            },
            "additionalProperties": false
        }),
        "get_code_diff" => json!({
            "type": "object",
            "properties": {
                "deploy_id": {"type": "string", "description": "The deploy id from get_deploys (or its commit hash)."}
            },
            "required": ["deploy_id"],
            "additionalProperties": false
        }),
        SUBMIT_REPORT => report_parameters(),
        _ => json!({"type": "object"}),
    }
}

/// The tool set, with descriptions and argument schemas.
pub fn tool_specs() -> Vec<ToolSpec> {
    TOOL_NAMES
        .iter()
        .map(|name| ToolSpec {
            name: (*name).to_owned(),
            description: description(name).to_owned(),
            parameters: parameters(name),
        })
        .collect()
}

/// The tool set in the OpenAI function-calling format that LLM trainers and serving
/// stacks accept: `[{"type": "function", "function": {"name", "description",
/// "parameters"}}]`.
pub fn function_calling_json() -> Value {
    Value::Array(
        tool_specs()
            .into_iter()
            .map(|t| {
                json!({
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    }
                })
            })
            .collect(),
    )
}

/// What one tool call produced.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolOutput {
    /// The tool's answer.
    Answer(Value),
    /// The call was malformed or could not be answered; the message says how to fix it.
    Invalid(String),
    /// A report was submitted (the raw report object, not yet parsed).
    Submit(Value),
}

/// Resolves a tool name leniently (case, a `functions.` prefix), or explains.
pub fn resolve_tool(name: &str) -> Result<&'static str, String> {
    let trimmed = name.trim();
    let plain = trimmed
        .strip_prefix("functions.")
        .unwrap_or(trimmed)
        .to_ascii_lowercase();
    if let Some(t) = TOOL_NAMES.iter().find(|t| **t == plain) {
        return Ok(t);
    }
    let hint = otrashi_scenarios::catalog::closest(&plain, TOOL_NAMES.iter().copied())
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default();
    Err(format!(
        "unknown tool `{trimmed}`{hint}; the tools are: {}",
        TOOL_NAMES.join(", ")
    ))
}

fn run<A, R, F>(args: Value, f: F) -> ToolOutput
where
    A: serde::de::DeserializeOwned,
    R: Serialize,
    F: FnOnce(&A) -> Result<R, QueryError>,
{
    let parsed: A = match serde_json::from_value(args) {
        Ok(a) => a,
        Err(e) => return ToolOutput::Invalid(format!("args: {e}")),
    };
    match f(&parsed) {
        Ok(r) => match serde_json::to_value(r) {
            Ok(v) => ToolOutput::Answer(v),
            Err(e) => ToolOutput::Invalid(format!("the result could not be encoded: {e}")),
        },
        Err(e) => ToolOutput::Invalid(e.to_string()),
    }
}

/// Runs one tool call against an episode's telemetry. Never panics on bad input: every
/// problem becomes [`ToolOutput::Invalid`] with a message for the agent.
pub fn dispatch(action: &Action, telemetry: &Telemetry, topology: &Topology) -> ToolOutput {
    let tool = match resolve_tool(&action.tool) {
        Ok(t) => t,
        Err(msg) => return ToolOutput::Invalid(msg),
    };
    if tool == SUBMIT_REPORT {
        return match validate::decode_args(&action.args) {
            Ok(mut m) => {
                // Accept a report wrapped as {"report": {...}} too.
                if m.len() == 1 {
                    if let Some(Value::Object(inner)) = m.get("report") {
                        m = inner.clone();
                    }
                }
                ToolOutput::Submit(Value::Object(m))
            }
            Err(msg) => ToolOutput::Invalid(msg),
        };
    }
    let args = match validate::check_args(&parameters(tool), &action.args) {
        Ok(a) => a,
        Err(msg) => return ToolOutput::Invalid(msg),
    };
    match tool {
        "list_services" => match serde_json::to_value(query::list_services(topology)) {
            Ok(v) => ToolOutput::Answer(v),
            Err(e) => ToolOutput::Invalid(format!("the result could not be encoded: {e}")),
        },
        "query_metrics" => run(args, |a| query::query_metrics(telemetry, a)),
        "search_logs" => run(args, |a| query::search_logs(telemetry, a)),
        "get_traces" => run(args, |a| query::get_traces(telemetry, a)),
        "get_events" => run(args, |a| query::get_events(telemetry, a)),
        "get_deploys" => run(args, |a| query::get_deploys(telemetry, a)),
        "get_code_diff" => {
            #[derive(Deserialize)]
            struct DiffArgs {
                deploy_id: String,
            }
            run(args, |a: &DiffArgs| {
                query::get_code_diff(telemetry, &a.deploy_id)
            })
        }
        other => ToolOutput::Invalid(format!("tool `{other}` has no implementation")),
    }
}

#[cfg(test)]
mod tests;
