//! The RCA report (v1): what an agent submits at the end of an investigation.
//!
//! Contract for the scorer and the tools: see [`parse_report`] and the types below. The
//! published JSON Schema is [`report_schema`] (also in `docs/rca-report.schema.json`).
//!
//! Agents are often language models, so parsing is lenient where the intent is clear (a
//! report inside prose, `"80%"` for a confidence, `memory leak` for a fault kind) and
//! every leniency is returned as a warning; it is precise where it is not (a missing
//! component, a wrong type), naming the JSON path.

mod evidence;
mod fields;
mod normalize;
mod parse;
mod schema;
#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests;

pub use normalize::{normalize_evidence_kind, normalize_fault, normalize_level, FaultName};
pub use parse::{parse_report, parse_report_str, ReportError, MAX_REPORT_BYTES};
pub use schema::{report_schema, EVIDENCE_KINDS};

use serde::{Deserialize, Serialize};

/// An RCA report, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RcaReport {
    /// Candidate root causes, most likely first.
    pub root_causes: Vec<RootCause>,
    /// Components the agent believes are affected (symptoms, not causes).
    #[serde(default)]
    pub affected: Vec<String>,
    /// Suggested remediation steps.
    #[serde(default)]
    pub remediation: Vec<String>,
    /// One paragraph on what happened.
    #[serde(default)]
    pub summary: String,
}

/// One candidate root cause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RootCause {
    /// The faulty component (a service name).
    pub component: String,
    /// The fault kind, as in the catalog (`code.memory_leak` or `memory_leak`); free text
    /// is kept and scored as unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// The level (`infra`, `orchestration`, `code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Stated probability that this cause is right, in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// Signals that support it.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// Why.
    #[serde(default)]
    pub explanation: String,
}

/// A cited signal: which modality, which service, and which signal in it.
///
/// Absent optional fields are left out when serialized (rather than written as `null`),
/// so a serialized report is valid against [`report_schema`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Evidence {
    /// `metric`, `log`, `trace`, `event` or `deploy`.
    pub kind: String,
    /// The service the signal was observed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The signal: a metric name, a log pattern or excerpt, a trace id, an event reason,
    /// a deploy id.
    pub signal: String,
    /// What it shows.
    #[serde(default)]
    pub note: String,
}
