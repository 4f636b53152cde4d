//! `otrashi generate --stats DIR`: what a dataset holds, and a check that no two of its
//! incidents are the same.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;

use otrashi_gym::dataset::{incident_content_hash, native::NativeRow};
use otrashi_scenarios::Incident;

use crate::exit::{InputError, CHECK_FAILED};

/// The statistics of a dataset.
#[derive(Debug, Serialize)]
pub struct Stats {
    /// Incidents in the dataset.
    pub incidents: usize,
    /// Root causes per fault kind.
    pub fault: BTreeMap<String, usize>,
    /// Root causes per level.
    pub level: BTreeMap<String, usize>,
    /// Root causes per target service.
    pub target: BTreeMap<String, usize>,
    /// Incidents per topology.
    pub topology: BTreeMap<String, usize>,
    /// Incidents per scenario.
    pub scenario: BTreeMap<String, usize>,
    /// Groups of incident ids whose incident JSON (seed aside) is the same.
    pub duplicates: Vec<Vec<String>>,
}

/// Reads a dataset and counts. The content hash is recomputed from each
/// `incident.json`, not trusted from the manifest.
pub fn collect(dir: &Path) -> anyhow::Result<Stats> {
    let path = dir.join("incidents.jsonl");
    let text = fs::read_to_string(&path).map_err(|e| {
        InputError(format!(
            "{} is not a dataset: cannot read {}: {e}",
            dir.display(),
            path.display()
        ))
    })?;
    let mut stats = Stats {
        incidents: 0,
        fault: BTreeMap::new(),
        level: BTreeMap::new(),
        target: BTreeMap::new(),
        topology: BTreeMap::new(),
        scenario: BTreeMap::new(),
        duplicates: Vec::new(),
    };
    let mut by_hash: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let row: NativeRow = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not an incident row", path.display(), n + 1))?;
        stats.incidents += 1;
        for c in &row.root_causes {
            *stats.fault.entry(c.fault.clone()).or_default() += 1;
            *stats.level.entry(c.level.clone()).or_default() += 1;
            *stats.target.entry(c.component.clone()).or_default() += 1;
        }
        *stats.topology.entry(row.topology.clone()).or_default() += 1;
        *stats.scenario.entry(row.scenario.clone()).or_default() += 1;
        let hash = match row.paths.get("incident") {
            Some(rel) => {
                let file = dir.join(rel).join("incident.json");
                let text = fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?;
                let incident: Incident = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not an incident", file.display()))?;
                incident_content_hash(&incident)
            }
            None => row.content_hash.clone(),
        };
        by_hash.entry(hash).or_default().push(row.id.clone());
    }
    stats.duplicates = by_hash.into_values().filter(|ids| ids.len() > 1).collect();
    Ok(stats)
}

fn table(title: &str, counts: &BTreeMap<String, usize>) {
    outln!("{title}");
    let width = counts.keys().map(String::len).max().unwrap_or(0).max(8);
    let mut rows: Vec<(&String, &usize)> = counts.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    for (name, n) in rows {
        outln!("  {name:<width$}  {n:>6}");
    }
    outln!();
}

/// Prints the statistics; exits 1 when two incidents are the same.
pub fn run(dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let stats = collect(dir)?;
    if json {
        crate::commands::print_json(&stats)?;
    } else {
        outln!("{} incidents in {}\n", stats.incidents, dir.display());
        table("fault kind", &stats.fault);
        table("level", &stats.level);
        table("target", &stats.target);
        table("topology", &stats.topology);
        if stats.duplicates.is_empty() {
            outln!("distinct: yes (no two incidents share a content hash)");
        } else {
            outln!("distinct: NO — identical incidents:");
            for ids in &stats.duplicates {
                outln!("  {}", ids.join(", "));
            }
        }
    }
    Ok(if stats.duplicates.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(CHECK_FAILED)
    })
}
