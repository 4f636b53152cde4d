//! `otrashi generate`: a synthetic incident dataset, written so that the same arguments
//! give byte-identical files and an interrupted run resumes where it stopped.
//!
//! ```text
//! DIR/manifest.json              how to regenerate: version, seeds, scenario digests, formats
//! DIR/incidents.jsonl            one row per incident (native format), appended as each lands
//! DIR/incidents/<id>/            incident.json, ground_truth.json, telemetry/ (native), chat.json
//! DIR/rcaeval/<svc>_<fault>/<run>/  data.csv, inject_time.txt, ground_truth.json (rcaeval)
//! DIR/chat.jsonl                 every chat.json, in incident order (chat)
//! ```
//! Each incident is staged under `DIR/.staging/` and renamed into place; its row is
//! appended only after, so a row always names complete files. On a re-run, rows whose
//! directory exists are kept and everything else is regenerated.

mod stats;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use otrashi_clusters::sim;
use otrashi_gym::dataset::{self, chat, native::NativeRow, rcaeval};
use otrashi_scenarios::{sample, GroundTruth, Scenario};

use crate::args::{DatasetFormat, GenerateArgs};
use crate::exit::InputError;
use crate::resolve;

/// Draws per incident before giving up on finding one the dataset does not have yet.
const MAX_ATTEMPTS: u64 = 64;
/// The `format` marker of `manifest.json`.
const MANIFEST_FORMAT: &str = "otrashi-dataset/v1";

/// What to generate.
pub struct Plan {
    /// The scenarios with where they came from, in the order incidents cycle through them.
    pub scenarios: Vec<(Scenario, String)>,
    /// How many incidents.
    pub count: u64,
    /// The dataset's seed.
    pub seed: u64,
    /// The formats, sorted and deduplicated.
    pub formats: BTreeSet<DatasetFormat>,
    /// Threads that simulate and write (the output does not depend on it).
    pub jobs: usize,
}

/// What a run did.
pub struct Outcome {
    /// Incidents already complete and kept.
    pub kept: u64,
    /// Incidents written by this run.
    pub written: u64,
}

pub fn run(args: &GenerateArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.stats {
        return stats::run(dir, args.json);
    }
    let Some(out) = &args.out else {
        return Err(InputError("--out DIR is required".into()).into());
    };
    let names = if args.all {
        resolve::all_bundled()
    } else {
        args.scenarios.clone()
    };
    if names.is_empty() {
        return Err(
            InputError("name scenario files or bundled scenarios, or pass --all".into()).into(),
        );
    }
    let scenarios = names
        .iter()
        .map(|n| resolve::scenario(n).map(|r| (r.scenario, r.origin)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let plan = Plan {
        scenarios,
        count: args.count,
        seed: args.seed,
        formats: args.format.iter().copied().collect(),
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)),
    };
    let bar = ProgressBar::new(plan.count);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} incidents  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let outcome = generate(&plan, out, &bar)?;
    bar.finish_and_clear();
    eprintln!(
        "{} incidents in {} ({} kept from an earlier run, {} written)",
        outcome.kept + outcome.written,
        out.display(),
        outcome.kept,
        outcome.written
    );
    Ok(ExitCode::SUCCESS)
}

fn format_name(f: DatasetFormat) -> &'static str {
    match f {
        DatasetFormat::Native => "native",
        DatasetFormat::Rcaeval => "rcaeval",
        DatasetFormat::Chat => "chat",
    }
}

/// The parameters that decide every byte of a dataset (the count only extends it).
fn params(plan: &Plan) -> Value {
    json!({
        "seed": plan.seed,
        "backend": "sim",
        "formats": plan.formats.iter().map(|f| format_name(*f)).collect::<Vec<_>>(),
        "scenarios": plan.scenarios.iter().map(|(s, origin)| json!({
            "name": s.metadata.name,
            "digest": otrashi_scenarios::incident::scenario_digest(s),
            "origin": origin,
        })).collect::<Vec<_>>(),
    })
}

