//! The seam between the gym loop and scoring.
//!
//! The gym does not call the report parser and the scorer directly: it holds an
//! `Arc<dyn Scorer>`, so that the loop, the tools and the built-in agents can be built
//! and tested on their own, and a trainer can plug in its own reward (a learned reward
//! model, a human-feedback blend) without forking the loop. The bundled implementation
//! wraps `report::parse_report` and `score::score` with a rubric.

use serde_json::Value;

use otrashi_scenarios::{GroundTruth, Topology};

use crate::report::RcaReport;
use crate::score::{EpisodeStats, Reward};
use crate::telemetry::Telemetry;

/// Parses submitted reports and scores them against the ground truth.
pub trait Scorer: Send + Sync {
    /// Reads a submitted report leniently. Returns the report and warnings (fields that
    /// were ignored or coerced), or one message naming the JSON path that is wrong.
    fn parse(&self, value: &Value) -> Result<(RcaReport, Vec<String>), String>;

    /// Scores a report. `topology` and `telemetry` are what the agent could see (to check
    /// that cited components and evidence exist); `stats` is how the episode went.
    fn score(
        &self,
        report: &RcaReport,
        truth: &GroundTruth,
        topology: &Topology,
        telemetry: &Telemetry,
        stats: &EpisodeStats,
    ) -> Reward;

    /// The reward of an episode that ran out of steps or time before a report arrived.
    /// Default: zero, with one component saying why.
    fn truncated(&self, stats: &EpisodeStats) -> Reward {
        Reward {
            total: 0.0,
            components: vec![crate::score::RewardComponent {
                name: "truncated".into(),
                value: 0.0,
                weight: 1.0,
                reason: format!(
                    "no report after {}/{} steps and {:.0}/{:.0} s",
                    stats.steps, stats.max_steps, stats.elapsed_s, stats.time_budget_s
                ),
            }],
        }
    }

    /// A per-step reward shaping for malformed actions, as a positive number the gym
    /// subtracts on the step that caused it. The final score also sees the count of
    /// invalid actions in [`EpisodeStats::invalid_actions`], so a scorer that deducts
    /// them there (the bundled one does) should leave this at its default, zero, or
    /// the penalty counts twice.
    fn invalid_action_penalty(&self) -> f64 {
        0.0
    }
}

/// The bundled scorer: [`crate::report::parse_report`] and [`crate::score::score`] with a
/// rubric.
#[derive(Debug, Clone, Default)]
pub struct RubricScorer {
    rubric: crate::score::Rubric,
}

impl RubricScorer {
    /// A scorer with this rubric.
    pub fn new(rubric: crate::score::Rubric) -> RubricScorer {
        RubricScorer { rubric }
    }

    /// The rubric in use.
    pub fn rubric(&self) -> &crate::score::Rubric {
        &self.rubric
    }
}

impl Scorer for RubricScorer {
    fn parse(&self, value: &Value) -> Result<(RcaReport, Vec<String>), String> {
        crate::report::parse_report(value).map_err(|e| e.to_string())
    }

    fn score(
        &self,
        report: &RcaReport,
        truth: &GroundTruth,
        topology: &Topology,
        telemetry: &Telemetry,
        stats: &EpisodeStats,
    ) -> Reward {
        crate::score::score(report, truth, topology, telemetry, stats, &self.rubric)
    }

    fn truncated(&self, stats: &EpisodeStats) -> Reward {
        crate::score::truncated_reward(stats, &self.rubric)
    }

    // The rubric's invalid-action penalty is deducted once, from the report's total
    // (see `score::score`); charging it again per step would count it twice in the
    // episode's return, so the per-step shaping stays at the default 0.
}
