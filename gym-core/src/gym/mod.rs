//! The Gym: `reset` runs an incident on a backend and opens an investigation, `step`
//! answers one tool call, a report ends it with a reward — the Gymnasium contract.
//!
//! The environment is torn down at the end of `reset`, before the agent's first step:
//! the agent investigates recorded telemetry, so a slow agent holds no containers and an
//! episode can be replayed from its artifacts.

mod types;

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use otrashi_scenarios::rng::stable_hash;
use otrashi_scenarios::{sample, GroundTruth, Incident, Scenario};

use crate::backend::Backend;
use crate::context::EpisodeContext;
use crate::observation::{Observation, ObservationKind};
use crate::query::wall;
use crate::report::RcaReport;
use crate::score::{EpisodeStats, Reward};
use crate::telemetry::Telemetry;
use crate::tools::{self, Action, ToolOutput};

pub use types::{EndReason, GymConfig, GymError, Info, ResetOptions, StepOutcome, TrajectoryStep};

/// One episode in progress or just ended. The truth stays in here until the end.
struct Episode {
    id: String,
    seed: u64,
    incident: Incident,
    truth: GroundTruth,
    telemetry: Arc<Telemetry>,
    started: Instant,
    steps: u32,
    invalid: u32,
    trajectory: Vec<TrajectoryStep>,
    ended: Option<EndReason>,
    report: Option<RcaReport>,
    reward: Option<Reward>,
    failure: Option<String>,
}

/// A gym over one scenario and one backend.
pub struct Gym {
    scenario: Scenario,
    backend: Arc<dyn Backend>,
    config: GymConfig,
    episode: Option<Episode>,
    resets: u64,
    closed: bool,
}

/// Bits of the wall clock, for seeds and ids when the caller gives none.
fn clock_entropy() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl Episode {
    /// How the episode has gone so far, for the scorer.
    fn stats(&self, max_steps: u32, budget: std::time::Duration) -> EpisodeStats {
        EpisodeStats {
            steps: self.steps,
            max_steps,
            elapsed_s: self.started.elapsed().as_secs_f64(),
            time_budget_s: budget.as_secs_f64(),
            invalid_actions: self.invalid,
        }
    }
}

impl Gym {
    /// Checks that an episode is running and returns the scorer and budgets for it.
    fn running_episode(
        &self,
    ) -> Result<(Arc<dyn crate::scorer::Scorer>, u32, std::time::Duration), GymError> {
        if self.closed {
            return Err(GymError::Closed);
        }
        let ep = self.episode.as_ref().ok_or(GymError::NotReset)?;
        if let Some(reason) = ep.ended {
            return Err(GymError::EpisodeOver { reason });
        }
        Ok((
            Arc::clone(&self.config.scorer),
            self.config.max_steps,
            self.config.time_budget,
        ))
    }

    /// A gym for a scenario on a backend.
    pub fn new(scenario: Scenario, backend: Arc<dyn Backend>, config: GymConfig) -> Gym {
        Gym {
            scenario,
            backend,
            config,
            episode: None,
            resets: 0,
            closed: false,
        }
    }

    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The configuration.
    pub fn config(&self) -> &GymConfig {
        &self.config
    }

