//! Running one whole episode with an in-process agent: what `otrashi run` and
//! `otrashi eval` do for each seed.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use otrashi_scenarios::{GroundTruth, Incident};

use crate::agents::Agent;
use crate::gym::{EndReason, Gym, GymError, Info, ResetOptions, TrajectoryStep};
use crate::observation::Observation;
use crate::report::RcaReport;
use crate::score::Reward;
use crate::telemetry::Telemetry;

/// Everything one episode produced.
#[derive(Debug, Clone, Serialize)]
pub struct EpisodeResult {
    /// The episode's id.
    pub episode_id: String,
    /// The seed.
    pub seed: u64,
    /// The scenario's name.
    pub scenario: String,
    /// The agent's name.
    pub agent: String,
    /// The concrete incident that ran.
    pub incident: Incident,
    /// The truth.
    pub truth: GroundTruth,
    /// The first observation (the alert and the tools).
    pub start: Observation,
    /// The accepted report, if any.
    pub report: Option<RcaReport>,
    /// The score breakdown: of the accepted report, or the truncation reward.
    pub reward: Option<Reward>,
    /// The episode's return: the sum of step rewards.
    pub total_reward: f64,
    /// How it ended.
    pub end_reason: EndReason,
    /// Steps taken.
    pub steps: u32,
    /// Malformed actions.
    pub invalid_actions: u32,
    /// Wall-clock seconds from reset to the end, the backend run included.
    pub elapsed_s: f64,
    /// Every step.
    pub trajectory: Vec<TrajectoryStep>,
    /// Why the agent failed, when the episode was ended with [`Gym::abort`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The telemetry the agent investigated.
    #[serde(skip)]
    pub telemetry: Arc<Telemetry>,
}

/// Resets the gym, lets the agent act until the episode ends, and collects the result.
///
/// Generic over the agent so that the future is `Send` (can be spawned) whenever the
/// agent is; `&mut dyn Agent` works too.
pub async fn run_episode<A: Agent + ?Sized>(
    gym: &mut Gym,
    agent: &mut A,
    seed: Option<u64>,
) -> Result<EpisodeResult, GymError> {
    run_episode_with(gym, agent, seed, ResetOptions::default()).await
}

/// As [`run_episode`], with reset options (to replay a given incident).
pub async fn run_episode_with<A: Agent + ?Sized>(
    gym: &mut Gym,
    agent: &mut A,
    seed: Option<u64>,
    options: ResetOptions,
) -> Result<EpisodeResult, GymError> {
    let began = Instant::now();
    let (start, info) = gym.reset(seed, options).await?;
    let mut obs = start.clone();
    loop {
        let action = agent.act(&obs);
        let out = gym.step(action)?;
        obs = out.observation;
        if out.info.end_reason.is_some() {
            break;
        }
    }
    EpisodeResult::collect(gym, start, info, agent.name(), began)
}

impl EpisodeResult {
    /// Collects the result of an ended episode from the gym: what `run_episode` returns,
    /// and what callers that drive the agent themselves (a command agent over HTTP)
    /// build at the end. `began` is when the caller started the reset.
    pub fn collect(
        gym: &Gym,
        start: Observation,
        info: Info,
        agent: &str,
        began: Instant,
    ) -> Result<EpisodeResult, GymError> {
        let end_reason = gym.end_reason().ok_or(GymError::NotReset)?;
        let (Some(truth), Some(incident), Some(telemetry)) = (
            gym.revealed_truth().cloned(),
            gym.revealed_incident().cloned(),
            gym.telemetry().cloned(),
        ) else {
            // An ended episode reveals all three.
            return Err(GymError::NotReset);
        };
        let trajectory = gym.trajectory().to_vec();
        // The return: every step's reward, plus the truncation reward of an abort,
        // which is not a step.
        let mut total_reward: f64 = trajectory.iter().map(|s| s.reward).sum();
        if end_reason == EndReason::AgentFailed {
            total_reward += gym.reward().map_or(0.0, |r| r.total);
        }
        Ok(EpisodeResult {
            episode_id: info.episode_id,
            seed: info.seed,
            scenario: info.scenario,
            agent: agent.to_owned(),
            incident,
            truth,
            start,
            report: gym.report().cloned(),
            reward: gym.reward().cloned(),
            total_reward,
            end_reason,
            steps: u32::try_from(trajectory.len()).unwrap_or(u32::MAX),
            invalid_actions: gym.invalid_actions(),
            elapsed_s: began.elapsed().as_secs_f64(),
            failure: gym.failure().map(str::to_owned),
            trajectory,
            telemetry,
        })
    }
}
