//! `otrashi eval`: every scenario over N seeds, a score table, and regression gates.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use otrashi_bridge::EpisodePermit;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::print_json;
use crate::args::EvalArgs;
use crate::exit::{InputError, CHECK_FAILED};
use crate::resolve;
use crate::scoreboard::{regressions, EpisodeRow, EvalResult, EVAL_FORMAT};
use crate::session::{self, Settings};

pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let mut names = args.scenarios.clone();
    if args.all {
        names.extend(resolve::all_bundled());
    }
    if names.is_empty() {
        return Err(InputError(
            "name at least one scenario, or pass --all for the whole bundled library".into(),
        )
        .into());
    }
    if args.seeds == 0 {
        return Err(InputError("--seeds must be at least 1".into()).into());
    }
    if args.parallel == 0 {
        return Err(InputError("--parallel must be at least 1".into()).into());
    }
    let scenarios = names
        .iter()
        .map(|n| resolve::scenario(n))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let previous = match &args.compare {
        Some(path) => Some(read_previous(path)?),
        None => None,
    };
    let cancel = CancellationToken::new();
    let mut settings = Settings::from_args(&args.agent, cancel.clone())?;
    let runtime = session::runtime(&cancel)?;

    let total = scenarios.len() as u64 * args.seeds;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{bar:30}] {pos}/{len} episodes · {elapsed} · {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let parallel = args.parallel;
    let rows = runtime.block_on(async {
        settings.connect().await?;
        let settings = Arc::new(settings.clone());
        let runs_dir = args.out.clone().unwrap_or_else(|| "otrashi-runs".into());
        let trainer = super::trainer_link::TrainerSession::start(
            &args.trainer,
            &runs_dir,
            settings.backend_name(),
            cancel.clone(),
        )?;
        let mut jobs = scenarios
            .iter()
            .enumerate()
            .flat_map(|(i, _)| (0..args.seeds).map(move |seed| (i, seed)));
        let mut running = JoinSet::new();
        let mut rows = Vec::with_capacity(total as usize);
        let mut first_error: Option<anyhow::Error> = None;
        loop {
            // Keep `parallel` episodes in flight until the jobs run out or one fails.
            while running.len() < parallel && first_error.is_none() && !cancel.is_cancelled() {
                let Some((i, seed)) = jobs.next() else { break };
                let scenario = scenarios[i].scenario.clone();
                let permit = match &trainer {
                    Some(t) => Some(t.permit().await?),
                    None => None,
                };
                let gym = settings.gym(scenario.clone());
                let settings = Arc::clone(&settings);
                running.spawn(async move {
                    let played = session::play(gym, &settings, Some(seed))
                        .await
                        .with_context(|| format!("{} seed {seed}", scenario.metadata.name));
                    (i, seed, permit, played)
                });
            }
            bar.set_message(format!("{} running", running.len()));
            let Some(joined) = running.join_next().await else {
                break;
            };
            let outcome = match joined {
                Ok((i, seed, permit, Ok(played))) => {
                    finish_episode(
                        &args,
                        (i, &scenarios[i]),
                        seed,
                        permit,
                        played,
                        trainer.as_ref(),
                    )
                    .await
                }
                Ok((_, _, _, Err(e))) => Err(e),
                Err(e) => Err(anyhow::anyhow!("an episode task stopped unexpectedly: {e}")),
            };
            match outcome {
                Ok(row) => {
                    rows.push(row);
                    bar.inc(1);
                }
                Err(e) => {
                    if first_error.is_none() {
                        // Stop the episodes still running (they clean up) before failing.
                        cancel.cancel();
                        first_error = Some(e);
                    }
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        if cancel.is_cancelled() {
            anyhow::bail!("interrupted after {} of {total} episodes", rows.len());
        }
        if let Some(t) = trainer {
            t.finish().await?;
        }
        // Episodes finish in any order; the table and JSON list them in job order.
        rows.sort_by_key(|r: &(usize, u64, EpisodeRow)| (r.0, r.1));
        Ok(rows.into_iter().map(|(_, _, row)| row).collect::<Vec<_>>())
    })?;
    bar.finish_and_clear();

    let result = EvalResult::new(&settings.agent.label(), settings.backend_name(), rows);
    let found = previous
        .as_ref()
        .map(|prev| regressions(prev, &result, args.tolerance))
        .unwrap_or_default();
    let under = args
        .fail_under
        .filter(|threshold| result.summary.mean_score < *threshold);

    if args.json {
        print_json(&result)?;
    } else {
        print_table(&result);
    }
    for r in &found {
        outln!("regression: {r}");
    }
    if let Some(prev) = &previous {
        for name in prev.scenarios.keys() {
            if !result.scenarios.contains_key(name) {
                outln!("note: {name} is in the previous result but was not evaluated now");
            }
        }
        if found.is_empty() {
            outln!(
                "no regression against the previous result (tolerance {})",
                args.tolerance
            );
        }
    }
    if let Some(threshold) = under {
        outln!(
            "mean score {:.3} is under --fail-under {threshold}",
            result.summary.mean_score
        );
    }
    Ok(if found.is_empty() && under.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(CHECK_FAILED)
    })
}

/// Sends a finished episode to the trainer, writes its directory, and makes its row
/// (tagged with its job's place so rows can be put back in order).
async fn finish_episode(
    args: &EvalArgs,
    (index, resolved): (usize, &resolve::Resolved),
    seed: u64,
    permit: Option<EpisodePermit>,
    played: session::Played,
    trainer: Option<&super::trainer_link::TrainerSession>,
) -> anyhow::Result<(usize, u64, EpisodeRow)> {
    if let (Some(t), Some(p)) = (trainer, permit) {
        t.send(p, &played).await?;
    }
    let dir = match &args.out {
        Some(out) => {
            let dir = session::episode_dir(out, &played);
            session::write_episode(&dir, &played, &resolved.scenario)?;
            Some(dir.display().to_string())
        }
        None => None,
    };
    Ok((index, seed, row_of(&played, dir)))
}

fn read_previous(path: &std::path::Path) -> anyhow::Result<EvalResult> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        InputError(format!(
            "cannot read --compare file {}: {e}",
            path.display()
        ))
    })?;
    let result: EvalResult = serde_json::from_str(&text).map_err(|e| {
        InputError(format!(
            "{} is not an `otrashi eval --json` result ({e}); produce one with `otrashi eval … --json > {}`",
            path.display(),
            path.display()
        ))
    })?;
    if result.format != EVAL_FORMAT {
        return Err(InputError(format!(
            "{} has format `{}`, this otrashi reads `{EVAL_FORMAT}`",
            path.display(),
            result.format
        ))
        .into());
    }
    Ok(result)
}