    /// Starts an episode: samples the incident (from `seed`, or a fresh seed reported in
    /// the info), runs it on the backend, tears the environment down (also when the run
    /// fails), and returns the alert and the tool list.
    pub async fn reset(
        &mut self,
        seed: Option<u64>,
        options: ResetOptions,
    ) -> Result<(Observation, Info), GymError> {
        if self.closed {
            return Err(GymError::Closed);
        }
        self.resets += 1;
        self.episode = None;
        let incident = match options.incident {
            Some(i) => i,
            None => {
                let seed = seed.unwrap_or_else(|| {
                    stable_hash(
                        &(clock_entropy() ^ self.resets.wrapping_mul(0x9E37_79B9_7F4A_7C15))
                            .to_le_bytes(),
                    )
                });
                sample(&self.scenario, seed)?
            }
        };
        let seed = incident.seed;
        let backend_name = self.backend.name();
        let backend_err = |source| GymError::Backend {
            backend: backend_name,
            source,
        };
        self.backend.check(&incident).map_err(backend_err)?;
        // Opaque on purpose: the id reaches the agent (and labels on real resources),
        // and an id that spelled out the scenario and seed would let an agent re-sample
        // the incident and read its ground truth.
        let id = format!(
            "ep-{:016x}",
            stable_hash(
                &(clock_entropy() ^ self.resets.rotate_left(32) ^ seed.rotate_left(17))
                    .to_le_bytes()
            )
        );
        let mut cx = EpisodeContext::new(id.clone(), seed);
        cx.cancel = self.config.cancel.child_token();
        let mut env = self
            .backend
            .provision(&incident, &cx)
            .await
            .map_err(backend_err)?;
        let run = env.run(&cx).await;
        let down = env.teardown(&cx).await;
        let mut warnings = Vec::new();
        let telemetry = match (run, down) {
            (Ok(t), Ok(())) => t,
            (Ok(t), Err(e)) => {
                // The telemetry is complete; leftovers carry the episode label and the
                // next sweep removes them, so the episode can go on.
                warnings.push(format!("teardown failed, resources may be left over: {e}"));
                t
            }
            (Err(run), Ok(())) => return Err(backend_err(run)),
            (Err(run), Err(teardown)) => {
                return Err(GymError::RunAndTeardown {
                    backend: backend_name,
                    run,
                    teardown,
                })
            }
        };
        let truth = GroundTruth::derive(&incident);
        let observation = self.start_observation(&telemetry);
        let episode = Episode {
            id,
            seed,
            incident,
            truth,
            telemetry: Arc::new(telemetry),
            started: Instant::now(),
            steps: 0,
            invalid: 0,
            trajectory: Vec::new(),
            ended: None,
            report: None,
            reward: None,
            failure: None,
        };
        let mut info = self.info(&episode);
        info.warnings = warnings;
        self.episode = Some(episode);
        Ok((observation, info))
    }

    fn start_observation(&self, t: &Telemetry) -> Observation {
        let tools: Vec<Value> = tools::tool_specs()
            .iter()
            .map(|s| json!({"name": s.name, "description": s.summary()}))
            .collect();
        Observation {
            kind: ObservationKind::Start,
            tool: None,
            content: json!({
                "alert": {
                    "name": t.alert.name,
                    "service": t.alert.service,
                    "severity": t.alert.severity,
                    "summary": t.alert.summary,
                    "fired_at": wall(t, t.alert.t_ms),
                },
                "now": wall(t, t.end_ms),
                "telemetry_from": wall(t, 0),
                "task": "Find the root cause of this alert with the tools, then call submit_report with your ranked root causes and the evidence you saw.",
                "step_budget": self.config.max_steps,
                "tools": tools,
            }),
        }
    }

    fn info(&self, ep: &Episode) -> Info {
        Info {
            episode_id: ep.id.clone(),
            seed: ep.seed,
            scenario: ep.incident.scenario.clone(),
            backend: self.backend.name().to_owned(),
            step: ep.steps,
            max_steps: self.config.max_steps,
            time_budget_s: self.config.time_budget.as_secs_f64(),
            ..Info::default()
        }
    }

    /// Runs one tool call. A malformed call yields an error observation and counts as an
    /// invalid action; it never ends the episode by itself.
    pub fn step(&mut self, action: Action) -> Result<StepOutcome, GymError> {
        self.step_inner(Ok(action))
    }

    /// Runs one tool call written as text (an LLM's raw output). Text that is not an
    /// action costs a step and yields an error observation.
    pub fn step_text(&mut self, text: &str) -> Result<StepOutcome, GymError> {
        self.step_inner(Action::parse(text).map_err(|e| (text.to_owned(), e.to_string())))
    }

