use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::agents::Baseline;
use crate::fixture::{self, ExactScorer, FakeBackend};
use crate::gym::{Gym, GymConfig};

async fn episode_dir(name: &str) -> std::path::PathBuf {
    let mut gym = Gym::new(
        fixture::scenario(),
        Arc::new(FakeBackend::default()),
        GymConfig::new(Arc::new(ExactScorer)),
    );
    let result = crate::episode::run_episode(&mut gym, &mut Baseline::new(), Some(5))
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("otrashi-html-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    crate::artifacts::write_episode_dir(&dir, &result, gym.scenario()).unwrap();
    dir
}

#[tokio::test]
async fn episode_page_has_every_section_and_plots() {
    let dir = episode_dir("episode").await;
    let ep = load_episode_dir(&dir).unwrap();
    let html = episode_page(&ep);
    for id in [
        "timeline",
        "metrics",
        "trajectory",
        "report-vs-truth",
        "score",
    ] {
        assert!(
            html.contains(&format!("<section id=\"{id}\"")),
            "section {id} missing"
        );
    }
    // A timeline and at least four charts for the root cause.
    assert!(html.matches("<svg class=\"chart\"").count() >= 4);
    assert!(html.contains("<svg class=\"timeline\""));
    assert!(
        html.contains("class=\"fault\""),
        "the fault window is shaded"
    );
    assert!(html.contains("fault injected"));
    assert!(html.contains("alert "));
    // One collapsible block per step, and the truth beside the report.
    assert_eq!(
        html.matches("<details class=\"step\"").count(),
        ep.trajectory.len()
    );
    assert!(html.contains("Ground truth") && html.contains("code.memory_leak"));
    assert!(
        html.contains("localization") || html.contains("exact"),
        "score rows"
    );
    // Self-contained: nothing is fetched.
    assert!(
        !html.contains("<script") && !html.contains("src=\"http") && !html.contains("href=\"http")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn eval_page_has_the_table_and_embeds_episodes() {
    let dir = episode_dir("eval").await;
    let ep = load_episode_dir(&dir).unwrap();
    let key = dir.display().to_string();
    let result = json!({
        "format": "otrashi-eval/v1", "agent": "baseline", "backend": "sim",
        "summary": {"mean_score": 0.5, "ac1": 0.5, "ac3": 1.0, "episodes": 2, "failures": 1},
        "scenarios": {"mini-cart": {"mean_score": 0.5, "ac1": 0.5, "ac3": 1.0, "episodes": 2, "failures": 1}},
        "episodes": [
            {"scenario": "mini-cart", "seed": 5, "score": 1.0, "ac1": true, "ac3": true, "truth": ["cart"], "predicted": ["cart"], "steps": 4, "dir": key},
            {"scenario": "mini-cart", "seed": 6, "score": 0.0, "ac1": false, "ac3": true, "truth": ["cart"], "predicted": ["x", "cart"], "steps": 30, "failure": "step budget <exhausted>"},
        ],
    });
    let mut episodes = BTreeMap::new();
    episodes.insert(key, ep);
    let html = eval_page(&result, &episodes);
    assert!(html.contains("<section id=\"eval-scores\""));
    assert!(html.contains("href=\"#scn-mini-cart\""));
    assert!(html.contains("AC@1") && html.contains("AC@3"));
    assert!(
        html.contains("step budget &lt;exhausted&gt;"),
        "text is escaped"
    );
    assert!(
        html.contains("id=\"mini-cart-0-timeline\""),
        "the episode is embedded"
    );
    assert_eq!(html.matches("<details class=\"episode\"").count(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn escape_covers_markup_and_quotes() {
    assert_eq!(
        escape("<a href=\"x\">'&'</a>"),
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    );
    assert_eq!(svg::short_num(1_500_000.0), "1.50M");
    assert_eq!(svg::short_num(0.031), "0.0310");
}
