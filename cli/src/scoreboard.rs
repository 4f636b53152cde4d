//! The eval score table: per-episode rows, per-scenario and overall summaries, and the
//! comparison with a previous result that turns a drop into a failing CI job.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One evaluated episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeRow {
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// The reward total, in [0, 1].
    pub score: f64,
    /// Whether a true root cause is the report's first candidate.
    pub ac1: bool,
    /// Whether a true root cause is among the report's first three candidates.
    pub ac3: bool,
    /// The true root-cause components.
    pub truth: Vec<String>,
    /// The report's ranked components (empty when there was no report).
    pub predicted: Vec<String>,
    /// Steps the agent took.
    pub steps: u32,
    /// Why the episode failed, when it did (timeout, no report, budget exhausted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The episode directory, when one was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
}

impl EpisodeRow {
    /// Computes AC@1 and AC@3 from the ranked prediction and the truth.
    pub fn accuracy(predicted: &[String], truth: &[String]) -> (bool, bool) {
        let hit = |k: usize| predicted.iter().take(k).any(|p| truth.contains(p));
        (hit(1), hit(3))
    }
}

/// Aggregates over a set of episodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Mean reward.
    pub mean_score: f64,
    /// Share of episodes with the root cause ranked first.
    pub ac1: f64,
    /// Share of episodes with the root cause in the top three.
    pub ac3: f64,
    /// How many episodes.
    pub episodes: usize,
    /// How many episodes failed (no report, timeout, truncated).
    pub failures: usize,
}

impl Summary {
    /// Summarizes rows; an empty set summarizes to zeros.
    pub fn of<'a>(rows: impl IntoIterator<Item = &'a EpisodeRow>) -> Summary {
        let rows: Vec<&EpisodeRow> = rows.into_iter().collect();
        let n = rows.len();
        let mean = |f: &dyn Fn(&EpisodeRow) -> f64| {
            if n == 0 {
                0.0
            } else {
                rows.iter().map(|r| f(r)).sum::<f64>() / n as f64
            }
        };
        Summary {
            mean_score: round4(mean(&|r| r.score)),
            ac1: round4(mean(&|r| f64::from(u8::from(r.ac1)))),
            ac3: round4(mean(&|r| f64::from(u8::from(r.ac3)))),
            episodes: n,
            failures: rows.iter().filter(|r| r.failure.is_some()).count(),
        }
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The `otrashi eval --json` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalResult {
    /// Format marker, so an old file read by a new otrashi fails clearly.
    pub format: String,
    /// The agent evaluated.
    pub agent: String,
    /// The backend used.
    pub backend: String,
    /// Over all episodes.
    pub summary: Summary,
    /// Per scenario, by name.
    pub scenarios: BTreeMap<String, Summary>,
    /// Every episode.
    pub episodes: Vec<EpisodeRow>,
}

/// The format marker of [`EvalResult`].
pub const EVAL_FORMAT: &str = "otrashi-eval/v1";

impl EvalResult {
    /// Builds the document from its rows.
    pub fn new(agent: &str, backend: &str, episodes: Vec<EpisodeRow>) -> EvalResult {
        let mut by_scenario: BTreeMap<String, Vec<&EpisodeRow>> = BTreeMap::new();
        for row in &episodes {
            by_scenario
                .entry(row.scenario.clone())
                .or_default()
                .push(row);
        }
        let scenarios = by_scenario
            .into_iter()
            .map(|(name, rows)| (name, Summary::of(rows)))
            .collect();
        EvalResult {
            format: EVAL_FORMAT.to_owned(),
            agent: agent.to_owned(),
            backend: backend.to_owned(),
            summary: Summary::of(&episodes),
            scenarios,
            episodes,
        }
    }
}

/// A drop between a previous result and this one.
#[derive(Debug, Clone, PartialEq)]
pub struct Regression {
    /// The scenario, or `overall`.
    pub scope: String,
    /// `mean_score` or `ac1`.
    pub metric: &'static str,
    /// The previous value.
    pub before: f64,
    /// The new value.
    pub after: f64,
}

impl std::fmt::Display for Regression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} fell from {:.3} to {:.3} ({:+.3})",
            self.scope,
            self.metric,
            self.before,
            self.after,
            self.after - self.before
        )
    }
}