    fn step_inner(
        &mut self,
        action: Result<Action, (String, String)>,
    ) -> Result<StepOutcome, GymError> {
        let (scorer, max_steps, budget) = self.running_episode()?;
        let ep = self.episode.as_mut().ok_or(GymError::NotReset)?;
        ep.steps += 1;
        let (tool, args) = match &action {
            Ok(a) => (a.tool.clone(), a.args.clone()),
            Err((text, _)) => (String::new(), Value::String(text.clone())),
        };

        let mut reward = 0.0;
        let mut terminated = false;
        let mut end = None;
        let mut error = None;
        let mut warnings = Vec::new();
        let observation = if ep.started.elapsed() > budget {
            end = Some(EndReason::TimeBudget);
            Observation {
                kind: ObservationKind::End,
                tool: None,
                content: json!({"message": "the time budget ran out before a report was submitted"}),
            }
        } else {
            let output = match &action {
                Ok(a) => tools::dispatch(a, &ep.telemetry, &ep.incident.topology),
                Err((_, msg)) => ToolOutput::Invalid(msg.clone()),
            };
            let tool_name = tools::resolve_tool(&tool).ok();
            match output {
                ToolOutput::Answer(content) => Observation {
                    kind: ObservationKind::ToolResult,
                    tool: tool_name.map(str::to_owned),
                    content,
                },
                ToolOutput::Invalid(msg) => {
                    error = Some(msg.clone());
                    Observation::error(tool_name, msg)
                }
                ToolOutput::Submit(raw) => match scorer.parse(&raw) {
                    Err(msg) => {
                        let msg = format!("the report could not be read: {msg}");
                        error = Some(msg.clone());
                        Observation::error(Some(tools::SUBMIT_REPORT), msg)
                    }
                    Ok((report, report_warnings)) => {
                        let stats = ep.stats(max_steps, budget);
                        let scored = scorer.score(
                            &report,
                            &ep.truth,
                            &ep.incident.topology,
                            &ep.telemetry,
                            &stats,
                        );
                        reward = scored.total;
                        terminated = true;
                        end = Some(EndReason::Submitted);
                        warnings = report_warnings;
                        ep.report = Some(report);
                        ep.reward = Some(scored);
                        Observation {
                            kind: ObservationKind::End,
                            tool: Some(tools::SUBMIT_REPORT.to_owned()),
                            content: json!({"message": "report received", "reward": reward, "warnings": warnings}),
                        }
                    }
                },
            }
        };
        if error.is_some() {
            ep.invalid += 1;
            reward = -scorer.invalid_action_penalty();
        }
        if end.is_none() && ep.steps >= max_steps {
            end = Some(EndReason::StepBudget);
        } else if end.is_none() && ep.started.elapsed() > budget {
            end = Some(EndReason::TimeBudget);
        }
        let truncated = matches!(end, Some(EndReason::StepBudget | EndReason::TimeBudget));
        if truncated {
            let stats = ep.stats(max_steps, budget);
            let scored = scorer.truncated(&stats);
            reward = scored.total;
            ep.reward = Some(scored);
        }
        ep.ended = end;
        ep.trajectory.push(TrajectoryStep {
            step: ep.steps,
            tool,
            args,
            observation_bytes: observation.size(),
            observation: observation.clone(),
            reward,
            t_ms: ep.started.elapsed().as_millis() as u64,
            error: error.clone(),
        });

        let ep = self.episode.as_ref().ok_or(GymError::NotReset)?;
        let mut info = self.info(ep);
        info.invalid_action = error.is_some();
        info.error = error;
        info.warnings = warnings;
        info.end_reason = end;
        if end.is_some() {
            info.score = ep.reward.clone();
            info.truth = Some(ep.truth.clone());
        }
        Ok(StepOutcome {
            observation,
            reward,
            terminated,
            truncated,
            info,
        })
    }

