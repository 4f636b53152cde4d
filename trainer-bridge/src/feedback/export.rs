//! Exporting stored feedback as training data that TRL and OpenRLHF read.
//!
//! - `dpo`: one line per pairwise preference, `{"prompt", "chosen", "rejected"}`: TRL's
//!   `DPOTrainer` standard (non-conversational) format, and OpenRLHF's
//!   `--prompt_key prompt --chosen_key chosen --rejected_key rejected`.
//! - `rm`: one line per scalar score, `{"prompt", "response", "score"}`.
//! - `rewards` ([`export_rewards`]): one line per recorded episode with the gym's reward
//!   blended with the episode's feedback by the rubric's `[feedback]` section,
//!   `{"prompt", "response", "score", "reward", "feedback_count", …}` — what an RL
//!   trainer consumes once human and AI raters have had their say.
//!
//! A preference needs both episodes recorded with the same prompt (the same alert and
//! tools): a pair over different incidents is not a preference between answers to one
//! prompt, so it is skipped and counted.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::json;

use super::{FeedbackStore, FeedbackValue, StoreError};

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Preference pairs for DPO.
    Dpo,
    /// Scored samples for a reward model.
    Rm,
}

/// What an export wrote and why it left records out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Lines written.
    pub written: usize,
    /// Records of the wanted kind whose episode is not in the store.
    pub missing_episode: usize,
    /// Preferences between episodes with different prompts.
    pub different_prompts: usize,
}

/// Writes the store's feedback in `format` as JSONL to `out`.
pub fn export(
    store: &FeedbackStore,
    format: ExportFormat,
    out: &Path,
) -> Result<ExportSummary, StoreError> {
    let io = |action: &'static str, path: &Path| {
        let path: PathBuf = path.to_owned();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    };
    let mut w = BufWriter::new(File::create(out).map_err(io("create", out))?);
    let mut summary = ExportSummary::default();
    for rec in store.all_feedback()? {
        let line = match (&rec.value, format) {
            (
                FeedbackValue::Preference {
                    chosen_episode_id,
                    rejected_episode_id,
                },
                ExportFormat::Dpo,
            ) => {
                let (Some(chosen), Some(rejected)) = (
                    store.episode(chosen_episode_id)?,
                    store.episode(rejected_episode_id)?,
                ) else {
                    summary.missing_episode += 1;
                    continue;
                };
                if chosen.prompt != rejected.prompt {
                    summary.different_prompts += 1;
                    continue;
                }
                json!({
                    "prompt": chosen.prompt,
                    "chosen": chosen.response,
                    "rejected": rejected.response,
                    "feedback_id": rec.id,
                    "rater": rec.rater,
                    "rater_kind": rec.rater_kind,
                })
            }
            (FeedbackValue::Score { episode_id, score }, ExportFormat::Rm) => {
                let Some(ep) = store.episode(episode_id)? else {
                    summary.missing_episode += 1;
                    continue;
                };
                json!({
                    "prompt": ep.prompt,
                    "response": ep.response,
                    "score": score.clamp(0.0, 1.0),
                    "episode_id": ep.episode_id,
                    "feedback_id": rec.id,
                    "rater": rec.rater,
                    "rater_kind": rec.rater_kind,
                })
            }
            _ => continue,
        };
        writeln!(w, "{line}").map_err(io("write", out))?;
        summary.written += 1;
    }
    w.flush().map_err(io("flush", out))?;
    Ok(summary)
}

