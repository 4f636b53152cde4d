//! Playing one episode with a built-in or command agent; shared by `run` and `eval`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use otrashi_clusters::sim::SimBackend;
use otrashi_gym::agents::{Agent, Baseline, RandomAgent};
use otrashi_gym::gym::{Info, ResetOptions};
use otrashi_gym::score::Rubric;
use otrashi_gym::tools::{self, SUBMIT_REPORT};
use otrashi_gym::{Action, Backend, Gym, GymConfig, Observation};
use otrashi_scenarios::Scenario;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::agent_process::{self, AgentExit, ToolHost, ToolReply};
use crate::args::{AgentArgs, BackendName};
use crate::exit::InputError;

/// Which agent plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentSpec {
    /// The built-in heuristic.
    Baseline,
    /// The built-in random agent.
    Random,
    /// A shell command.
    Command(String),
}

impl AgentSpec {
    /// Reads `--agent`.
    pub fn parse(text: &str) -> anyhow::Result<AgentSpec> {
        match text.trim() {
            "" => Err(InputError("--agent is empty; use baseline, random or a command".into()).into()),
            "baseline" => Ok(AgentSpec::Baseline),
            "random" => Ok(AgentSpec::Random),
            cmd => Ok(AgentSpec::Command(cmd.to_owned())),
        }
    }

    /// A short label for tables.
    pub fn label(&self) -> String {
        match self {
            AgentSpec::Baseline => "baseline".into(),
            AgentSpec::Random => "random".into(),
            AgentSpec::Command(cmd) => cmd.clone(),
        }
    }
}

/// Everything an episode needs besides the scenario and the seed.
#[derive(Clone)]
pub struct Settings {
    /// Who plays.
    pub agent: AgentSpec,
    /// The backend's name.
    pub backend: BackendName,
    /// The agent's wall-clock limit.
    pub timeout: Duration,
    /// The step budget.
    pub max_steps: u32,
    /// The scoring rubric.
    pub rubric: Arc<Rubric>,
    /// Cancelled on Ctrl-C.
    pub cancel: CancellationToken,
}

impl Settings {
    /// Reads the shared `run`/`eval` options.
    pub fn from_args(args: &AgentArgs, cancel: CancellationToken) -> anyhow::Result<Settings> {
        let timeout: otrashi_scenarios::Duration = args
            .timeout
            .parse()
            .map_err(|e| InputError(format!("--timeout: {e}")))?;
        if timeout.as_millis() == 0 {
            return Err(InputError("--timeout must be more than 0s".into()).into());
        }
        if args.max_steps == 0 {
            return Err(InputError("--max-steps must be at least 1".into()).into());
        }
        let rubric = match &args.rubric {
            Some(path) => Rubric::load(path).map_err(|e| InputError(format!("{e}")))?,
            None => Rubric::default(),
        };
        Ok(Settings {
            agent: AgentSpec::parse(&args.agent)?,
            backend: args.backend,
            timeout: timeout.into(),
            max_steps: args.max_steps,
            rubric: Arc::new(rubric),
            cancel,
        })
    }

    fn backend(&self) -> Arc<dyn Backend> {
        match self.backend {
            BackendName::Sim => Arc::new(SimBackend::default()),
        }
    }

    /// A gym for one scenario.
    pub fn gym(&self, scenario: Scenario) -> Gym {
        let mut config = GymConfig::new(Arc::new(otrashi_gym::score::RubricScorer::new(
            (*self.rubric).clone(),
        )));
        config.max_steps = self.max_steps;
        config.time_budget = self.timeout;
        config.cancel = self.cancel.clone();
        Gym::new(scenario, self.backend(), config)
    }
}

/// What happened in one episode, besides what the gym itself records.
pub struct Played {
    /// The gym, holding the ended episode (trajectory, report, reward, truth).
    pub gym: Gym,
    /// The first observation (the alert).
    pub start: Observation,
    /// The info of `reset`.
    pub info: Info,
    /// Why the episode failed, when the agent did not deliver a report.
    pub failure: Option<String>,
    /// The agent process's stderr, for command agents.
    pub agent_stderr: Option<String>,
}

/// Resets the gym with `seed`, lets the agent play to the end, and makes sure the episode
/// ended (a failed agent ends it with a failure reason).
pub async fn play(mut gym: Gym, settings: &Settings, seed: Option<u64>) -> anyhow::Result<Played> {
    let (start, info) = gym
        .reset(seed, ResetOptions::default())
        .await
        .context("cannot start the episode")?;
    match &settings.agent {
        AgentSpec::Baseline => play_builtin(gym, &mut Baseline::new(), start, info),
        AgentSpec::Random => {
            let seed = info.seed;
            play_builtin(gym, &mut RandomAgent::new(seed), start, info)
        }
        AgentSpec::Command(cmd) => play_command(gym, cmd, settings, start, info).await,
    }
}

