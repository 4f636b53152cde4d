//! Human and AI feedback (RLHAIF): stored with its episode, blended into rewards, and
//! exported as DPO pairs and reward-model samples.
//!
//! The store is two append-only JSONL files in one directory (by default the episodes'
//! output directory): `feedback.jsonl` (one [`FeedbackRecord`] a line, idempotent by
//! its id) and `episodes.jsonl` (one [`EpisodeRecord`] a line: the prompt and the
//! trajectory as text, what an export needs). No database: a line is small, the files
//! are read whole at open, and they stay greppable.

mod blend;
mod export;
mod store;

pub use blend::blend;
pub use export::{export, export_rewards, ExportFormat, ExportSummary};
pub use store::{FeedbackStore, StoreError, EPISODES_FILE, FEEDBACK_FILE};

use serde::{Deserialize, Serialize};

use otrashi_proto::v1 as pb;

/// Who gave the feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RaterKind {
    /// A person.
    Human,
    /// A model acting as a judge.
    Ai,
}

/// What the feedback says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FeedbackValue {
    /// A scalar score of one episode, in [0, 1].
    Score {
        /// The episode.
        episode_id: String,
        /// The score.
        score: f64,
    },
    /// One episode is preferred over another.
    Preference {
        /// The preferred episode.
        chosen_episode_id: String,
        /// The other.
        rejected_episode_id: String,
    },
    /// A written critique of one episode.
    Critique {
        /// The episode.
        episode_id: String,
        /// The text.
        text: String,
    },
}

/// One piece of feedback as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackRecord {
    /// The idempotency id: stored once.
    pub id: String,
    /// Who rated.
    pub rater: String,
    /// Human or AI.
    pub rater_kind: RaterKind,
    /// What was said.
    #[serde(flatten)]
    pub value: FeedbackValue,
    /// When it was stored, milliseconds since the Unix epoch.
    #[serde(default)]
    pub received_at_ms: u64,
}

impl FeedbackRecord {
    /// The episodes this feedback is about (two for a preference).
    pub fn episode_ids(&self) -> Vec<&str> {
        match &self.value {
            FeedbackValue::Score { episode_id, .. }
            | FeedbackValue::Critique { episode_id, .. } => {
                vec![episode_id]
            }
            FeedbackValue::Preference {
                chosen_episode_id,
                rejected_episode_id,
            } => vec![chosen_episode_id, rejected_episode_id],
        }
    }

    /// Reads a protobuf `Feedback`; explains what is missing.
    pub fn from_proto(fb: &pb::Feedback) -> Result<FeedbackRecord, String> {
        if fb.id.trim().is_empty() {
            return Err("feedback has no id: set an idempotency id".into());
        }
        let rater_kind = match pb::RaterKind::try_from(fb.rater_kind) {
            Ok(pb::RaterKind::Human) => RaterKind::Human,
            Ok(pb::RaterKind::Ai) => RaterKind::Ai,
            _ => {
                return Err("feedback rater_kind must be RATER_KIND_HUMAN or RATER_KIND_AI".into())
            }
        };
        let value = match &fb.value {
            Some(pb::feedback::Value::Score(s)) if !s.episode_id.is_empty() => {
                if !s.score.is_finite() {
                    return Err("feedback score is not a finite number".into());
                }
                FeedbackValue::Score {
                    episode_id: s.episode_id.clone(),
                    score: s.score,
                }
            }
            Some(pb::feedback::Value::Preference(p))
                if !p.chosen_episode_id.is_empty() && !p.rejected_episode_id.is_empty() =>
            {
                FeedbackValue::Preference {
                    chosen_episode_id: p.chosen_episode_id.clone(),
                    rejected_episode_id: p.rejected_episode_id.clone(),
                }
            }
            Some(pb::feedback::Value::Critique(c)) if !c.episode_id.is_empty() => {
                FeedbackValue::Critique {
                    episode_id: c.episode_id.clone(),
                    text: c.text.clone(),
                }
            }
            Some(_) => return Err("feedback names no episode id".into()),
            None => return Err("feedback carries no score, preference or critique".into()),
        };
        Ok(FeedbackRecord {
            id: fb.id.clone(),
            rater: fb.rater.clone(),
            rater_kind,
            value,
            received_at_ms: 0,
        })
    }
}

/// An episode as the feedback export needs it: the prompt and the trajectory as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeRecord {
    /// The episode's id.
    pub episode_id: String,
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// The agent's name.
    pub agent: String,
    /// The trainer's policy version when the episode started ("" if none).
    #[serde(default)]
    pub policy_version: String,
    /// The alert and the tool specs, as the agent was prompted.
    pub prompt: String,
    /// The trajectory (tool calls, observations, the report) as text.
    pub response: String,
    /// The gym's reward of the episode.
    pub reward: f64,
}
