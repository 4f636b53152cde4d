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

mod incident;
mod resume;
mod stats;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use otrashi_gym::dataset::native::NativeRow;
use otrashi_scenarios::Scenario;

use incident::{commit, draw, stage, Drawn};
use resume::{check_manifest, existing_rows, row_line, sweep, write_atomic, write_manifest};

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
