//! Episodes turned into exchange messages: terminated and truncated stay apart, and the
//! text rendered for feedback export holds the prompt and the whole trajectory.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use otrashi_bridge::link::episode::{
    end_message, episode_record, start_message, step_messages, EpisodeMeta,
};
use otrashi_gym::agents::{Baseline, RandomAgent};
use otrashi_gym::{run_episode, Agent, EpisodeResult, Gym, GymConfig};

async fn play(agent: &mut (dyn Agent + Send), max_steps: u32) -> EpisodeResult {
    let name = otrashi_scenarios::library::scenarios()[0].name;
    let scenario = otrashi_scenarios::library::load(name).unwrap();
    let mut config = GymConfig::new(Arc::new(otrashi_gym::scorer::RubricScorer::default()));
    config.max_steps = max_steps;
    let mut gym = Gym::new(
        scenario,
        Arc::new(otrashi_clusters::sim::SimBackend::new()),
        config,
    );
    run_episode(&mut gym, agent, Some(1)).await.unwrap()
}

#[tokio::test]
async fn a_report_terminates_the_last_step_and_a_budget_truncates_it() {
    let meta = EpisodeMeta {
        backend: "sim".into(),
    };
    let done = play(&mut Baseline::new(), 30).await;
    let steps = step_messages(&done);
    let last = steps.last().unwrap();
    assert!(last.terminated && !last.truncated);
    assert!(steps[..steps.len() - 1]
        .iter()
        .all(|s| !s.terminated && !s.truncated));
    assert_eq!(end_message(&done).end_reason, "submitted");

    let cut = play(&mut RandomAgent::new(1), 2).await;
    let steps = step_messages(&cut);
    let last = steps.last().unwrap();
    let reason = end_message(&cut).end_reason;
    assert_eq!(last.terminated, reason == "submitted", "{reason}");
    assert_eq!(
        last.truncated,
        reason == "step_budget" || reason == "time_budget",
        "{reason}"
    );
    assert_eq!(steps.len(), 2.min(cut.trajectory.len()));
    let start = start_message(&cut, &meta);
    assert!(start.prompt_json.contains("alert"));
    assert!(start.tool_specs_json.contains("submit_report"));

    let record = episode_record(&done, &meta, "v1");
    assert!(record.prompt.contains("# Tools"));
    assert_eq!(
        record.response.matches("## Step ").count(),
        done.trajectory.len()
    );
    assert!(record.response.contains("## Report"));
}
