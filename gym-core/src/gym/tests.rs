use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::fixture::{self, ExactScorer, FakeBackend};

fn gym_with(max_steps: u32) -> Gym {
    let mut config = GymConfig::new(Arc::new(ExactScorer));
    config.max_steps = max_steps;
    Gym::new(
        fixture::scenario(),
        Arc::new(FakeBackend::default()),
        config,
    )
}

fn report(component: &str) -> Action {
    Action::new(
        "submit_report",
        json!({"root_causes": [{"component": component, "fault": "code.memory_leak", "confidence": 0.7}]}),
    )
}

#[tokio::test]
async fn a_report_ends_the_episode_and_reveals_the_truth() {
    let mut gym = gym_with(30);
    let (obs, info) = gym.reset(Some(7), ResetOptions::default()).await.unwrap();
    assert_eq!(obs.kind, ObservationKind::Start);
    assert_eq!(obs.content["alert"]["service"], "frontend");
    assert_eq!(obs.content["tools"].as_array().unwrap().len(), 8);
    assert_eq!(info.seed, 7);
    assert_eq!(info.scenario, "mini-cart");
    // Regression: the id used to spell out the scenario and seed, which let an agent
    // re-sample the incident and read its truth.
    assert!(info.episode_id.starts_with("ep-"));
    assert!(!info.episode_id.contains("mini-cart") && !info.episode_id.contains("-7-"));
    assert!(info.truth.is_none());
    assert!(gym.revealed_truth().is_none(), "no truth before the end");
    assert!(gym.revealed_incident().is_none());
    assert!(
        fixture::leaked_word(&obs.to_text()).is_none(),
        "{}",
        obs.to_text()
    );

    let out = gym.step(Action::new("list_services", json!({}))).unwrap();
    assert_eq!(out.observation.kind, ObservationKind::ToolResult);
    assert!(!out.terminated && !out.truncated);
    assert!(out.info.truth.is_none());

    let out = gym.step(report("cart")).unwrap();
    assert!(out.terminated && !out.truncated);
    assert_eq!(out.reward, 1.0);
    assert_eq!(out.info.end_reason, Some(EndReason::Submitted));
    assert_eq!(out.info.truth.unwrap().root_causes[0].component, "cart");
    assert_eq!(out.info.score.unwrap().total, 1.0);
    assert_eq!(
        gym.revealed_truth().unwrap().root_causes[0].component,
        "cart"
    );
    assert_eq!(gym.trajectory().len(), 2);
    assert!(gym.telemetry().is_some());

    let err = gym
        .step(Action::new("list_services", json!({})))
        .unwrap_err();
    assert!(matches!(
        err,
        GymError::EpisodeOver {
            reason: EndReason::Submitted
        }
    ));
}

#[tokio::test]
async fn malformed_actions_cost_a_step_and_explain() {
    let mut gym = gym_with(30);
    gym.reset(Some(1), ResetOptions::default()).await.unwrap();
    for out in [
        gym.step(Action::new("qurey_metrics", json!({"metric": "up"})))
            .unwrap(),
        gym.step(Action::new("query_metrics", json!("{\"metric\": ")))
            .unwrap(),
        gym.step(Action::new("get_traces", json!({"limit": [1]})))
            .unwrap(),
        gym.step_text("I think the cart is broken").unwrap(),
        gym.step(Action::new("submit_report", json!({"root_causes": "cart"})))
            .unwrap(),
    ] {
        assert_eq!(out.observation.kind, ObservationKind::Error);
        assert!(out.info.invalid_action);
        assert!(!out.terminated && !out.truncated);
        assert_eq!(out.reward, -0.01);
        let msg = out.observation.error_message().unwrap().to_owned();
        assert!(!msg.is_empty());
        assert_eq!(out.info.error.as_deref(), Some(msg.as_str()));
    }
    assert_eq!(gym.invalid_actions(), 5);
    let t = gym.trajectory();
    assert!(t[0]
        .error
        .as_deref()
        .unwrap()
        .contains("did you mean `query_metrics`"));
    assert!(t[2].error.as_deref().unwrap().contains("args.limit"));
    assert!(t[4].error.as_deref().unwrap().contains("could not be read"));
    // The episode goes on.
    let out = gym.step_text("{\"name\": \"submit_report\", \"arguments\": \"{\\\"root_causes\\\": [{\\\"component\\\": \\\"checkout\\\"}]}\"}").unwrap();
    assert!(out.terminated);
    assert_eq!(out.reward, 0.0);
}