fn row_of(played: &session::Played, dir: Option<String>) -> EpisodeRow {
    let r = &played.result;
    let truth: Vec<String> = r
        .truth
        .root_causes
        .iter()
        .map(|c| c.component.clone())
        .collect();
    let predicted: Vec<String> = r
        .report
        .as_ref()
        .map(|rep| {
            rep.root_causes
                .iter()
                .map(|c| c.component.clone())
                .collect()
        })
        .unwrap_or_default();
    let (ac1, ac3) = EpisodeRow::accuracy(&predicted, &truth);
    EpisodeRow {
        scenario: r.scenario.clone(),
        seed: r.seed,
        score: r.reward.as_ref().map_or(0.0, |w| w.total),
        ac1,
        ac3,
        truth,
        predicted,
        steps: r.steps,
        failure: played.failure.clone(),
        dir,
    }
}

fn print_table(result: &EvalResult) {
    outln!(
        "{:<40} {:>8} {:>6} {:>6} {:>6}",
        "SCENARIO",
        "EPISODES",
        "SCORE",
        "AC@1",
        "AC@3"
    );
    for (name, s) in &result.scenarios {
        outln!(
            "{:<40} {:>8} {:>6.3} {:>6.2} {:>6.2}",
            name,
            s.episodes,
            s.mean_score,
            s.ac1,
            s.ac3
        );
    }
    let s = &result.summary;
    outln!(
        "{:<40} {:>8} {:>6.3} {:>6.2} {:>6.2}",
        "ALL",
        s.episodes,
        s.mean_score,
        s.ac1,
        s.ac3
    );
    outln!(
        "\nagent {} · {} episodes · {} failed (no report, timeout or budget)",
        result.agent,
        s.episodes,
        s.failures
    );
}
