//! Resuming: what an earlier run left, what is kept, and the manifest that records
//! which arguments made the dataset.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{json, Value};

use otrashi_gym::dataset::native::NativeRow;

use super::{Plan, MANIFEST_FORMAT};
use crate::args::DatasetFormat;
use crate::exit::InputError;

/// Writes a file through a temporary name.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Reads the complete rows of an earlier run: a torn last line, rows out of order and
/// rows whose files are gone end the prefix that is kept.
pub(super) fn existing_rows(out: &Path) -> anyhow::Result<Vec<NativeRow>> {
    let path = out.join("incidents.jsonl");
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut rows = Vec::new();
    for line in text.split_inclusive('\n') {
        if !line.ends_with('\n') {
            break;
        }
        let Ok(row) = serde_json::from_str::<NativeRow>(line) else {
            break;
        };
        let complete =
            row.index == rows.len() as u64 && row.paths.values().all(|p| out.join(p).exists());
        if !complete {
            break;
        }
        rows.push(row);
    }
    Ok(rows)
}

pub(super) fn row_line(row: &NativeRow) -> anyhow::Result<String> {
    Ok(format!("{}\n", serde_json::to_string(row)?))
}

/// Removes what an interrupted run left behind: the staging area, incident and RCAEval
/// directories no kept row names, and the rows after the kept prefix.
pub(super) fn sweep(out: &Path, rows: &[NativeRow]) -> anyhow::Result<()> {
    let _ = fs::remove_dir_all(out.join(".staging"));
    let named: BTreeSet<PathBuf> = rows
        .iter()
        .flat_map(|r| r.paths.values().map(|p| out.join(p)))
        .collect();
    let incidents = out.join("incidents");
    for entry in fs::read_dir(&incidents).into_iter().flatten().flatten() {
        if !named.contains(&entry.path()) {
            fs::remove_dir_all(entry.path())
                .with_context(|| format!("cannot remove {}", entry.path().display()))?;
        }
    }
    for case in fs::read_dir(out.join("rcaeval"))
        .into_iter()
        .flatten()
        .flatten()
    {
        for run in fs::read_dir(case.path()).into_iter().flatten().flatten() {
            if !named.contains(&run.path()) {
                fs::remove_dir_all(run.path())
                    .with_context(|| format!("cannot remove {}", run.path().display()))?;
            }
        }
    }
    let mut text = String::new();
    for row in rows {
        text.push_str(&row_line(row)?);
    }
    write_atomic(&out.join("incidents.jsonl"), text.as_bytes())
}

/// Checks that `out` holds this dataset (or nothing), so a resume never mixes two.
pub(super) fn check_manifest(out: &Path, params: &Value) -> anyhow::Result<()> {
    let path = out.join("manifest.json");
    let Ok(text) = fs::read_to_string(&path) else {
        return Ok(());
    };
    let old: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    if old.get("params") != Some(params) {
        return Err(InputError(format!(
            "{} holds a dataset generated with other arguments (seed, scenarios or formats); use another --out",
            out.display()
        ))
        .into());
    }
    Ok(())
}

pub(super) fn write_manifest(
    out: &Path,
    plan: &Plan,
    params: &Value,
    rows: &[NativeRow],
) -> anyhow::Result<()> {
    let manifest = json!({
        "format": MANIFEST_FORMAT,
        "otrashi_version": env!("CARGO_PKG_VERSION"),
        "params": params,
        "count": plan.count,
        "complete": rows.len() as u64 >= plan.count,
        "files": {
            "incidents": "incidents.jsonl",
            "chat": plan.formats.contains(&DatasetFormat::Chat).then_some("chat.jsonl"),
            "rcaeval": plan.formats.contains(&DatasetFormat::Rcaeval).then_some("rcaeval"),
        },
        "incidents": rows.iter().map(|r| json!({
            "id": r.id, "scenario": r.scenario, "scenario_digest": r.scenario_digest,
            "seed": r.seed, "skipped_seeds": r.skipped_seeds, "content_hash": r.content_hash,
        })).collect::<Vec<_>>(),
    });
    write_atomic(
        &out.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )
}
