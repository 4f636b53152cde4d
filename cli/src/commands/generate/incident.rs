//! One incident: drawn (sequentially, so that the dataset stays distinct), staged
//! (simulated and written, on any thread), committed (renamed into place, in order).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use anyhow::Context;
use serde_json::json;

use otrashi_clusters::sim;
use otrashi_gym::dataset::{self, chat, native::NativeRow, rcaeval};
use otrashi_scenarios::{sample, GroundTruth};

use super::{Plan, MAX_ATTEMPTS};
use crate::args::DatasetFormat;
use crate::exit::InputError;

/// One incident, drawn but not yet simulated.
pub(super) struct Drawn {
    id: String,
    incident: otrashi_scenarios::Incident,
    row: NativeRow,
    /// `rcaeval/<case>/<run>`, when the format is on.
    rcaeval: Option<String>,
}

/// Draws incident `index`: a seed whose incident the dataset does not have yet.
pub(super) fn draw(
    plan: &Plan,
    index: u64,
    hashes: &mut BTreeSet<String>,
    runs: &mut BTreeMap<String, u32>,
) -> anyhow::Result<Drawn> {
    let n = plan.scenarios.len() as u64;
    let (scenario, _) = &plan.scenarios[usize::try_from(index % n).unwrap_or(0)];
    let mut skipped = Vec::new();
    let (incident, hash) = loop {
        let attempt = skipped.len() as u64;
        if attempt >= MAX_ATTEMPTS {
            return Err(InputError(format!(
                "scenario `{}` gave no new incident in {MAX_ATTEMPTS} draws: it has too few random choices for --count {}",
                scenario.metadata.name, plan.count
            ))
            .into());
        }
        let seed = dataset::derive_seed(plan.seed, index, attempt);
        let incident = sample(scenario, seed)
            .with_context(|| format!("cannot sample `{}`", scenario.metadata.name))?;
        let hash = dataset::incident_content_hash(&incident);
        if hashes.insert(hash.clone()) {
            break (incident, hash);
        }
        skipped.push(seed);
    };
    let truth = GroundTruth::derive(&incident);
    let id = format!("inc-{index:05}");
    let mut row = NativeRow::new(&id, index, &incident, &truth, hash);
    row.skipped_seeds = skipped;
    let rcaeval = if plan.formats.contains(&DatasetFormat::Rcaeval) {
        rcaeval::case_name(&truth).map(|case| {
            let run = runs.entry(case.clone()).or_default();
            *run += 1;
            format!("rcaeval/{case}/{run}")
        })
    } else {
        None
    };
    Ok(Drawn {
        id,
        incident,
        row,
        rcaeval,
    })
}

/// Simulates a drawn incident and writes its files under `staging/<id>/`; returns its
/// row with the final paths.
pub(super) fn stage(plan: &Plan, staging: &Path, drawn: Drawn) -> anyhow::Result<NativeRow> {
    let Drawn {
        id,
        incident,
        mut row,
        rcaeval: rcaeval_rel,
    } = drawn;
    let truth = GroundTruth::derive(&incident);
    let telemetry = sim::simulate(&incident);
    let stage = staging.join(&id);
    let _ = fs::remove_dir_all(&stage);
    let stage_incident = stage.join("incident");
    let with_telemetry = plan.formats.contains(&DatasetFormat::Native);
    dataset::native::write_incident_dir(
        &stage_incident,
        &incident,
        &truth,
        with_telemetry.then_some(&telemetry),
    )?;
    let incident_rel = format!("incidents/{id}");
    row.paths.insert("incident".into(), incident_rel.clone());
    if with_telemetry {
        row.paths
            .insert("telemetry".into(), format!("{incident_rel}/telemetry"));
    }
    if plan.formats.contains(&DatasetFormat::Chat) {
        let chat = chat::chat_row(&incident, &truth, &telemetry, json!({"id": id}));
        let mut line = serde_json::to_vec(&chat.row)?;
        line.push(b'\n');
        let path = stage_incident.join("chat.json");
        fs::write(&path, line).with_context(|| format!("cannot write {}", path.display()))?;
        row.paths
            .insert("chat".into(), format!("{incident_rel}/chat.json"));
    }
    if let Some(rel) = rcaeval_rel {
        rcaeval::write_run_dir(&stage.join("rcaeval"), &telemetry, &truth)?;
        row.paths.insert("rcaeval".into(), rel);
    }
    Ok(row)
}

/// Moves a staged incident into place. The row is appended by the caller, after.
pub(super) fn commit(out: &Path, staging: &Path, row: &NativeRow) -> anyhow::Result<()> {
    let stage = staging.join(&row.id);
    if let Some(rel) = row.paths.get("rcaeval") {
        let target = out.join(rel);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let _ = fs::remove_dir_all(&target);
        fs::rename(stage.join("rcaeval"), &target)
            .with_context(|| format!("cannot move the run into {}", target.display()))?;
    }
    let target = out.join(format!("incidents/{}", row.id));
    let _ = fs::remove_dir_all(&target);
    fs::rename(stage.join("incident"), &target)
        .with_context(|| format!("cannot move the incident into {}", target.display()))?;
    let _ = fs::remove_dir_all(&stage);
    Ok(())
}