#[tokio::test]
async fn the_step_budget_truncates() {
    let mut gym = gym_with(3);
    gym.reset(Some(2), ResetOptions::default()).await.unwrap();
    for _ in 0..2 {
        let out = gym.step(Action::new("get_events", json!({}))).unwrap();
        assert!(!out.truncated);
        assert!(out.info.truth.is_none());
    }
    let out = gym.step(Action::new("get_events", json!({}))).unwrap();
    assert!(out.truncated && !out.terminated);
    assert_eq!(out.reward, 0.0);
    assert_eq!(out.info.end_reason, Some(EndReason::StepBudget));
    assert!(out.info.truth.is_some());
    assert_eq!(out.info.score.unwrap().components[0].name, "truncated");
    assert!(gym.revealed_truth().is_some());
    assert!(matches!(
        gym.step(report("cart")),
        Err(GymError::EpisodeOver {
            reason: EndReason::StepBudget
        })
    ));
}

#[tokio::test]
async fn the_time_budget_truncates() {
    let mut gym = gym_with(30);
    gym.config.time_budget = std::time::Duration::ZERO;
    gym.reset(Some(2), ResetOptions::default()).await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2));
    let out = gym.step(report("cart")).unwrap();
    assert!(out.truncated && !out.terminated);
    assert_eq!(out.info.end_reason, Some(EndReason::TimeBudget));
    assert_eq!(out.observation.kind, ObservationKind::End);
}

#[tokio::test]
async fn misuse_is_a_typed_error() {
    let mut gym = gym_with(30);
    assert!(matches!(
        gym.step(Action::new("list_services", json!({}))),
        Err(GymError::NotReset)
    ));
    gym.close().await.unwrap();
    assert!(matches!(
        gym.reset(None, ResetOptions::default()).await,
        Err(GymError::Closed)
    ));
}

#[tokio::test]
async fn the_environment_is_torn_down_even_when_the_run_fails() {
    let backend = Arc::new(FakeBackend {
        fail_run: true,
        ..FakeBackend::default()
    });
    let teardowns = backend.teardowns.clone();
    let mut gym = Gym::new(
        fixture::scenario(),
        backend,
        GymConfig::new(Arc::new(ExactScorer)),
    );
    let err = gym.reset(None, ResetOptions::default()).await.unwrap_err();
    assert!(matches!(err, GymError::Backend { .. }), "{err}");
    assert_eq!(teardowns.load(Ordering::SeqCst), 1);
    assert!(gym.telemetry().is_none());
}

#[tokio::test]
async fn seeds_are_reported_and_reproducible() {
    let mut gym = gym_with(30);
    let (_, a) = gym.reset(None, ResetOptions::default()).await.unwrap();
    let (_, b) = gym.reset(None, ResetOptions::default()).await.unwrap();
    assert_ne!(a.seed, b.seed, "fresh seeds differ");
    assert_ne!(a.episode_id, b.episode_id);
    let (_, c) = gym
        .reset(Some(a.seed), ResetOptions::default())
        .await
        .unwrap();
    assert_eq!(c.seed, a.seed);
}

#[test]
fn the_gym_and_its_reset_future_can_move_between_threads() {
    fn assert_send<T: Send>(_: &T) {}
    let mut gym = gym_with(30);
    assert_send(&gym);
    let fut = gym.reset(None, ResetOptions::default());
    assert_send(&fut);
    drop(fut);
    let mut agent = crate::agents::Baseline::new();
    let episode = crate::episode::run_episode(&mut gym, &mut agent, None);
    assert_send(&episode);
}
