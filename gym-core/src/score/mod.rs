//! Scoring: an RCA report against the ground truth, with every component explained.
//!
//! Contract for the gym loop: [`score`] takes the report, the truth, what the agent could
//! see, and how the episode went, and returns a [`Reward`] with a total in [0, 1].
//!
//! The total is the weighted mean of `localization`, `fault_kind`, `level`,
//! `calibration`, `evidence` and `efficiency` (weights from the [`Rubric`], normalized),
//! multiplied by the `hallucination` and `spraying` factors, minus the `invalid_actions`
//! deduction, clamped to [0, 1]. It is built to be hard to game by a policy searching for
//! loopholes: every loophole the tests know of is pinned by a test named after it.

mod components;
mod evidence;
#[cfg(test)]
mod fixture;
mod names;
mod rubric;
#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests;

pub use rubric::{
    CalibrationRubric, EfficiencyRubric, EvidenceRubric, FaultKindRubric, FeedbackBlend,
    HallucinationRubric, LocalizationRubric, Rubric, RubricError, SprayingRubric, Weights,
    DEFAULT_RUBRIC_TOML,
};

use otrashi_scenarios::incident::GroundTruth;
use otrashi_scenarios::model::Topology;
use serde::{Deserialize, Serialize};

use crate::report::RcaReport;
use crate::telemetry::Telemetry;

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
    /// Its weight in the total, from the rubric, normalized so that the weights of the
    /// averaged components sum to 1; 0 for the factors and deductions applied after the
    /// mean (`hallucination`, `spraying`, `invalid_actions`).
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

impl Reward {
    /// The component called `name`.
    pub fn component(&self, name: &str) -> Option<&RewardComponent> {
        self.components.iter().find(|c| c.name == name)
    }
}

impl RewardComponent {
    fn new(name: &str, value: f64, weight: f64, reason: String) -> Self {
        RewardComponent {
            name: name.to_owned(),
            value: if value.is_finite() {
                value.clamp(0.0, 1.0)
            } else {
                0.0
            },
            weight,
            reason,
        }
    }
}

/// Scores a report against the truth. `telemetry` is what the agent could see (for
/// checking evidence and the alert), `stats` how the episode went.
pub fn score(
    report: &RcaReport,
    truth: &GroundTruth,
    topology: &Topology,
    telemetry: &Telemetry,
    stats: &EpisodeStats,
    rubric: &Rubric,
) -> Reward {
    let w = &rubric.weights;
    let weight_sum =
        w.localization + w.fault_kind + w.level + w.calibration + w.evidence + w.efficiency;
    // A rubric built in code may skip validation; an all-zero weight set scores nothing.
    let norm = |x: f64| {
        if weight_sum > 0.0 {
            x / weight_sum
        } else {
            0.0
        }
    };

    if report.root_causes.is_empty() || truth.root_causes.is_empty() {
        let why = if report.root_causes.is_empty() {
            "the report names no root cause"
        } else {
            "the incident has no injected fault to find"
        };
        let components = [
            ("localization", w.localization),
            ("fault_kind", w.fault_kind),
            ("level", w.level),
            ("calibration", w.calibration),
            ("evidence", w.evidence),
            ("efficiency", w.efficiency),
        ]
        .into_iter()
        .map(|(name, weight)| RewardComponent::new(name, 0.0, norm(weight), why.to_owned()))
        .collect();
        return Reward {
            total: 0.0,
            components,
        };
    }

    let (raw_loc, loc_why) =
        components::localization(report, truth, topology, &telemetry.alert.service, rubric);
    let (divisor, divisor_why) = components::spray_divisor(report, truth, rubric);
    let loc = raw_loc / divisor;
    let (kind, kind_why) = components::fault_kind(report, truth, topology, rubric);
    let (level, level_why) = components::level(report, truth, topology, rubric);
    let (calib, calib_why) = components::calibration(report, truth, topology, rubric);
    let (evidence, evidence_why) =
        evidence::score_evidence(report, truth, topology, telemetry, rubric);
    let (eff, eff_why) = components::efficiency(stats, rubric, loc);
    let (halluc, halluc_why) = components::hallucination(report, topology, rubric);
    let (spray, spray_why) = components::coverage(report, truth, topology, rubric, &divisor_why);
    let deduction = f64::from(stats.invalid_actions) * rubric.invalid_action_penalty;

    let weighted = [
        RewardComponent::new(
            "localization",
            loc,
            norm(w.localization),
            format!("{loc_why}{divisor_why}"),
        ),
        RewardComponent::new("fault_kind", kind, norm(w.fault_kind), kind_why),
        RewardComponent::new("level", level, norm(w.level), level_why),
        RewardComponent::new("calibration", calib, norm(w.calibration), calib_why),
        RewardComponent::new("evidence", evidence, norm(w.evidence), evidence_why),
        RewardComponent::new("efficiency", eff, norm(w.efficiency), eff_why),
    ];
    // Summed over the raw weights in the order of `weight_sum`, so that a report perfect
    // on every component totals exactly 1.0.
    let raw_weights = [
        w.localization,
        w.fault_kind,
        w.level,
        w.calibration,
        w.evidence,
        w.efficiency,
    ];
    let weighted_sum = weighted
        .iter()
        .zip(raw_weights)
        .fold(0.0, |acc, (c, w)| acc + c.value * w);
    let mean = if weight_sum > 0.0 {
        weighted_sum / weight_sum
    } else {
        0.0
    };
    let total = mean * halluc * spray - deduction;
    let total = if total.is_finite() {
        total.clamp(0.0, 1.0)
    } else {
        0.0
    };

    let mut components = weighted.to_vec();
    components.push(RewardComponent::new(
        "hallucination",
        halluc,
        0.0,
        halluc_why,
    ));
    components.push(RewardComponent::new("spraying", spray, 0.0, spray_why));
    components.push(RewardComponent::new(
        "invalid_actions",
        1.0 - deduction,
        0.0,
        format!(
            "{} invalid action{} × {:.2}: −{deduction:.2} from the total",
            stats.invalid_actions,
            if stats.invalid_actions == 1 { "" } else { "s" },
            rubric.invalid_action_penalty
        ),
    ));
    Reward { total, components }
}

/// The reward of an episode whose budget ran out before a report arrived:
/// `rubric.truncated_reward`, minus the invalid-action deduction.
pub fn truncated_reward(stats: &EpisodeStats, rubric: &Rubric) -> Reward {
    let deduction = f64::from(stats.invalid_actions) * rubric.invalid_action_penalty;
    let total = (rubric.truncated_reward - deduction).clamp(0.0, 1.0);
    Reward {
        total,
        components: vec![RewardComponent::new(
            "truncated",
            total,
            1.0,
            format!(
                "no report after {}/{} steps and {:.0}/{:.0} s: the rubric's truncated_reward {:.2}, −{deduction:.2} for {} invalid actions",
                stats.steps,
                stats.max_steps,
                stats.elapsed_s,
                stats.time_budget_s,
                rubric.truncated_reward,
                stats.invalid_actions
            ),
        )],
    }
}
