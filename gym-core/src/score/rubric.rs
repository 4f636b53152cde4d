//! The scoring rubric: weights and credits, from a TOML file.
//!
//! The bundled `rubric/default.toml` documents every field; [`Rubric::default`] is that
//! file. A rubric is parsed, then validated without side effects; a bad value is an
//! error naming the file and the field, never a silent default.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The bundled default rubric, with a comment on every field.
pub const DEFAULT_RUBRIC_TOML: &str = include_str!("../../rubric/default.toml");

/// Why a rubric could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RubricError {
    /// The file could not be read.
    #[error("cannot read rubric {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the rubric's fields (the message
    /// names the field and the line).
    #[error("rubric {origin}: {source}")]
    Parse {
        /// The file, or `<bundled>` / `<string>`.
        origin: String,
        /// The TOML error.
        #[source]
        source: toml::de::Error,
    },
    /// A field has a value the scorer cannot use.
    #[error("rubric {origin}: `{field}` {problem}")]
    Invalid {
        /// The file, or `<bundled>` / `<string>`.
        origin: String,
        /// The field's dotted path (`weights.localization`).
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// How reports are scored. See `rubric/default.toml` for what each field does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rubric {
    /// Reward when the budget ran out before a report arrived.
    pub truncated_reward: f64,
    /// Deducted from the total per malformed action.
    pub invalid_action_penalty: f64,
    /// Component weights (normalized when scoring).
    pub weights: Weights,
    /// Localization credits.
    pub localization: LocalizationRubric,
    /// Fault-kind credits.
    pub fault_kind: FaultKindRubric,
    /// Calibration settings.
    pub calibration: CalibrationRubric,
    /// Evidence credits.
    pub evidence: EvidenceRubric,
    /// Penalties for naming many components.
    pub spraying: SprayingRubric,
    /// Penalties for naming components that do not exist.
    pub hallucination: HallucinationRubric,
    /// Efficiency settings.
    pub efficiency: EfficiencyRubric,
    /// Blending of human and AI feedback (received over the trainer bridge) into the
    /// reward; absent means off. Applied by `otrashi-bridge`'s `feedback::blend`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<FeedbackBlend>,
}

/// How stored feedback is blended into an episode's reward.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackBlend {
    /// Share of the blended total that comes from feedback, in [0, 1] (0: off).
    #[serde(default)]
    pub weight: f64,
    /// An AI rater's weight relative to a human rater's.
    #[serde(default = "one")]
    pub ai_rater_weight: f64,
}

fn one() -> f64 {
    1.0
}

impl Default for FeedbackBlend {
    /// No blending: feedback weight 0, AI raters counting as much as humans.
    fn default() -> Self {
        FeedbackBlend {
            weight: 0.0,
            ai_rater_weight: 1.0,
        }
    }
}

impl Rubric {
    /// The `[feedback]` section, or no blending when the rubric has none.
    pub fn feedback_blend(&self) -> FeedbackBlend {
        self.feedback.clone().unwrap_or_default()
    }
}

/// Component weights; only their ratios matter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    /// Naming the faulty component.
    pub localization: f64,
    /// Naming the fault kind.
    pub fault_kind: f64,
    /// Naming the level.
    pub level: f64,
    /// Calibration of the stated confidence.
    pub calibration: f64,
    /// Evidence that exists and points at the truth.
    pub evidence: f64,
    /// Steps and time vs budget.
    pub efficiency: f64,
}

/// Localization credits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalizationRubric {
    /// Credit by rank of the first correct entry (index 0 is rank 1).
    pub rank_credit: Vec<f64>,
    /// Credit by call-graph distance when no entry is correct (index 0 is 1 hop).
    pub distance_credit: Vec<f64>,
    /// Whether the alert's service and the topology's entry earn distance credit.
    pub symptom_distance_credit: bool,
}

/// Fault-kind credits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultKindRubric {
    /// Credit for a kind of the same family.
    pub family_credit: f64,
    /// Credit for the right short name under another level.
    pub other_level_credit: f64,
    /// Factor on kind and level credit when no entry names a true component.
    pub unlocalized_factor: f64,
}

/// Calibration settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationRubric {
    /// Score of an entry without a stated confidence.
    pub missing_confidence: f64,
}

/// Evidence credits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceRubric {
    /// An existing citation on a true root cause matching an expected signal.
    pub expected_signal: f64,
    /// An existing citation on a true root cause, another signal.
    pub root_cause_signal: f64,
    /// An existing citation on an affected component.
    pub affected_signal: f64,
    /// Deducted per fabricated citation.
    pub fabricated_penalty: f64,
    /// Citations checked at most.
    pub max_citations: usize,
}

