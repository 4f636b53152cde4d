//! The published JSON Schema of the RCA report (v1).
//!
//! Language models read the descriptions when they fill a report in, so every field has
//! one that says what a good value looks like. The schema describes the canonical form;
//! [`super::parse_report`] also accepts the loose forms listed in its docs.

use otrashi_scenarios::catalog::{FaultKind, Level};
use serde_json::{json, Value};

/// The evidence kinds a citation can have, one per telemetry modality.
pub const EVIDENCE_KINDS: [&str; 5] = ["metric", "log", "trace", "event", "deploy"];

/// The JSON Schema (draft 2020-12) of an RCA report, v1.
pub fn report_schema() -> Value {
    let mut faults: Vec<&str> = FaultKind::ALL.iter().map(|k| k.as_str()).collect();
    faults.extend(FaultKind::ALL.iter().map(|k| k.short_name()));
    let levels: Vec<&str> = Level::ALL.iter().map(|l| l.as_str()).collect();

    let evidence = json!({
        "type": "object",
        "description": "One signal you observed with the tools that supports this root cause. Cite only what you saw: citations that do not exist in the telemetry lower the score.",
        "required": ["kind", "signal"],
        "additionalProperties": false,
        "properties": {
            "kind": {
                "enum": EVIDENCE_KINDS,
                "description": "The telemetry modality: `metric` (query_metrics), `log` (search_logs), `trace` (get_traces), `event` (get_events), `deploy` (get_deploys / get_code_diff)."
            },
            "service": {
                "type": "string",
                "description": "The service the signal was observed on, exactly as list_services names it. Defaults to the root cause's component."
            },
            "signal": {
                "type": "string",
                "description": "What to look up: a metric name (`container_memory_working_set_bytes`), a log excerpt or template (`OutOfMemoryError`), a trace id, or `error` / `slow` for a trace pattern, an event reason (`OOMKilled`), a deploy id (`deploy-7f3a9c1`)."
            },
            "note": {
                "type": "string",
                "description": "What the signal shows (`working set grows 40 MB/min until the OOM kill`)."
            }
        }
    });

    let root_cause = json!({
        "type": "object",
        "description": "One candidate root cause: the component where the fault is, not a component that merely shows symptoms.",
        "required": ["component"],
        "additionalProperties": false,
        "properties": {
            "component": {
                "type": "string",
                "description": "The faulty service, exactly as list_services names it. Naming services that do not exist is penalized; more than two such names score zero."
            },
            "fault": {
                "enum": faults,
                "description": "The fault kind from the catalog, as `<level>.<fault>` (`code.memory_leak`) or its short name (`memory_leak`)."
            },
            "level": {
                "enum": levels,
                "description": "The layer of the stack: `infra` (machines, disks, networks), `orchestration` (deployments, probes, limits, scaling, configuration), `code` (the service's own code). Implied by `fault` when omitted."
            },
            "confidence": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "Your probability that this component is a root cause, in [0, 1]. Scored for calibration: 0.9 on a wrong answer costs more than 0.3 on the same wrong answer."
            },
            "evidence": {
                "type": "array",
                "items": evidence,
                "description": "The signals that support this cause, most telling first. Scored: they must exist and point at the incident."
            },
            "explanation": {
                "type": "string",
                "description": "Why this is the cause: the chain from the fault to the alert, in a few sentences."
            }
        }
    });

    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/otrashi/otrashi/blob/main/docs/rca-report.schema.json",
        "title": "otrashi RCA report v1",
        "description": "The root-cause analysis an agent submits at the end of an investigation, with submit_report.",
        "type": "object",
        "required": ["root_causes"],
        "additionalProperties": false,
        "properties": {
            "root_causes": {
                "type": "array",
                "minItems": 1,
                "items": root_cause,
                "description": "Candidate root causes, most likely first. Name as few as you can: the first correct rank is scored, and listing many (or most of the system) is penalized."
            },
            "affected": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Services that show symptoms (errors, latency) because of the root causes, as list_services names them."
            },
            "remediation": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Steps to mitigate and fix, in order (`roll back deploy-7f3a9c1 of cart`)."
            },
            "summary": {
                "type": "string",
                "description": "One paragraph on what happened, for the incident channel."
            }
        },
        "examples": [example()]
    })
}

/// A canonical report, shown in the schema: the parser reads it without a warning.
pub(super) fn example() -> Value {
    json!({
        "root_causes": [{
            "component": "cart",
            "fault": "code.memory_leak",
            "level": "code",
            "confidence": 0.85,
            "evidence": [
                {"kind": "deploy", "service": "cart", "signal": "deploy-7f3a9c1",
                 "note": "shipped 2 minutes before memory started to grow"},
                {"kind": "metric", "service": "cart", "signal": "process_resident_memory_bytes",
                 "note": "grows about 40 MB/min after the deploy"},
                {"kind": "event", "service": "cart", "signal": "OOMKilled",
                 "note": "the container was killed at its memory limit"}
            ],
            "explanation": "The deploy added an unbounded in-memory session cache; cart runs out of memory, restarts, and its callers see 503s."
        }],
        "affected": ["checkout", "frontend"],
        "remediation": ["Roll back deploy-7f3a9c1 of cart", "Bound the session cache"],
        "summary": "A memory leak shipped to cart made it crash repeatedly; checkout and frontend returned errors."
    })
}
