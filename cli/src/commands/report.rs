//! `otrashi report`: one self-contained HTML page for an episode directory or an eval
//! result, and a short text summary.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::Value;

use otrashi_gym::html;

use crate::args::ReportArgs;
use crate::exit::InputError;

pub fn run(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let input = &args.input;
    let (page, default_out, summary) = if input.is_dir() {
        episode(input)?
    } else if input.is_file() {
        eval(input)?
    } else {
        return Err(InputError(format!(
            "no episode directory or eval file at {}",
            input.display()
        ))
        .into());
    };
    let out = args.html.clone().unwrap_or(default_out);
    fs::write(&out, page).with_context(|| format!("cannot write {}", out.display()))?;
    outln!("{summary}");
    outln!("HTML report: {}", out.display());
    Ok(ExitCode::SUCCESS)
}

fn episode(dir: &Path) -> anyhow::Result<(String, PathBuf, String)> {
    if !dir.join("ground_truth.json").is_file() {
        return Err(InputError(format!(
            "{} is not an episode directory (no ground_truth.json); write one with `otrashi run --out`",
            dir.display()
        ))
        .into());
    }
    let ep = html::load_episode_dir(dir)?;
    let total = ep.score.pointer("/reward/total").and_then(Value::as_f64);
    let predicted = ep
        .report
        .pointer("/root_causes/0/component")
        .and_then(Value::as_str)
        .unwrap_or("(no report)");
    let truth: Vec<&str> = ep
        .truth
        .root_causes
        .iter()
        .map(|c| c.component.as_str())
        .collect();
    let summary = format!(
        "{}: {} steps, predicted {predicted}, truth {}, score {}",
        ep.name,
        ep.trajectory.len(),
        truth.join(", "),
        total.map_or("—".to_owned(), |t| format!("{t:.3}"))
    );
    Ok((html::episode_page(&ep), dir.join("report.html"), summary))
}

fn eval(file: &Path) -> anyhow::Result<(String, PathBuf, String)> {
    let text =
        fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let result: Value = serde_json::from_str(&text).map_err(|e| {
        InputError(format!(
            "{} is not an `otrashi eval --json` result: {e}",
            file.display()
        ))
    })?;
    if result.get("format").and_then(Value::as_str) != Some(crate::scoreboard::EVAL_FORMAT) {
        return Err(InputError(format!(
            "{} is not an `otrashi eval --json` result (format is not {})",
            file.display(),
            crate::scoreboard::EVAL_FORMAT
        ))
        .into());
    }
    let base = file.parent().unwrap_or(Path::new("."));
    let mut episodes = BTreeMap::new();
    let rows = result
        .get("episodes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for dir in rows
        .iter()
        .filter_map(|r| r.get("dir").and_then(Value::as_str))
    {
        // A relative dir is relative to where eval ran; try that, then next to the file.
        let candidates = [PathBuf::from(dir), base.join(dir)];
        if let Some(found) = candidates
            .iter()
            .find(|p| p.join("ground_truth.json").is_file())
        {
            match html::load_episode_dir(found) {
                Ok(ep) => {
                    episodes.insert(dir.to_owned(), ep);
                }
                Err(e) => tracing::warn!(dir, error = %e, "episode directory not embedded"),
            }
        }
    }
    let s = result.get("summary").cloned().unwrap_or(Value::Null);
    let summary = format!(
        "eval of {}: {} episodes, mean score {:.3}, AC@1 {:.3}, AC@3 {:.3} ({} episode directories embedded)",
        result.get("agent").and_then(Value::as_str).unwrap_or("?"),
        s.get("episodes").and_then(Value::as_u64).unwrap_or(0),
        s.get("mean_score").and_then(Value::as_f64).unwrap_or(0.0),
        s.get("ac1").and_then(Value::as_f64).unwrap_or(0.0),
        s.get("ac3").and_then(Value::as_f64).unwrap_or(0.0),
        episodes.len()
    );
    Ok((
        html::eval_page(&result, &episodes),
        base.join("report.html"),
        summary,
    ))
}