    /// Ends the running episode because the agent failed outside the gym (a command
    /// agent that timed out, crashed, or exited without a report). The episode is
    /// truncated with the rubric's truncation reward, the reason is recorded, and the
    /// truth is revealed in the returned info.
    pub fn abort(&mut self, reason: &str) -> Result<StepOutcome, GymError> {
        let (scorer, max_steps, budget) = self.running_episode()?;
        let ep = self.episode.as_mut().ok_or(GymError::NotReset)?;
        let stats = ep.stats(max_steps, budget);
        let scored = scorer.truncated(&stats);
        let reward = scored.total;
        ep.reward = Some(scored);
        ep.ended = Some(EndReason::AgentFailed);
        ep.failure = Some(reason.to_owned());
        let ep = self.episode.as_ref().ok_or(GymError::NotReset)?;
        let mut info = self.info(ep);
        info.end_reason = ep.ended;
        info.score = ep.reward.clone();
        info.truth = Some(ep.truth.clone());
        Ok(StepOutcome {
            observation: Observation {
                kind: ObservationKind::End,
                tool: None,
                content: json!({"message": format!("the episode was ended: {reason}")}),
            },
            reward,
            terminated: false,
            truncated: true,
            info,
        })
    }

    /// Why the agent failed, when the episode was ended with [`Gym::abort`].
    pub fn failure(&self) -> Option<&str> {
        self.episode.as_ref().and_then(|e| e.failure.as_deref())
    }

    /// Ends the gym. Environments are already torn down at the end of each `reset`; this
    /// drops the last episode and refuses further calls.
    pub async fn close(&mut self) -> Result<(), GymError> {
        self.closed = true;
        self.episode = None;
        Ok(())
    }

    /// The ground truth, once the episode has ended; `None` while it runs.
    pub fn revealed_truth(&self) -> Option<&GroundTruth> {
        self.episode
            .as_ref()
            .filter(|e| e.ended.is_some())
            .map(|e| &e.truth)
    }

    /// The concrete incident, once the episode has ended (it names the cause).
    pub fn revealed_incident(&self) -> Option<&Incident> {
        self.episode
            .as_ref()
            .filter(|e| e.ended.is_some())
            .map(|e| &e.incident)
    }

    /// The telemetry of the current episode (what the agent can query).
    pub fn telemetry(&self) -> Option<&Arc<Telemetry>> {
        self.episode.as_ref().map(|e| &e.telemetry)
    }

    /// The steps taken so far in the current episode.
    pub fn trajectory(&self) -> &[TrajectoryStep] {
        self.episode.as_ref().map_or(&[], |e| &e.trajectory)
    }

    /// The current episode's id.
    pub fn episode_id(&self) -> Option<&str> {
        self.episode.as_ref().map(|e| e.id.as_str())
    }

    /// The current episode's seed.
    pub fn seed(&self) -> Option<u64> {
        self.episode.as_ref().map(|e| e.seed)
    }

    /// Why the current episode ended, if it has.
    pub fn end_reason(&self) -> Option<EndReason> {
        self.episode.as_ref().and_then(|e| e.ended)
    }

    /// The accepted report, if one was submitted.
    pub fn report(&self) -> Option<&RcaReport> {
        self.episode.as_ref().and_then(|e| e.report.as_ref())
    }

    /// The score of the ended episode: the accepted report's, or the truncation
    /// reward.
    pub fn reward(&self) -> Option<&Reward> {
        self.episode.as_ref().and_then(|e| e.reward.as_ref())
    }

    /// Invalid actions so far in the current episode.
    pub fn invalid_actions(&self) -> u32 {
        self.episode.as_ref().map_or(0, |e| e.invalid)
    }
}

#[cfg(test)]
mod tests;
