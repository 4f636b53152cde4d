//! Blending stored feedback into a gym reward.
//!
//! The rubric's `[feedback]` section (gym-core's `Rubric::feedback_blend`) says how much
//! it counts:
//!
//! ```toml
//! [feedback]
//! weight = 0.2          # share of the blended total that comes from feedback, in [0, 1]
//! ai_rater_weight = 0.5 # an AI rater's say relative to a human's (1 = equal)
//! ```
//!
//! The feedback value of an episode is the rater-weighted mean of its scores (clamped to
//! [0, 1]) and of its pairwise results (1 when chosen, 0 when rejected). Critiques carry
//! no number and do not move the reward. Without numeric feedback the reward is
//! unchanged.

use otrashi_gym::score::{FeedbackBlend, Reward, RewardComponent};

use super::{FeedbackRecord, FeedbackValue, RaterKind};

/// Blends the feedback about `episode_id` into `reward`: the total becomes
/// `(1 - weight) · total + weight · feedback`, and a `feedback` component (with that
/// weight and a reason) is added. `weight` is clamped to [0, 1]; records about other
/// episodes are ignored.
pub fn blend(
    reward: &Reward,
    episode_id: &str,
    feedback: &[FeedbackRecord],
    rubric: &FeedbackBlend,
) -> Reward {
    let weight = if rubric.weight.is_finite() {
        rubric.weight.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (mut sum, mut total_w) = (0.0, 0.0);
    let (mut scores, mut won, mut lost, mut critiques) = (0, 0, 0, 0);
    for rec in feedback {
        let w = match rec.rater_kind {
            RaterKind::Human => 1.0,
            RaterKind::Ai => rubric.ai_rater_weight,
        };
        let value = match &rec.value {
            FeedbackValue::Score {
                episode_id: e,
                score,
            } if e == episode_id => {
                scores += 1;
                if score.is_finite() {
                    score.clamp(0.0, 1.0)
                } else {
                    continue;
                }
            }
            FeedbackValue::Preference {
                chosen_episode_id,
                rejected_episode_id,
            } if chosen_episode_id == episode_id && rejected_episode_id != episode_id => {
                won += 1;
                1.0
            }
            FeedbackValue::Preference {
                rejected_episode_id,
                chosen_episode_id,
            } if rejected_episode_id == episode_id && chosen_episode_id != episode_id => {
                lost += 1;
                0.0
            }
            FeedbackValue::Critique { episode_id: e, .. } if e == episode_id => {
                critiques += 1;
                continue;
            }
            _ => continue,
        };
        sum += w * value;
        total_w += w;
    }
    let mut out = reward.clone();
    if total_w <= 0.0 {
        out.components.push(RewardComponent {
            name: "feedback".into(),
            value: 0.0,
            weight: 0.0,
            reason: format!("no numeric feedback ({critiques} critiques); the reward is unchanged"),
        });
        return out;
    }
    let value = sum / total_w;
    out.total = ((1.0 - weight) * reward.total + weight * value).clamp(0.0, 1.0);
    out.components.push(RewardComponent {
        name: "feedback".into(),
        value,
        weight,
        reason: format!(
            "{scores} scores, preferred {won} times and passed over {lost} times, {critiques} critiques"
        ),
    });
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rec(kind: RaterKind, value: FeedbackValue) -> FeedbackRecord {
        FeedbackRecord {
            id: "x".into(),
            rater: "r".into(),
            rater_kind: kind,
            value,
            received_at_ms: 0,
        }
    }

    fn reward(total: f64) -> Reward {
        Reward {
            total,
            components: vec![],
        }
    }

    #[test]
    fn scores_and_preferences_move_the_total_by_the_weight() {
        let fb = vec![
            rec(
                RaterKind::Human,
                FeedbackValue::Score {
                    episode_id: "a".into(),
                    score: 1.0,
                },
            ),
            rec(
                RaterKind::Human,
                FeedbackValue::Preference {
                    chosen_episode_id: "b".into(),
                    rejected_episode_id: "a".into(),
                },
            ),
        ];
        let rubric = FeedbackBlend {
            weight: 0.5,
            ai_rater_weight: 1.0,
        };
        let out = blend(&reward(0.2), "a", &fb, &rubric);
        // Feedback value: mean of 1.0 and 0.0.
        assert!((out.total - (0.5 * 0.2 + 0.5 * 0.5)).abs() < 1e-9);
        let c = out
            .components
            .iter()
            .find(|c| c.name == "feedback")
            .unwrap();
        assert_eq!(c.weight, 0.5);
        assert!((c.value - 0.5).abs() < 1e-9);
    }

    #[test]
    fn ai_raters_count_by_their_weight_and_critiques_not_at_all() {
        let fb = vec![
            rec(
                RaterKind::Human,
                FeedbackValue::Score {
                    episode_id: "a".into(),
                    score: 1.0,
                },
            ),
            rec(
                RaterKind::Ai,
                FeedbackValue::Score {
                    episode_id: "a".into(),
                    score: 0.0,
                },
            ),
            rec(
                RaterKind::Human,
                FeedbackValue::Critique {
                    episode_id: "a".into(),
                    text: "missed the deploy".into(),
                },
            ),
        ];
        let rubric = FeedbackBlend {
            weight: 1.0,
            ai_rater_weight: 0.25,
        };
        let out = blend(&reward(0.0), "a", &fb, &rubric);
        assert!((out.total - 1.0 / 1.25).abs() < 1e-9);
    }

    #[test]
    fn no_numeric_feedback_leaves_the_total_alone() {
        let out = blend(
            &reward(0.7),
            "a",
            &[],
            &FeedbackBlend {
                weight: 0.9,
                ai_rater_weight: 1.0,
            },
        );
        assert_eq!(out.total, 0.7);
        assert_eq!(out.components.len(), 1);
    }
}