fn play_builtin(
    mut gym: Gym,
    agent: &mut dyn Agent,
    start: Observation,
    info: Info,
) -> anyhow::Result<Played> {
    let mut obs = start.clone();
    let mut failure = None;
    loop {
        let action = agent.act(&obs);
        let outcome = gym.step(action)?;
        if outcome.terminated || outcome.truncated {
            if outcome.truncated {
                failure = Some(truncation_reason(&outcome.info));
            }
            break;
        }
        obs = outcome.observation;
    }
    Ok(Played {
        gym,
        start,
        info,
        failure,
        agent_stderr: None,
    })
}

fn truncation_reason(info: &Info) -> String {
    match info.end_reason {
        Some(otrashi_gym::gym::EndReason::TimeBudget) => {
            "the time budget ran out before a report was submitted".into()
        }
        _ => format!(
            "the step budget ({} steps) ran out before a report was submitted",
            info.max_steps
        ),
    }
}

/// The tool API a command agent talks to: the gym behind a mutex.
struct GymHost {
    gym: Gym,
    done: bool,
    truncated: Option<String>,
}

impl ToolHost for GymHost {
    fn tools(&self) -> Value {
        tools::function_calling_json()
    }

    fn call(&mut self, tool: &str, args: Value) -> ToolReply {
        match self.gym.step(Action::new(tool, args)) {
            Ok(outcome) => {
                self.done = outcome.terminated || outcome.truncated;
                if outcome.truncated {
                    self.truncated = Some(truncation_reason(&outcome.info));
                }
                // Only the observation goes back: `info` carries the truth at the end.
                ToolReply {
                    body: json!({
                        "observation": outcome.observation.content,
                        "kind": outcome.observation.kind,
                        "terminated": outcome.terminated,
                        "truncated": outcome.truncated,
                        "steps_left": self.gym.config().max_steps.saturating_sub(outcome.info.step),
                    }),
                    done: self.done,
                }
            }
            Err(e) => {
                self.done = true;
                ToolReply {
                    body: json!({"error": e.to_string()}),
                    done: true,
                }
            }
        }
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

async fn play_command(
    gym: Gym,
    cmd: &str,
    settings: &Settings,
    start: Observation,
    info: Info,
) -> anyhow::Result<Played> {
    let host = Arc::new(Mutex::new(GymHost {
        gym,
        done: false,
        truncated: None,
    }));
    let alert = json!({
        "episode_id": info.episode_id,
        "alert": start.content.get("alert").cloned().unwrap_or(Value::Null),
        "observation": start.content,
        "max_steps": info.max_steps,
        "time_budget_s": settings.timeout.as_secs_f64(),
    });
    let env = [
        ("OTRASHI_EPISODE_ID".to_owned(), info.episode_id.clone()),
        ("OTRASHI_MAX_STEPS".to_owned(), info.max_steps.to_string()),
    ];
    let run = agent_process::run(
        cmd,
        &alert,
        host.clone(),
        settings.timeout,
        settings.cancel.clone(),
        &env,
    )
    .await?;
    // The server and its handlers are gone once `run` returns, so this is the last
    // reference to the episode.
    let mut host = Arc::try_unwrap(host)
        .map_err(|_| anyhow::anyhow!("the tool API still holds the episode after the agent ended"))?
        .into_inner()
        .map_err(|_| anyhow::anyhow!("the episode state was poisoned by a panic"))?;
    let mut failure = host.truncated.clone();
    if !host.done {
        let reason = match &run.exit {
            AgentExit::TimedOut { after } => Some(format!(
                "the agent timed out after {:.0}s and was killed",
                after.as_secs_f64()
            )),
            AgentExit::Interrupted => Some("interrupted (Ctrl-C); the agent was killed".to_owned()),
            AgentExit::Finished { .. } | AgentExit::ExitedEarly { .. } => {
                match agent_process::report_from_stdout(&run.stdout) {
                    Some(report) => {
                        let outcome = host.gym.step(Action::new(SUBMIT_REPORT, report))?;
                        if outcome.terminated || outcome.truncated {
                            None
                        } else {
                            Some(format!(
                                "the agent exited and the report on its stdout could not be read: {}",
                                outcome.observation.error_message().unwrap_or("unknown error")
                            ))
                        }
                    }
                    None => Some(format!(
                        "the agent exited ({}) without submitting a report and printed no JSON report on stdout",
                        exit_status(&run.exit)
                    )),
                }
            }
        };
        if let Some(reason) = reason {
            host.gym.abort(&reason)?;
            failure = Some(reason);
        }
    }
    Ok(Played {
        gym: host.gym,
        start,
        info,
        failure,
        agent_stderr: Some(run.stderr),
    })
}

fn exit_status(exit: &AgentExit) -> String {
    match exit {
        AgentExit::Finished { status: Some(c) } | AgentExit::ExitedEarly { status: Some(c) } => {
            format!("exit status {c}")
        }
        _ => "killed by a signal".to_owned(),
    }
}

/// Where an episode's directory goes: `<out>/<scenario>-s<seed>-<episode id tail>`.
pub fn episode_dir(out: &std::path::Path, played: &Played) -> PathBuf {
    let tail: String = played
        .info
        .episode_id
        .chars()
        .rev()
        .take(6)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    out.join(format!("{}-s{}-{}", played.info.scenario, played.info.seed, tail))
}