/// Scenarios and metrics that got worse by more than `tolerance`. Scenarios that exist
/// in only one of the two results are not compared (the caller reports them).
pub fn regressions(previous: &EvalResult, current: &EvalResult, tolerance: f64) -> Vec<Regression> {
    let mut found = Vec::new();
    let mut check = |scope: &str, before: &Summary, after: &Summary| {
        for (metric, b, a) in [
            ("mean_score", before.mean_score, after.mean_score),
            ("ac1", before.ac1, after.ac1),
        ] {
            if a < b - tolerance {
                found.push(Regression {
                    scope: scope.to_owned(),
                    metric,
                    before: b,
                    after: a,
                });
            }
        }
    };
    check("overall", &previous.summary, &current.summary);
    for (name, after) in &current.scenarios {
        if let Some(before) = previous.scenarios.get(name) {
            check(name, before, after);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(scenario: &str, seed: u64, score: f64, predicted: &[&str], truth: &str) -> EpisodeRow {
        let predicted: Vec<String> = predicted.iter().map(|s| (*s).to_owned()).collect();
        let truth = vec![truth.to_owned()];
        let (ac1, ac3) = EpisodeRow::accuracy(&predicted, &truth);
        EpisodeRow {
            scenario: scenario.into(),
            seed,
            score,
            ac1,
            ac3,
            truth,
            predicted,
            steps: 5,
            failure: None,
            dir: None,
        }
    }

    #[test]
    fn accuracy_at_k_counts_rank() {
        let truth = vec!["cart".to_owned()];
        let p = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(EpisodeRow::accuracy(&p(&["cart"]), &truth), (true, true));
        assert_eq!(
            EpisodeRow::accuracy(&p(&["a", "b", "cart"]), &truth),
            (false, true)
        );
        assert_eq!(
            EpisodeRow::accuracy(&p(&["a", "b", "c", "cart"]), &truth),
            (false, false)
        );
        assert_eq!(EpisodeRow::accuracy(&[], &truth), (false, false));
    }

    #[test]
    fn summaries_average_per_scenario_and_overall() {
        let result = EvalResult::new(
            "baseline",
            "sim",
            vec![
                row("a", 0, 1.0, &["x"], "x"),
                row("a", 1, 0.0, &["y"], "x"),
                row("b", 0, 0.5, &["z", "q"], "q"),
            ],
        );
        assert_eq!(result.summary.episodes, 3);
        assert_eq!(result.summary.mean_score, 0.5);
        assert_eq!(result.scenarios["a"].ac1, 0.5);
        assert_eq!(result.scenarios["b"].ac1, 0.0);
        assert_eq!(result.scenarios["b"].ac3, 1.0);
    }

    #[test]
    fn a_drop_beyond_tolerance_is_a_regression_and_noise_is_not() {
        let before = EvalResult::new("b", "sim", vec![row("a", 0, 0.8, &["x"], "x")]);
        let small = EvalResult::new("b", "sim", vec![row("a", 0, 0.78, &["x"], "x")]);
        assert!(regressions(&before, &small, 0.05).is_empty());
        let worse = EvalResult::new("b", "sim", vec![row("a", 0, 0.2, &["y"], "x")]);
        let found = regressions(&before, &worse, 0.05);
        let scopes: Vec<(&str, &str)> =
            found.iter().map(|r| (r.scope.as_str(), r.metric)).collect();
        assert!(scopes.contains(&("a", "mean_score")));
        assert!(scopes.contains(&("a", "ac1")));
        assert!(scopes.contains(&("overall", "mean_score")));
    }

    #[test]
    fn the_json_round_trips() {
        let result = EvalResult::new("b", "sim", vec![row("a", 0, 0.8, &["x"], "x")]);
        let text = serde_json::to_string(&result).unwrap();
        let back: EvalResult = serde_json::from_str(&text).unwrap();
        assert_eq!(back, result);
    }
}