/// Penalties for naming many components.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SprayingRubric {
    /// Entries allowed beyond the true count.
    pub free_extra_causes: usize,
    /// Divisor growth per extra entry.
    pub per_extra_cause: f64,
    /// Share of the topology that counts as spraying.
    pub coverage_threshold: f64,
    /// Distinct names needed before the coverage rule applies.
    pub coverage_min_named: usize,
    /// Multiplier on the total when spraying.
    pub coverage_multiplier: f64,
}

/// Penalties for nonexistent components.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HallucinationRubric {
    /// More nonexistent components than this: total 0.
    pub gate_over: usize,
    /// Factor reduction per nonexistent component below the gate.
    pub penalty_per_unknown: f64,
}

/// Efficiency settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EfficiencyRubric {
    /// Share of the budgets that is free.
    pub free_fraction: f64,
}

impl Default for Rubric {
    /// The bundled `rubric/default.toml`.
    fn default() -> Self {
        // The bundled file is compiled in and pinned by a unit test, so this cannot fail
        // at run time unless the crate itself is broken.
        match Rubric::from_toml_str(DEFAULT_RUBRIC_TOML, "<bundled>") {
            Ok(r) => r,
            Err(e) => panic!("the bundled rubric is invalid: {e}"),
        }
    }
}

