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
    let settings = Settings::from_args(&args.agent, cancel.clone())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let on_ctrl_c = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted: stopping the agent and cleaning up …");
                on_ctrl_c.cancel();
            }
        });
        let gym = settings.gym(resolved.scenario.clone());
        let played = session::play(gym, &settings, args.seed).await?;
        let dir = session::episode_dir(&args.out, &played);
        otrashi_gym::artifacts::write_episode_dir(&dir, &played.gym, played.failure.as_deref(), played.agent_stderr.as_deref())?;
        if args.json {
            print_json(&episode_json(&played, &settings, &dir))?;
        } else {
            output::print_episode(&played, &settings, &dir);
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The `--json` object of one episode.
pub fn episode_json(played: &session::Played, settings: &Settings, dir: &std::path::Path) -> Value {
    let gym = &played.gym;
    json!({
        "episode_id": played.info.episode_id,
        "scenario": played.info.scenario,
        "seed": played.info.seed,
        "backend": played.info.backend,
        "agent": settings.agent.label(),
        "alert": played.start.content.get("alert"),
        "steps": gym.trajectory().len(),
        "report": gym.report(),
        "score": gym.reward(),
        "ground_truth": gym.revealed_truth(),
        "failure": played.failure,
        "episode_dir": dir.display().to_string(),
    })
}
