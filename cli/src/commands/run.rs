//! `otrashi run`: one scored episode.

use std::process::ExitCode;

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::print_json;
use crate::args::RunArgs;
use crate::output;
use crate::resolve;
use crate::session::{self, Settings};

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let resolved = resolve::scenario(&args.scenario)?;
    let cancel = CancellationToken::new();
    let mut settings = Settings::from_args(&args.agent, cancel.clone())?;
    let runtime = session::runtime(&cancel)?;
    runtime.block_on(async move {
        settings.connect().await?;
        let trainer = super::trainer_link::TrainerSession::start(
            &args.trainer,
            &args.out,
            settings.backend_name(),
            cancel.clone(),
        )?;
        let permit = match &trainer {
            Some(t) => Some(t.permit().await?),
            None => None,
        };
        let gym = settings.gym(resolved.scenario.clone());
        let played = session::play(gym, &settings, args.seed).await?;
        if let (Some(t), Some(p)) = (&trainer, permit) {
            t.send(p, &played).await?;
        }
        let dir = session::episode_dir(&args.out, &played);
        session::write_episode(&dir, &played, &resolved.scenario)?;
        if args.json {
            print_json(&episode_json(&played, &settings, &dir))?;
        } else {
            output::print_episode(&played, &settings, &dir);
        }
        if let Some(t) = trainer {
            t.finish().await?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The `--json` object of one episode.
pub fn episode_json(played: &session::Played, settings: &Settings, dir: &std::path::Path) -> Value {
    let r = &played.result;
    json!({
        "episode_id": r.episode_id,
        "scenario": r.scenario,
        "seed": r.seed,
        "backend": settings.backend_name(),
        "agent": settings.agent.label(),
        "alert": r.start.content.get("alert"),
        "steps": r.steps,
        "invalid_actions": r.invalid_actions,
        "end_reason": r.end_reason,
        "report": r.report,
        "score": r.reward,
        "ground_truth": r.truth,
        "failure": played.failure,
        "elapsed_s": r.elapsed_s,
        "episode_dir": dir.display().to_string(),
    })
}
