//! The argument schema of `submit_report`: the RCA report (v1).
//!
//! The published schema belongs to `report::report_schema`, written in parallel with
//! this module; until the two meet, this is the same shape written from the
//! [`crate::report::RcaReport`] types. When `report::report_schema` lands, the body of
//! [`report_parameters`] becomes a call to it.

use serde_json::{json, Value};

use otrashi_scenarios::{FaultKind, Level};

/// JSON Schema of the report an agent submits.
pub fn report_parameters() -> Value {
    let kinds: Vec<&str> = FaultKind::ALL.iter().map(|k| k.as_str()).collect();
    let levels: Vec<&str> = Level::ALL.iter().map(|l| l.as_str()).collect();
    json!({
        "type": "object",
        "properties": {
            "root_causes": {
                "type": "array",
                "description": "Candidate root causes, most likely first.",
                "items": {
                    "type": "object",
                    "properties": {
                        "component": {"type": "string", "description": "The service at fault, as list_services names it."},
                        "fault": {"type": "string", "enum": kinds, "description": "What went wrong, as `<level>.<kind>`."},
                        "level": {"type": "string", "enum": levels, "description": "The layer: infra, orchestration or code."},
                        "confidence": {"type": "number", "minimum": 0, "maximum": 1, "description": "Probability that this cause is right."},
                        "evidence": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "kind": {"type": "string", "enum": ["metric", "log", "trace", "event", "deploy"]},
                                    "service": {"type": "string"},
                                    "signal": {"type": "string", "description": "A metric name, log pattern, trace id, event reason or deploy id."},
                                    "note": {"type": "string", "description": "What it shows."}
                                },
                                "required": ["kind", "signal"]
                            }
                        },
                        "explanation": {"type": "string"}
                    },
                    "required": ["component"]
                }
            },
            "affected": {"type": "array", "items": {"type": "string"}, "description": "Services harmed as a consequence."},
            "remediation": {"type": "array", "items": {"type": "string"}},
            "summary": {"type": "string", "description": "One paragraph on what happened."}
        },
        "required": ["root_causes"]
    })
}
