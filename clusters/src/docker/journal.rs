//! The write-ahead journal of fault injections: one JSON line per step, appended and
//! flushed before the step's effect is made (`inject-begin`), after it (`inject-done`)
//! and after its revert (`revert-done`). A gym killed mid-episode leaves the journal
//! behind; the next start reads it and undoes what is journaled but not reverted.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why the journal could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A file operation failed.
    #[error("journal {path}: {action} failed")]
    Io {
        /// The journal file or directory.
        path: PathBuf,
        /// What was tried.
        action: &'static str,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
}

/// What a journal line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// About to inject.
    InjectBegin,
    /// Injected.
    InjectDone,
    /// Reverted (or found nothing to revert).
    RevertDone,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The step.
    pub step: Step,
    /// The episode.
    pub episode: String,
    /// The fault id in the incident.
    pub fault: String,
    /// The fault kind (`infra.network_loss`).
    pub kind: String,
    /// The container it acts on.
    pub container: String,
    /// How to undo it without this process' memory (an iptables rule, a limit).
    pub undo: Undo,
    /// Wall-clock time, Unix ms.
    pub unix_ms: i64,
}

/// What undoing a fault takes, for a process that did not inject it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Undo {
    /// Delete this iptables rule (arguments after `-D`) in the netns of `pid`.
    Iptables {
        /// Host PID whose network namespace holds the rule.
        pid: i64,
        /// Chain and match arguments.
        rule: Vec<String>,
    },
    /// Delete the root qdisc of `eth0` in the netns of `pid`.
    Qdisc {
        /// Host PID whose network namespace holds the qdisc.
        pid: i64,
    },
    /// Nothing outside the episode's containers changed: removing them undoes it.
    Containers,
    /// Several iptables rules in the netns of `pid`, deleted in order.
    IptablesRules {
        /// Host PID whose network namespace holds the rules.
        pid: i64,
        /// Each rule's chain and match arguments.
        rules: Vec<Vec<String>>,
    },
}

/// The journal of one episode.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
}

/// `~/.cache/otrashi/journal` (or `$OTRASHI_STATE_DIR/journal`).
pub fn dir() -> PathBuf {
    if let Some(d) = std::env::var_os("OTRASHI_STATE_DIR") {
        return PathBuf::from(d).join("journal");
    }
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".cache").join("otrashi").join("journal")
}

impl Journal {
    /// Opens (appending) the journal of `episode` in `dir`.
    pub fn open(dir: &Path, episode: &str) -> Result<Journal, JournalError> {
        std::fs::create_dir_all(dir).map_err(|source| JournalError::Io {
            path: dir.to_owned(),
            action: "create_dir_all",
            source,
        })?;
        let path = dir.join(format!("{episode}.jsonl"));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| JournalError::Io {
                path: path.clone(),
                action: "open",
                source,
            })?;
        Ok(Journal { path, file })
    }

    /// Appends and syncs one entry (it must be on disk before the effect happens).
    pub fn write(&mut self, entry: &Entry) -> Result<(), JournalError> {
        let mut line = serde_json::to_string(entry).unwrap_or_default();
        line.push('\n');
        let io = |action| {
            let path = self.path.clone();
            move |source| JournalError::Io {
                path,
                action,
                source,
            }
        };
        self.file.write_all(line.as_bytes()).map_err(io("write"))?;
        self.file.sync_data().map_err(io("sync"))
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The entries of a journal file (unreadable lines, such as one cut by a crash, are
/// skipped).
pub fn read(path: &Path) -> Result<Vec<Entry>, JournalError> {
    let file = File::open(path).map_err(|source| JournalError::Io {
        path: path.to_owned(),
        action: "open",
        source,
    })?;
    Ok(BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect())
}

/// The injections begun and not reverted, latest entry per fault.
pub fn pending(entries: &[Entry]) -> Vec<Entry> {
    let mut last: Vec<Entry> = Vec::new();
    for e in entries {
        match last
            .iter_mut()
            .find(|l| l.fault == e.fault && l.container == e.container)
        {
            Some(l) => *l = e.clone(),
            None => last.push(e.clone()),
        }
    }
    last.retain(|e| e.step != Step::RevertDone);
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(step: Step, fault: &str) -> Entry {
        Entry {
            step,
            episode: "ep-1".into(),
            fault: fault.into(),
            kind: "infra.network_loss".into(),
            container: "c".into(),
            undo: Undo::Iptables {
                pid: 1,
                rule: vec!["INPUT".into()],
            },
            unix_ms: 0,
        }
    }

    #[test]
    fn pending_lists_what_was_begun_and_not_reverted() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), "ep-1").unwrap();
        for e in [
            entry(Step::InjectBegin, "a"),
            entry(Step::InjectDone, "a"),
            entry(Step::InjectBegin, "b"),
            entry(Step::RevertDone, "a"),
        ] {
            j.write(&e).unwrap();
        }
        let entries = read(j.path()).unwrap();
        assert_eq!(entries.len(), 4);
        let p = pending(&entries);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].fault, "b");
        assert_eq!(p[0].step, Step::InjectBegin);
    }
}
