//! The native format: an incident's own files (`incident.json`, `ground_truth.json`,
//! `telemetry/*`, as an episode directory has them) and one manifest row per incident.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use otrashi_scenarios::{GroundTruth, Incident};

use super::{io, DatasetError};
use crate::telemetry::Telemetry;

/// One root cause, summarized for a manifest row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CauseSummary {
    /// The faulty service.
    pub component: String,
    /// The fault kind (`code.memory_leak`).
    pub fault: String,
    /// Its level.
    pub level: String,
    /// How it arrived (`deploy`, `config`, `direct`).
    pub via: String,
    /// Injection time, seconds from the start of the telemetry.
    pub injected_at_s: f64,
}

/// One incident of a dataset: the manifest row (`incidents.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NativeRow {
    /// The incident's id within the dataset (`inc-00042`).
    pub id: String,
    /// Its position in the dataset, from 0.
    pub index: u64,
    /// The scenario's name.
    pub scenario: String,
    /// The scenario's digest, to check that a regeneration used the same file.
    pub scenario_digest: String,
    /// The seed the incident was sampled and simulated with.
    pub seed: u64,
    /// Seeds drawn before this one and skipped because they gave an incident the
    /// dataset already had.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_seeds: Vec<u64>,
    /// [`super::incident_content_hash`] of the incident.
    pub content_hash: String,
    /// The topology's name.
    pub topology: String,
    /// The root causes.
    pub root_causes: Vec<CauseSummary>,
    /// Files of this incident, by role (`incident`, `ground_truth`, `telemetry`,
    /// `rcaeval`, `chat`), relative to the dataset directory.
    pub paths: BTreeMap<String, String>,
}

impl NativeRow {
    /// The row of an incident; `paths` is filled by the caller, which knows the layout.
    pub fn new(
        id: &str,
        index: u64,
        incident: &Incident,
        truth: &GroundTruth,
        content_hash: String,
    ) -> NativeRow {
        NativeRow {
            id: id.to_owned(),
            index,
            scenario: incident.scenario.clone(),
            scenario_digest: incident.scenario_digest.clone(),
            seed: incident.seed,
            skipped_seeds: Vec::new(),
            content_hash,
            topology: incident.topology.name.clone(),
            root_causes: truth
                .root_causes
                .iter()
                .map(|c| CauseSummary {
                    component: c.component.clone(),
                    fault: c.fault.as_str().to_owned(),
                    level: c.level.as_str().to_owned(),
                    via: c.via.as_str().to_owned(),
                    injected_at_s: c.injected_at.as_secs_f64(),
                })
                .collect(),
            paths: BTreeMap::new(),
        }
    }
}

fn write_compact(
    path: &Path,
    value: &impl Serialize,
    what: &'static str,
) -> Result<(), DatasetError> {
    let mut bytes =
        serde_json::to_vec(value).map_err(|source| DatasetError::Encode { what, source })?;
    bytes.push(b'\n');
    fs::write(path, bytes).map_err(io(path))
}

/// Writes `incident.json` and `ground_truth.json` into `dir` (created if missing), and
/// the `telemetry/` files when `with_telemetry`. The JSON is compact: a dataset holds
/// thousands of these, and readers are programs.
pub fn write_incident_dir(
    dir: &Path,
    incident: &Incident,
    truth: &GroundTruth,
    telemetry: Option<&Telemetry>,
) -> Result<(), DatasetError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    write_compact(&dir.join("incident.json"), incident, "incident")?;
    write_compact(&dir.join("ground_truth.json"), truth, "ground truth")?;
    if let Some(t) = telemetry {
        let tele = dir.join("telemetry");
        fs::create_dir_all(&tele).map_err(io(&tele))?;
        crate::artifacts::write_telemetry_dir_unsynced(&tele, t)?;
    }
    Ok(())
}
