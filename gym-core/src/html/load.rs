//! Reading an episode directory back for rendering.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use otrashi_scenarios::GroundTruth;

/// Why an episode directory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not the JSON it should be.
    #[error("{} is not valid (line {line})", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// The line, for JSONL files (1 for JSON files).
        line: usize,
        /// The decoder's error.
        #[source]
        source: serde_json::Error,
    },
}

/// One row of `telemetry/metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MetricRow {
    /// The metric name.
    pub name: String,
    /// The service it was scraped from.
    pub service: String,
    /// Its labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `counter` or `gauge`.
    pub kind: String,
    /// The unit.
    #[serde(default)]
    pub unit: String,
    /// First sample, ms.
    pub start_ms: u64,
    /// Step, ms.
    pub step_ms: u64,
    /// Samples; `None` where the scrape failed.
    pub values: Vec<Option<f64>>,
}

/// An episode as its directory holds it.
#[derive(Debug, Clone)]
pub struct Episode {
    /// The directory's name, as a title.
    pub name: String,
    /// `ground_truth.json`.
    pub truth: GroundTruth,
    /// `report.json` (`null` when the agent submitted none).
    pub report: Value,
    /// `score.json`.
    pub score: Value,
    /// `trajectory.jsonl`.
    pub trajectory: Vec<Value>,
    /// `telemetry/alert.json`.
    pub alert: Value,
    /// `telemetry/metrics.jsonl`.
    pub metrics: Vec<MetricRow>,
    /// `telemetry/events.jsonl`.
    pub events: Vec<Value>,
    /// `telemetry/deploys.jsonl`.
    pub deploys: Vec<Value>,
}

fn read(path: &Path) -> Result<String, HtmlError> {
    fs::read_to_string(path).map_err(|source| HtmlError::Io {
        path: path.to_owned(),
        source,
    })
}

fn json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, HtmlError> {
    serde_json::from_str(&read(path)?).map_err(|source| HtmlError::Decode {
        path: path.to_owned(),
        line: 1,
        source,
    })
}

fn jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, HtmlError> {
    read(path)?
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|source| HtmlError::Decode {
                path: path.to_owned(),
                line: i + 1,
                source,
            })
        })
        .collect()
}

/// Reads an episode directory. The truth, score and metrics are required; a missing
/// trajectory, report, events or deploys file reads as empty.
pub fn load_episode_dir(dir: &Path) -> Result<Episode, HtmlError> {
    let optional = |name: &str| -> Result<Vec<Value>, HtmlError> {
        let p = dir.join(name);
        if p.exists() {
            jsonl(&p)
        } else {
            Ok(Vec::new())
        }
    };
    let report_path = dir.join("report.json");
    Ok(Episode {
        name: dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        truth: json(&dir.join("ground_truth.json"))?,
        report: if report_path.exists() {
            json(&report_path)?
        } else {
            Value::Null
        },
        score: json(&dir.join("score.json"))?,
        trajectory: optional("trajectory.jsonl")?,
        alert: json(&dir.join("telemetry/alert.json"))?,
        metrics: jsonl(&dir.join("telemetry/metrics.jsonl"))?,
        events: optional("telemetry/events.jsonl")?,
        deploys: optional("telemetry/deploys.jsonl")?,
    })
}