/// Writes a file through a temporary name.
fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Reads the complete rows of an earlier run: a torn last line, rows out of order and
/// rows whose files are gone end the prefix that is kept.
fn existing_rows(out: &Path) -> anyhow::Result<Vec<NativeRow>> {
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

fn row_line(row: &NativeRow) -> anyhow::Result<String> {
    Ok(format!("{}\n", serde_json::to_string(row)?))
}

/// Removes what an interrupted run left behind: the staging area, incident and RCAEval
/// directories no kept row names, and the rows after the kept prefix.
fn sweep(out: &Path, rows: &[NativeRow]) -> anyhow::Result<()> {
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
fn check_manifest(out: &Path, params: &Value) -> anyhow::Result<()> {
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

fn write_manifest(
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

/// One incident, drawn but not yet simulated.
struct Drawn {
    id: String,
    incident: otrashi_scenarios::Incident,
    row: NativeRow,
    /// `rcaeval/<case>/<run>`, when the format is on.
    rcaeval: Option<String>,
}

/// Draws incident `index`: a seed whose incident the dataset does not have yet.
fn draw(
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
fn stage(plan: &Plan, staging: &Path, drawn: Drawn) -> anyhow::Result<NativeRow> {
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
fn commit(out: &Path, staging: &Path, row: &NativeRow) -> anyhow::Result<()> {
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

/// Generates (or completes) the dataset described by `plan` in `out`.
pub fn generate(plan: &Plan, out: &Path, bar: &ProgressBar) -> anyhow::Result<Outcome> {
    if plan.scenarios.is_empty() {
        return Err(InputError("no scenarios to generate from".into()).into());
    }
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let params = params(plan);
    check_manifest(out, &params)?;
    let mut rows = existing_rows(out)?;
    rows.truncate(usize::try_from(plan.count).unwrap_or(usize::MAX));
    sweep(out, &rows)?;
    // Recorded before the first incident, so that a resume can check its arguments.
    write_manifest(out, plan, &params, &rows)?;
    let kept = rows.len() as u64;
    bar.set_position(kept);

    let mut hashes: BTreeSet<String> = rows.iter().map(|r| r.content_hash.clone()).collect();
    let mut runs: BTreeMap<String, u32> = BTreeMap::new();
    for r in &rows {
        if let Some(case) = r.paths.get("rcaeval").and_then(|p| p.split('/').nth(1)) {
            *runs.entry(case.to_owned()).or_default() += 1;
        }
    }
    let staging = out.join(".staging");
    let jsonl_path = out.join("incidents.jsonl");
    let mut jsonl = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&jsonl_path)
        .with_context(|| format!("cannot open {}", jsonl_path.display()))?;
    fs::create_dir_all(out.join("incidents")).context("cannot create incidents/")?;

    // Drawing is sequential (each draw depends on the incidents before it) and cheap;
    // simulating and writing run on every core; committing is in order, so the files
    // and rows are the same whatever the number of threads.
    let jobs = plan.jobs.max(1);
    let mut index = kept;
    while index < plan.count {
        let batch_end = plan.count.min(index + jobs as u64 * 4);
        let mut batch = Vec::new();
        for i in index..batch_end {
            batch.push(draw(plan, i, &mut hashes, &mut runs)?);
        }
        let staged: Vec<anyhow::Result<NativeRow>> = if jobs == 1 || batch.len() == 1 {
            batch
                .into_iter()
                .map(|d| stage(plan, &staging, d))
                .collect()
        } else {
            let per_thread = batch.len().div_ceil(jobs);
            let mut groups: Vec<Vec<Drawn>> = Vec::new();
            let mut rest = batch.into_iter().peekable();
            while rest.peek().is_some() {
                groups.push(rest.by_ref().take(per_thread).collect());
            }
            std::thread::scope(|scope| {
                let handles: Vec<_> = groups
                    .into_iter()
                    .map(|group| {
                        let staging = &staging;
                        scope.spawn(move || {
                            group
                                .into_iter()
                                .map(|d| stage(plan, staging, d))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| {
                        h.join().unwrap_or_else(|_| {
                            vec![Err(anyhow::anyhow!("a generator thread panicked"))]
                        })
                    })
                    .collect()
            })
        };
        for row in staged {
            let row = row?;
            commit(out, &staging, &row)?;
            jsonl
                .write_all(row_line(&row)?.as_bytes())
                .with_context(|| format!("cannot append to {}", jsonl_path.display()))?;
            rows.push(row);
            bar.inc(1);
        }
        index = batch_end;
    }
    drop(jsonl);
    let _ = fs::remove_dir_all(&staging);

    if plan.formats.contains(&DatasetFormat::Chat) {
        let mut all = Vec::new();
        for r in &rows {
            if let Some(p) = r.paths.get("chat") {
                let path = out.join(p);
                all.extend(
                    fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?,
                );
            }
        }
        write_atomic(&out.join("chat.jsonl"), &all)?;
    }
    write_manifest(out, plan, &params, &rows)?;
    Ok(Outcome {
        kept,
        written: rows.len() as u64 - kept,
    })
}
