//! Exporting stored feedback as training data that TRL and OpenRLHF read.
//!
//! - `dpo`: one line per pairwise preference, `{"prompt", "chosen", "rejected"}`: TRL's
//!   `DPOTrainer` standard (non-conversational) format, and OpenRLHF's
//!   `--prompt_key prompt --chosen_key chosen --rejected_key rejected`.
//! - `rm`: one line per scalar score, `{"prompt", "response", "score"}`.
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
}
