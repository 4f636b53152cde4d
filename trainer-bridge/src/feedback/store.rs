//! The file-backed feedback store.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{EpisodeRecord, FeedbackRecord};

/// The feedback file's name in a store directory.
pub const FEEDBACK_FILE: &str = "feedback.jsonl";
/// The episodes file's name in a store directory.
pub const EPISODES_FILE: &str = "episodes.jsonl";

/// A store that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file operation failed.
    #[error("feedback store {path}: {action} failed")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A record could not be turned into JSON.
    #[error("cannot encode a feedback record")]
    Encode(#[source] serde_json::Error),
    /// The store's lock was poisoned by a panic in another thread.
    #[error("the feedback store's lock was poisoned by a panic")]
    Poisoned,
}

#[derive(Debug, Default)]
struct Inner {
    feedback: Vec<FeedbackRecord>,
    ids: HashSet<String>,
    by_episode: HashMap<String, Vec<usize>>,
    episodes: HashMap<String, EpisodeRecord>,
}

/// Feedback and episode records in a directory; safe to share between threads.
#[derive(Debug)]
pub struct FeedbackStore {
    dir: PathBuf,
    inner: Mutex<Inner>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, StoreError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(StoreError::Io {
                action: "open",
                path: path.to_owned(),
                source,
            })
        }
    };
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| StoreError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(v) => out.push(v),
            // A crash mid-append leaves a partial line: that record was never confirmed
            // to the sender, who sends it again with the same id, so it is skipped.
            Err(e) => {
                tracing::warn!(path = %path.display(), line = i + 1, error = %e,
                    "feedback store: skipping a line that is not a record (a partial write?)");
            }
        }
    }
    Ok(out)
}

fn append_line(path: &Path, value: &impl Serialize) -> Result<(), StoreError> {
    let mut line = serde_json::to_string(value).map_err(StoreError::Encode)?;
    line.push('\n');
    let io = |action| {
        move |source| StoreError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    };
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io("open"))?;
    // A partial last line (a crash mid-append) must not swallow this record.
    let len = f.metadata().map_err(io("stat"))?.len();
    if len > 0 && !ends_with_newline(path)? {
        line.insert(0, '\n');
    }
    // One write per line: appends from one process do not interleave.
    f.write_all(line.as_bytes()).map_err(io("append"))?;
    f.sync_data().map_err(io("sync"))?;
    Ok(())
}

fn ends_with_newline(path: &Path) -> Result<bool, StoreError> {
    use std::io::{Read, Seek, SeekFrom};
    let io = |source| StoreError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    };
    let mut f = File::open(path).map_err(io)?;
    f.seek(SeekFrom::End(-1)).map_err(io)?;
    let mut last = [0u8; 1];
    f.read_exact(&mut last).map_err(io)?;
    Ok(last[0] == b'\n')
}