/// Writes one line per recorded episode: its reward blended with its feedback by
/// `rubric` (see [`super::blend`]). With the default rubric (feedback weight 0) the score
/// is the gym's reward.
pub fn export_rewards(
    store: &FeedbackStore,
    rubric: &otrashi_gym::score::FeedbackBlend,
    out: &Path,
) -> Result<ExportSummary, StoreError> {
    let io = |action: &'static str| {
        let path: PathBuf = out.to_owned();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    };
    let mut w = BufWriter::new(File::create(out).map_err(io("create"))?);
    let mut summary = ExportSummary::default();
    let feedback = store.all_feedback()?;
    for episode in store.all_episodes()? {
        let automatic = otrashi_gym::score::Reward {
            total: episode.reward,
            components: Vec::new(),
        };
        let blended = super::blend(&automatic, &episode.episode_id, &feedback, rubric);
        let about = store.for_episode(&episode.episode_id)?.len();
        let line = json!({
            "prompt": episode.prompt,
            "response": episode.response,
            "score": blended.total,
            "reward": episode.reward,
            "feedback_count": about,
            "feedback": blended.components.iter().find(|c| c.name == "feedback"),
            "episode_id": episode.episode_id,
            "scenario": episode.scenario,
            "seed": episode.seed,
            "policy_version": episode.policy_version,
        });
        serde_json::to_writer(&mut w, &line).map_err(StoreError::Encode)?;
        w.write_all(b"\n").map_err(io("write"))?;
        summary.written += 1;
    }
    w.flush().map_err(io("write"))?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::feedback::{EpisodeRecord, FeedbackRecord, RaterKind};

    fn episode(id: &str, prompt: &str, response: &str) -> EpisodeRecord {
        EpisodeRecord {
            episode_id: id.into(),
            scenario: "s".into(),
            seed: 0,
            agent: "a".into(),
            policy_version: String::new(),
            prompt: prompt.into(),
            response: response.into(),
            reward: 0.0,
        }
    }

    fn fb(id: &str, value: FeedbackValue) -> FeedbackRecord {
        FeedbackRecord {
            id: id.into(),
            rater: "alice".into(),
            rater_kind: RaterKind::Human,
            value,
            received_at_ms: 0,
        }
    }

    #[test]
    fn dpo_pairs_share_a_prompt_and_rm_samples_carry_the_score() {
        let dir = tempfile::tempdir().unwrap();
        let store = FeedbackStore::open(dir.path()).unwrap();
        store
            .record_episode(episode("a", "P", "good answer"))
            .unwrap();
        store
            .record_episode(episode("b", "P", "bad answer"))
            .unwrap();
        store
            .record_episode(episode("c", "Q", "other incident"))
            .unwrap();
        let pref = |id: &str, c: &str, r: &str| {
            fb(
                id,
                FeedbackValue::Preference {
                    chosen_episode_id: c.into(),
                    rejected_episode_id: r.into(),
                },
            )
        };
        store.insert(pref("p1", "a", "b")).unwrap();
        store.insert(pref("p2", "a", "c")).unwrap();
        store.insert(pref("p3", "a", "zzz")).unwrap();
        store
            .insert(fb(
                "s1",
                FeedbackValue::Score {
                    episode_id: "b".into(),
                    score: 0.25,
                },
            ))
            .unwrap();

        let out = dir.path().join("dpo.jsonl");
        let s = export(&store, ExportFormat::Dpo, &out).unwrap();
        assert_eq!(
            s,
            ExportSummary {
                written: 1,
                missing_episode: 1,
                different_prompts: 1
            }
        );
        let line: serde_json::Value =
            serde_json::from_str(std::fs::read_to_string(&out).unwrap().trim()).unwrap();
        assert_eq!(line["prompt"], "P");
        assert_eq!(line["chosen"], "good answer");
        assert_eq!(line["rejected"], "bad answer");

        let out = dir.path().join("rm.jsonl");
        let s = export(&store, ExportFormat::Rm, &out).unwrap();
        assert_eq!(s.written, 1);
        let line: serde_json::Value =
            serde_json::from_str(std::fs::read_to_string(&out).unwrap().trim()).unwrap();
        assert_eq!(line["response"], "bad answer");
        assert_eq!(line["score"], 0.25);
    }

    #[test]
    fn rewards_blend_the_gym_reward_with_feedback_by_the_rubric() {
        let dir = tempfile::tempdir().unwrap();
        let store = FeedbackStore::open(dir.path()).unwrap();
        let mut a = episode("a", "P", "answer");
        a.reward = 0.4;
        store.record_episode(a).unwrap();
        let mut b = episode("b", "P", "other");
        b.reward = 0.9;
        store.record_episode(b).unwrap();
        store
            .insert(fb(
                "s1",
                FeedbackValue::Score {
                    episode_id: "a".into(),
                    score: 1.0,
                },
            ))
            .unwrap();
        let out = dir.path().join("rewards.jsonl");
        let read = |out: &Path| -> Vec<serde_json::Value> {
            std::fs::read_to_string(out)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };

        // The default rubric does not blend: the score is the gym's reward.
        let s =
            export_rewards(&store, &otrashi_gym::score::FeedbackBlend::default(), &out).unwrap();
        assert_eq!(s.written, 2);
        let lines = read(&out);
        assert_eq!(lines[0]["episode_id"], "a");
        assert_eq!(lines[0]["score"], 0.4);
        assert_eq!(lines[0]["feedback_count"], 1);

        // Half the weight on feedback: a human's 1.0 lifts 0.4 to 0.7; the episode
        // without feedback keeps its reward.
        let rubric = otrashi_gym::score::FeedbackBlend {
            weight: 0.5,
            ai_rater_weight: 1.0,
        };
        export_rewards(&store, &rubric, &out).unwrap();
        let lines = read(&out);
        let score = lines[0]["score"].as_f64().unwrap();
        assert!((score - 0.7).abs() < 1e-9, "{score}");
        assert_eq!(lines[1]["score"], 0.9);
    }
}
