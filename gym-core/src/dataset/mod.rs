//! Export formats for synthetic incident datasets: what `otrashi generate` writes.
//!
//! Pure functions from an incident, its ground truth and its telemetry to files or rows;
//! the command line decides which incidents to generate and where, and this module how
//! each one is laid out:
//! - [`native`]: otrashi's own telemetry files plus one JSONL manifest row per incident;
//! - [`rcaeval`]: the RCAEval benchmark layout (`<service>_<fault>/<run>/data.csv` and
//!   `inject_time.txt`), so RCA methods written against RCAEval run unchanged;
//! - [`chat`]: rows an LLM trainer loads directly (TRL SFT `messages` with tool calls), a
//!   reference investigation executed through the real tools.

pub mod chat;
pub mod native;
pub mod rcaeval;

use std::path::{Path, PathBuf};

use otrashi_scenarios::rng::stable_hash;
use otrashi_scenarios::Incident;

/// Why a dataset file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// Creating, writing or renaming a file failed.
    #[error("cannot write {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// A value could not be encoded as JSON.
    #[error("cannot encode {what} as JSON")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's error.
        #[source]
        source: serde_json::Error,
    },
    /// The telemetry files could not be written.
    #[error(transparent)]
    Artifact(#[from] crate::artifacts::ArtifactError),
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A content hash of an incident: FNV-1a of its JSON with the seed left out, in hex.
///
/// The seed is left out because it always differs between draws; two draws that made the
/// same choices (targets, times, parameters, red herrings) are the same incident for a
/// dataset, whatever seed produced them.
pub fn incident_content_hash(incident: &Incident) -> String {
    let mut copy = incident.clone();
    copy.seed = 0;
    let bytes = serde_json::to_vec(&copy).unwrap_or_default();
    format!("{:016x}", stable_hash(&bytes))
}

/// The seed of the `attempt`-th draw for incident `index` of a dataset generated with
/// `seed`. A stable hash, so that incident 7 has the same seed whether it is generated
/// in one run or after a resume, and neighbouring incidents get unrelated seeds.
pub fn derive_seed(seed: u64, index: u64, attempt: u64) -> u64 {
    let mut bytes = [0u8; 24];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&index.to_le_bytes());
    bytes[16..].copy_from_slice(&attempt.to_le_bytes());
    stable_hash(&bytes)
}

#[cfg(test)]
mod tests;
