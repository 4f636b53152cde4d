//! The values the Gym API takes and returns.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use otrashi_scenarios::incident::SampleError;
use otrashi_scenarios::{GroundTruth, Incident};

use crate::backend::BackendError;
use crate::observation::Observation;
use crate::score::Reward;
use crate::scorer::Scorer;

/// How a [`crate::gym::Gym`] runs its episodes.
#[derive(Clone)]
pub struct GymConfig {
    /// Tool calls allowed per episode, the report included (default 30).
    pub max_steps: u32,
    /// Wall-clock time the agent may take, from the end of `reset` (default 10 min).
    pub time_budget: std::time::Duration,
    /// Parses and scores reports.
    pub scorer: Arc<dyn Scorer>,
    /// Cancel this to stop a running `reset` (Ctrl-C): the backend stops, the
    /// environment is torn down, and `reset` returns [`GymError::Backend`] with
    /// [`BackendError::Cancelled`]. Prefer it to dropping the future, which cannot run
    /// the asynchronous teardown.
    pub cancel: CancellationToken,
}

impl GymConfig {
    /// The defaults (30 steps, 10 minutes) with a scorer.
    pub fn new(scorer: Arc<dyn Scorer>) -> GymConfig {
        GymConfig {
            max_steps: 30,
            time_budget: std::time::Duration::from_secs(600),
            scorer,
            cancel: CancellationToken::new(),
        }
    }
}

impl std::fmt::Debug for GymConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GymConfig")
            .field("max_steps", &self.max_steps)
            .field("time_budget", &self.time_budget)
            .finish_non_exhaustive()
    }
}

/// Options of one `reset`.
#[derive(Debug, Clone, Default)]
pub struct ResetOptions {
    /// Run this incident instead of sampling the scenario (replaying a dataset row);
    /// its own seed is used.
    pub incident: Option<Incident>,
}

/// Why an episode ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The agent submitted a report that could be read.
    Submitted,
    /// The step budget ran out before a report.
    StepBudget,
    /// The time budget ran out before a report.
    TimeBudget,
    /// The agent failed outside the gym (its process timed out, crashed or exited
    /// without a report); the caller ended the episode with [`crate::gym::Gym::abort`].
    AgentFailed,
}

/// Side information of `reset` and `step`, as Gymnasium's `info` dict. It is for the
/// trainer, not the agent under test: the scenario name and seed are enough to sample
/// the incident again and read its truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Info {
    /// The episode's id.
    pub episode_id: String,
    /// The seed the incident was sampled with.
    pub seed: u64,
    /// The scenario's name.
    pub scenario: String,
    /// The backend that ran it.
    pub backend: String,
    /// Steps taken so far.
    pub step: u32,
    /// The step budget.
    pub max_steps: u32,
    /// The time budget, seconds.
    pub time_budget_s: f64,
    /// Whether this step's action was malformed or could not be answered.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invalid_action: bool,
    /// Why, for an invalid action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Non-fatal problems (report fields ignored, a teardown that failed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Why the episode ended, on the last step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<EndReason>,
    /// The score breakdown, on the last step (a scored report, or the truncation
    /// reward).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<Reward>,
    /// The ground truth, revealed on the last step only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truth: Option<GroundTruth>,
}

/// What `step` returns: the Gymnasium 5-tuple.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutcome {
    /// What the agent sees next.
    pub observation: Observation,
    /// This step's reward: the report's total on the final step, the scorer's
    /// truncation reward when a budget ran out (0 by default), minus the scorer's
    /// per-step shaping penalty on an invalid action (0 by default), else 0.
    pub reward: f64,
    /// The episode ended with a report.
    pub terminated: bool,
    /// The episode ended because a budget ran out.
    pub truncated: bool,
    /// Side information.
    pub info: Info,
}

/// One step of an episode, as the trajectory records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryStep {
    /// 1-based step number.
    pub step: u32,
    /// The tool as the agent named it.
    pub tool: String,
    /// The arguments as the agent sent them.
    pub args: Value,
    /// What the agent saw.
    pub observation: Observation,
    /// Size of the observation's JSON, bytes.
    pub observation_bytes: usize,
    /// The step's reward.
    pub reward: f64,
    /// Milliseconds since the end of `reset`.
    pub t_ms: u64,
    /// Why the action was invalid, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Misuse of the Gym or a failure to run an episode.
#[derive(Debug, thiserror::Error)]
pub enum GymError {
    /// `step` was called before any `reset`.
    #[error("step called before reset: call reset first")]
    NotReset,
    /// `step` was called after the episode ended.
    #[error("the episode is over ({reason:?}); call reset to start another")]
    EpisodeOver {
        /// How it ended.
        reason: EndReason,
    },
    /// The Gym was closed.
    #[error("the gym is closed")]
    Closed,
    /// The scenario could not be sampled.
    #[error("cannot sample the scenario")]
    Sample(#[from] SampleError),
    /// The backend cannot run the incident, or failed to provision or run it (the
    /// environment was torn down).
    #[error("the {backend} backend failed")]
    Backend {
        /// The backend's name.
        backend: &'static str,
        /// What failed.
        #[source]
        source: BackendError,
    },
    /// The run failed, and tearing down failed too; resources labelled with the
    /// episode id may be left over.
    #[error("the {backend} backend failed ({run}), and so did the teardown")]
    RunAndTeardown {
        /// The backend's name.
        backend: &'static str,
        /// Why the run failed.
        run: BackendError,
        /// Why the teardown failed.
        #[source]
        teardown: BackendError,
    },
}
