//! Scoring: an RCA report against the ground truth, with every component explained.
//!
//! Contract for the gym loop: [`score`] takes the report, the truth, what the agent could
//! see, and how the episode went, and returns a [`Reward`] with a total in [0, 1].

use serde::{Deserialize, Serialize};

/// The reward of one episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Reward {
    /// The weighted total, in [0, 1].
    pub total: f64,
    /// Each component with its value, weight and a one-line reason.
    pub components: Vec<RewardComponent>,
}

/// One scored aspect of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardComponent {
    /// `localization`, `fault_kind`, `level`, `calibration`, `evidence`,
    /// `hallucination`, `spraying`, `efficiency`, …
    pub name: String,
    /// The component's score, in [0, 1] (penalties are reported as their factor).
    pub value: f64,
    /// Its weight in the total, from the rubric.
    pub weight: f64,
    /// One line: why this value.
    pub reason: String,
}

/// How the episode went, for the efficiency component.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct EpisodeStats {
    /// Tool calls made, the report included.
    pub steps: u32,
    /// The step budget.
    pub max_steps: u32,
    /// Wall-clock seconds the agent used.
    pub elapsed_s: f64,
    /// The time budget in seconds.
    pub time_budget_s: f64,
    /// Malformed actions.
    pub invalid_actions: u32,
}
