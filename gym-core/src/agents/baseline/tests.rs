use std::sync::Arc;

use crate::agents::{Agent, Baseline, RandomAgent};
use crate::episode::run_episode;
use crate::fixture::{self, ExactScorer, FakeBackend};
use crate::gym::{EndReason, Gym, GymConfig};

fn gym(max_steps: u32) -> Gym {
    let mut config = GymConfig::new(Arc::new(ExactScorer));
    config.max_steps = max_steps;
    Gym::new(
        fixture::scenario(),
        Arc::new(FakeBackend::default()),
        config,
    )
}

#[tokio::test]
async fn baseline_reports_within_budget_and_finds_the_cart() {
    let mut g = gym(30);
    let mut agent = Baseline::new();
    let r = run_episode(&mut g, &mut agent, Some(3)).await.unwrap();
    assert_eq!(r.end_reason, EndReason::Submitted);
    assert!(r.steps <= 25, "{} steps", r.steps);
    assert_eq!(
        r.invalid_actions,
        0,
        "{:#?}",
        r.trajectory
            .iter()
            .filter_map(|s| s.error.clone())
            .collect::<Vec<_>>()
    );
    let report = r.report.unwrap();
    let top = &report.root_causes[0];
    assert_eq!(top.component, "cart", "{report:#?}");
    assert_eq!(
        top.fault.as_deref(),
        Some("code.memory_leak"),
        "{report:#?}"
    );
    let c = top.confidence.unwrap();
    assert!((0.05..=0.9).contains(&c), "{c}");
    assert!(top
        .evidence
        .iter()
        .any(|e| e.kind == "event" && e.signal == "OOMKilled"));
    assert!(top
        .evidence
        .iter()
        .any(|e| e.kind == "deploy" && e.signal == "deploy-7f3a9c1"));
    assert_eq!(r.total_reward, 1.0);
    for step in &r.trajectory {
        let text = step.observation.to_text();
        assert_eq!(
            fixture::leaked_word(&text),
            None,
            "step {}: {text}",
            step.step
        );
    }
}

#[tokio::test]
async fn baseline_submits_when_the_budget_is_tight() {
    let mut g = gym(5);
    let r = run_episode(&mut g, &mut Baseline::new(), Some(3))
        .await
        .unwrap();
    assert_eq!(r.end_reason, EndReason::Submitted);
    assert_eq!(r.steps, 5);
}

#[tokio::test]
async fn random_agent_is_deterministic_and_ends() {
    let mut a = RandomAgent::new(11);
    let mut g = gym(30);
    let r1 = run_episode(&mut g, &mut a, Some(3)).await.unwrap();
    let r2 = run_episode(&mut g, &mut RandomAgent::new(11), Some(3))
        .await
        .unwrap();
    assert_eq!(r1.end_reason, EndReason::Submitted);
    assert_eq!(r1.invalid_actions, 0);
    assert_eq!(
        r1.trajectory.iter().map(|s| &s.args).collect::<Vec<_>>(),
        r2.trajectory.iter().map(|s| &s.args).collect::<Vec<_>>()
    );
    assert_eq!(a.name(), "random");
}

#[tokio::test]
async fn baseline_blames_the_callee_its_callers_cannot_resolve() {
    let backend = FakeBackend {
        telemetry: Some(fixture::dns_telemetry()),
        ..FakeBackend::default()
    };
    let mut g = Gym::new(
        fixture::scenario(),
        Arc::new(backend),
        GymConfig::new(Arc::new(ExactScorer)),
    );
    let r = run_episode(&mut g, &mut Baseline::new(), Some(3))
        .await
        .unwrap();
    let report = r.report.unwrap();
    let top = &report.root_causes[0];
    assert_eq!(top.component, "cart", "{report:#?}");
    assert_eq!(
        top.fault.as_deref(),
        Some("infra.dns_failure"),
        "{report:#?}"
    );
}