impl Rubric {
    /// Reads and validates a rubric file.
    pub fn load(path: impl AsRef<Path>) -> Result<Rubric, RubricError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| RubricError::Read {
            path: path.to_owned(),
            source,
        })?;
        Rubric::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses and validates a rubric; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Rubric, RubricError> {
        let rubric: Rubric = toml::from_str(text).map_err(|source| RubricError::Parse {
            origin: origin.to_owned(),
            source,
        })?;
        rubric.validate(origin)?;
        Ok(rubric)
    }

    /// Checks every value is usable; `origin` names the rubric in errors.
    pub fn validate(&self, origin: &str) -> Result<(), RubricError> {
        let invalid = |field: &str, problem: String| RubricError::Invalid {
            origin: origin.to_owned(),
            field: field.to_owned(),
            problem,
        };
        let unit = |field: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(invalid(field, format!("is {v}; it must be in [0, 1]")))
            }
        };
        let w = &self.weights;
        let weights = [
            ("weights.localization", w.localization),
            ("weights.fault_kind", w.fault_kind),
            ("weights.level", w.level),
            ("weights.calibration", w.calibration),
            ("weights.evidence", w.evidence),
            ("weights.efficiency", w.efficiency),
        ];
        for (field, v) in weights {
            if !(v.is_finite() && v >= 0.0) {
                return Err(invalid(field, format!("is {v}; weights must be >= 0")));
            }
        }
        if weights.iter().all(|(_, v)| *v == 0.0) {
            return Err(invalid(
                "weights",
                "are all 0; at least one must be > 0".into(),
            ));
        }
        for (field, credits) in [
            ("localization.rank_credit", &self.localization.rank_credit),
            (
                "localization.distance_credit",
                &self.localization.distance_credit,
            ),
        ] {
            for (i, &c) in credits.iter().enumerate() {
                unit(&format!("{field}[{i}]"), c)?;
                if i > 0 && c > credits[i - 1] {
                    return Err(invalid(
                        &format!("{field}[{i}]"),
                        format!("is {c}, more than the entry before it; credits must not increase"),
                    ));
                }
            }
        }
        if self.localization.rank_credit.is_empty() {
            return Err(invalid(
                "localization.rank_credit",
                "is empty; give at least the credit of rank 1".into(),
            ));
        }
        unit("truncated_reward", self.truncated_reward)?;
        unit("invalid_action_penalty", self.invalid_action_penalty)?;
        if let Some(feedback) = &self.feedback {
            unit("feedback.weight", feedback.weight)?;
            if !(feedback.ai_rater_weight >= 0.0 && feedback.ai_rater_weight.is_finite()) {
                return Err(RubricError::Invalid {
                    origin: origin.to_owned(),
                    field: "feedback.ai_rater_weight".to_owned(),
                    problem: format!("must be a number ≥ 0, not {}", feedback.ai_rater_weight),
                });
            }
        }
        unit("fault_kind.family_credit", self.fault_kind.family_credit)?;
        unit(
            "fault_kind.other_level_credit",
            self.fault_kind.other_level_credit,
        )?;
        unit(
            "fault_kind.unlocalized_factor",
            self.fault_kind.unlocalized_factor,
        )?;
        unit(
            "calibration.missing_confidence",
            self.calibration.missing_confidence,
        )?;
        unit("evidence.expected_signal", self.evidence.expected_signal)?;
        unit(
            "evidence.root_cause_signal",
            self.evidence.root_cause_signal,
        )?;
        unit("evidence.affected_signal", self.evidence.affected_signal)?;
        unit(
            "spraying.coverage_threshold",
            self.spraying.coverage_threshold,
        )?;
        unit(
            "spraying.coverage_multiplier",
            self.spraying.coverage_multiplier,
        )?;
        unit(
            "hallucination.penalty_per_unknown",
            self.hallucination.penalty_per_unknown,
        )?;
        unit("efficiency.free_fraction", self.efficiency.free_fraction)?;
        let e = &self.evidence;
        if e.root_cause_signal > e.expected_signal || e.affected_signal > e.root_cause_signal {
            return Err(invalid(
                "evidence",
                "credits must satisfy affected_signal <= root_cause_signal <= expected_signal"
                    .into(),
            ));
        }
        if !(e.fabricated_penalty.is_finite() && e.fabricated_penalty >= 0.0) {
            return Err(invalid(
                "evidence.fabricated_penalty",
                format!("is {}; it must be >= 0", e.fabricated_penalty),
            ));
        }
        if !(self.spraying.per_extra_cause.is_finite() && self.spraying.per_extra_cause >= 0.0) {
            return Err(invalid(
                "spraying.per_extra_cause",
                format!("is {}; it must be >= 0", self.spraying.per_extra_cause),
            ));
        }
        Ok(())
    }

    /// The credit of rank `rank` (1-based); 0 beyond the list.
    pub fn rank_credit(&self, rank: usize) -> f64 {
        rank.checked_sub(1)
            .and_then(|i| self.localization.rank_credit.get(i))
            .copied()
            .unwrap_or(0.0)
    }

    /// The credit of a service `hops` away (1-based); 0 for 0 hops or beyond the list.
    pub fn distance_credit(&self, hops: usize) -> f64 {
        hops.checked_sub(1)
            .and_then(|i| self.localization.distance_credit.get(i))
            .copied()
            .unwrap_or(0.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn bundled_rubric_parses_and_validates() {
        let r = Rubric::default();
        assert_eq!(r.localization.rank_credit, [1.0, 0.5, 0.33]);
        assert_eq!(r.truncated_reward, 0.0);
        assert_eq!(r.rank_credit(1), 1.0);
        assert_eq!(r.rank_credit(4), 0.0);
        assert_eq!(r.distance_credit(1), 0.3);
    }

    #[test]
    fn unknown_fields_are_errors_naming_the_field() {
        let text = DEFAULT_RUBRIC_TOML.replace("family_credit = 0.4", "famliy_credit = 0.4");
        let e = Rubric::from_toml_str(&text, "my.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("rubric my.toml:"), "{e}");
        assert!(e.contains("famliy_credit"), "{e}");
    }

    #[test]
    fn bad_values_are_errors_naming_the_field() {
        let text = DEFAULT_RUBRIC_TOML.replace("evidence = 0.20", "evidence = -1.0");
        let e = Rubric::from_toml_str(&text, "x.toml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "rubric x.toml: `weights.evidence` is -1; weights must be >= 0"
        );

        let mut zero = DEFAULT_RUBRIC_TOML.to_owned();
        for line in [
            "localization = 0.40",
            "fault_kind = 0.20",
            "level = 0.05",
            "calibration = 0.10",
            "evidence = 0.20",
            "efficiency = 0.05",
        ] {
            let name = line.split(' ').next().unwrap_or_default();
            zero = zero.replace(line, &format!("{name} = 0.0"));
        }
        let e = Rubric::from_toml_str(&zero, "z.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("all 0"), "{e}");

        let text = DEFAULT_RUBRIC_TOML
            .replace("rank_credit = [1.0, 0.5, 0.33]", "rank_credit = [0.5, 1.0]");
        let e = Rubric::from_toml_str(&text, "r.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`localization.rank_credit[1]`"), "{e}");
    }

    #[test]
    fn load_names_the_missing_file() {
        let e = Rubric::load("/nonexistent/rubric.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/rubric.toml"), "{e}");
    }
}

#[cfg(test)]
mod feedback_section_tests {
    use super::*;

    #[test]
    fn a_rubric_with_a_feedback_section_loads_and_is_checked() {
        let with = format!("{DEFAULT_RUBRIC_TOML}\n[feedback]\nweight = 0.25\n");
        let rubric = Rubric::from_toml_str(&with, "r.toml").unwrap();
        let feedback = rubric.feedback.unwrap();
        assert_eq!(feedback.weight, 0.25);
        assert_eq!(feedback.ai_rater_weight, 1.0);
        let bad = format!("{DEFAULT_RUBRIC_TOML}\n[feedback]\nweight = 2.0\n");
        let err = Rubric::from_toml_str(&bad, "r.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("feedback.weight"), "{err}");
        assert_eq!(Rubric::default().feedback, None);
    }
}