impl FeedbackStore {
    /// Opens the store in `dir` (created if missing) and reads what it holds.
    pub fn open(dir: impl Into<PathBuf>) -> Result<FeedbackStore, StoreError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
            action: "create directory",
            path: dir.clone(),
            source,
        })?;
        let mut inner = Inner::default();
        for rec in read_jsonl::<FeedbackRecord>(&dir.join(FEEDBACK_FILE))? {
            inner.add(rec);
        }
        for ep in read_jsonl::<EpisodeRecord>(&dir.join(EPISODES_FILE))? {
            inner.episodes.insert(ep.episode_id.clone(), ep);
        }
        Ok(FeedbackStore {
            dir,
            inner: Mutex::new(inner),
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, StoreError> {
        self.inner.lock().map_err(|_| StoreError::Poisoned)
    }

    /// Stores a feedback record unless one with its id is stored; returns whether it was
    /// new. The line is on disk (synced) when this returns `Ok`.
    pub fn insert(&self, mut record: FeedbackRecord) -> Result<bool, StoreError> {
        let mut inner = self.lock()?;
        if inner.ids.contains(&record.id) {
            return Ok(false);
        }
        if record.received_at_ms == 0 {
            record.received_at_ms = now_ms();
        }
        append_line(&self.dir.join(FEEDBACK_FILE), &record)?;
        inner.add(record);
        Ok(true)
    }

    /// Records an episode for export; a second record of the same id is ignored.
    pub fn record_episode(&self, episode: EpisodeRecord) -> Result<bool, StoreError> {
        let mut inner = self.lock()?;
        if inner.episodes.contains_key(&episode.episode_id) {
            return Ok(false);
        }
        append_line(&self.dir.join(EPISODES_FILE), &episode)?;
        inner.episodes.insert(episode.episode_id.clone(), episode);
        Ok(true)
    }

    /// The feedback about an episode, in arrival order.
    pub fn for_episode(&self, episode_id: &str) -> Result<Vec<FeedbackRecord>, StoreError> {
        let inner = self.lock()?;
        Ok(inner
            .by_episode
            .get(episode_id)
            .map(|idx| idx.iter().map(|&i| inner.feedback[i].clone()).collect())
            .unwrap_or_default())
    }

    /// Every feedback record, in arrival order.
    pub fn all_feedback(&self) -> Result<Vec<FeedbackRecord>, StoreError> {
        Ok(self.lock()?.feedback.clone())
    }

    /// A recorded episode.
    pub fn episode(&self, episode_id: &str) -> Result<Option<EpisodeRecord>, StoreError> {
        Ok(self.lock()?.episodes.get(episode_id).cloned())
    }

    /// Every recorded episode, ordered by id (a stable order for exports).
    pub fn all_episodes(&self) -> Result<Vec<EpisodeRecord>, StoreError> {
        let mut episodes: Vec<EpisodeRecord> = self.lock()?.episodes.values().cloned().collect();
        episodes.sort_by(|a, b| a.episode_id.cmp(&b.episode_id));
        Ok(episodes)
    }

    /// How many feedback records are stored.
    pub fn len(&self) -> Result<usize, StoreError> {
        Ok(self.lock()?.feedback.len())
    }

    /// Whether no feedback is stored.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }
}

impl Inner {
    fn add(&mut self, rec: FeedbackRecord) {
        if !self.ids.insert(rec.id.clone()) {
            return;
        }
        let idx = self.feedback.len();
        for ep in rec.episode_ids() {
            self.by_episode.entry(ep.to_owned()).or_default().push(idx);
        }
        self.feedback.push(rec);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::feedback::{FeedbackValue, RaterKind};

    fn score(id: &str, ep: &str, s: f64) -> FeedbackRecord {
        FeedbackRecord {
            id: id.into(),
            rater: "alice".into(),
            rater_kind: RaterKind::Human,
            value: FeedbackValue::Score {
                episode_id: ep.into(),
                score: s,
            },
            received_at_ms: 0,
        }
    }

    #[test]
    fn the_same_id_is_stored_once_across_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let store = FeedbackStore::open(dir.path()).unwrap();
        assert!(store.insert(score("f1", "ep-a", 0.5)).unwrap());
        assert!(!store.insert(score("f1", "ep-a", 0.9)).unwrap());
        drop(store);
        let store = FeedbackStore::open(dir.path()).unwrap();
        assert!(!store.insert(score("f1", "ep-a", 0.9)).unwrap());
        let got = store.for_episode("ep-a").unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].value,
            FeedbackValue::Score {
                episode_id: "ep-a".into(),
                score: 0.5
            }
        );
    }

    #[test]
    fn a_preference_is_filed_under_both_episodes() {
        let dir = tempfile::tempdir().unwrap();
        let store = FeedbackStore::open(dir.path()).unwrap();
        store
            .insert(FeedbackRecord {
                id: "p".into(),
                rater: "judge".into(),
                rater_kind: RaterKind::Ai,
                value: FeedbackValue::Preference {
                    chosen_episode_id: "a".into(),
                    rejected_episode_id: "b".into(),
                },
                received_at_ms: 0,
            })
            .unwrap();
        assert_eq!(store.for_episode("a").unwrap().len(), 1);
        assert_eq!(store.for_episode("b").unwrap().len(), 1);
    }

    #[test]
    fn a_partial_last_line_is_dropped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let store = FeedbackStore::open(dir.path()).unwrap();
        store.insert(score("f1", "ep", 1.0)).unwrap();
        drop(store);
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(FEEDBACK_FILE))
            .unwrap();
        f.write_all(b"{\"id\": \"f2\", \"rat").unwrap();
        let store = FeedbackStore::open(dir.path()).unwrap();
        assert_eq!(store.len().unwrap(), 1);
        // The sender retries: the record goes on its own line and reads back.
        assert!(store.insert(score("f2", "ep", 0.0)).unwrap());
        drop(store);
        assert_eq!(FeedbackStore::open(dir.path()).unwrap().len().unwrap(), 2);
    }
}
