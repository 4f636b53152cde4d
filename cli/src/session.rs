//! Playing one episode with a built-in or command agent; shared by `run` and `eval`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use otrashi_clusters::sim::SimBackend;
use otrashi_gym::agents::{Baseline, RandomAgent};
use otrashi_gym::episode::{run_episode, EpisodeResult};
use otrashi_gym::gym::{EndReason, ResetOptions};
use otrashi_gym::score::Rubric;
use otrashi_gym::tools::{self, SUBMIT_REPORT};
use otrashi_gym::{Action, Backend, Gym, GymConfig};
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
            "" => {
                Err(InputError("--agent is empty; use baseline, random or a command".into()).into())
            }
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
    /// The connected Docker backend (see [`Settings::connect`]).
    pub docker: Option<Arc<dyn Backend>>,
    /// The connected Kubernetes backend (see [`Settings::connect`]).
    pub kubernetes: Option<Arc<dyn Backend>>,
    /// The kubeconfig context of the Kubernetes backend (`None`: the current one).
    pub kube_context: Option<String>,
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
            docker: None,
            kubernetes: None,
            kube_context: args.kube_context.clone(),
        })
    }

    /// The backend's name, as tables and JSON print it.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            BackendName::Sim => "sim",
            BackendName::Docker => "docker",
            BackendName::Kubernetes => "kubernetes",
        }
    }

    /// Connects the backends that need it (Docker: the engine and a host probe). Call
    /// once, inside the runtime, before [`Settings::gym`].
    pub async fn connect(&mut self) -> anyhow::Result<()> {
        if self.backend == BackendName::Docker && self.docker.is_none() {
            let b = otrashi_clusters::docker::DockerBackend::connect()
                .await
                .context("the docker backend is unavailable (`otrashi doctor` shows why)")?;
            self.docker = Some(Arc::new(b));
        }
        if self.backend == BackendName::Kubernetes && self.kubernetes.is_none() {
            let options = otrashi_clusters::kubernetes::KubeOptions {
                context: self.kube_context.clone(),
                ..otrashi_clusters::kubernetes::KubeOptions::from_env()
            };
            let b = otrashi_clusters::kubernetes::KubeBackend::connect(options)
                .await
                .context("the kubernetes backend is unavailable (`otrashi doctor` shows why)")?
                .on_progress(crate::commands::kube_progress());
            self.kubernetes = Some(Arc::new(b));
        }
        Ok(())
    }

    fn backend(&self) -> Arc<dyn Backend> {
        let connected = match self.backend {
            BackendName::Sim => None,
            BackendName::Docker => self.docker.clone(),
            BackendName::Kubernetes => self.kubernetes.clone(),
        };
        // Not connected: the simulator (callers connect first; see `connect`).
        connected.unwrap_or_else(|| Arc::new(SimBackend))
    }

    /// A gym for one scenario.
    pub fn gym(&self, scenario: Scenario) -> Gym {
        let mut config = GymConfig::new(Arc::new(otrashi_gym::scorer::RubricScorer::new(
            (*self.rubric).clone(),
        )));
        config.max_steps = self.max_steps;
        config.time_budget = self.timeout;
        config.cancel = self.cancel.clone();
        Gym::new(scenario, self.backend(), config)
    }
}

/// One finished episode and what the agent process left behind.
pub struct Played {
    /// Everything the episode produced (trajectory, report, reward, truth, telemetry).
    pub result: EpisodeResult,
    /// Why the episode failed, when the agent delivered no report.
    pub failure: Option<String>,
    /// The agent process's stderr, for command agents.
    pub agent_stderr: Option<String>,
}

/// Resets the gym with `seed`, lets the agent play to the end, and makes sure the episode
/// ended (a failed agent ends it with a failure reason).
pub async fn play(mut gym: Gym, settings: &Settings, seed: Option<u64>) -> anyhow::Result<Played> {
    let result = match &settings.agent {
        AgentSpec::Baseline => run_episode(&mut gym, &mut Baseline::new(), seed).await,
        AgentSpec::Random => {
            run_episode(&mut gym, &mut RandomAgent::new(seed.unwrap_or(0)), seed).await
        }
        AgentSpec::Command(cmd) => return play_command(gym, cmd, settings, seed).await,
    }
    .context("the episode failed")?;
    Ok(Played::new(result, settings, None))
}

impl Played {
    fn new(result: EpisodeResult, settings: &Settings, agent_stderr: Option<String>) -> Played {
        let failure = match result.end_reason {
            EndReason::Submitted => None,
            reason => Some(end_reason_text(reason, result.failure.as_deref(), settings)),
        };
        Played {
            result,
            failure,
            agent_stderr,
        }
    }
}

fn end_reason_text(reason: EndReason, detail: Option<&str>, settings: &Settings) -> String {
    match reason {
        EndReason::Submitted => "a report was submitted".to_owned(),
        EndReason::StepBudget => format!(
            "the step budget ({} steps) ran out before a report was submitted",
            settings.max_steps
        ),
        EndReason::TimeBudget => "the time budget ran out before a report was submitted".to_owned(),
        EndReason::AgentFailed => detail.unwrap_or("the agent failed").to_owned(),
    }
}

/// The tool API a command agent talks to: the gym behind a mutex.
struct GymHost {
    gym: Gym,
    done: bool,
}

impl ToolHost for GymHost {
    fn tools(&self) -> Value {
        tools::function_calling_json()
    }

    fn call(&mut self, tool: &str, args: Value) -> ToolReply {
        match self.gym.step(Action::new(tool, args)) {
            Ok(outcome) => {
                self.done = outcome.terminated || outcome.truncated;
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
    mut gym: Gym,
    cmd: &str,
    settings: &Settings,
    seed: Option<u64>,
) -> anyhow::Result<Played> {
    let began = Instant::now();
    let (start, info) = gym
        .reset(seed, ResetOptions::default())
        .await
        .context("cannot start the episode")?;
    let host = Arc::new(Mutex::new(GymHost { gym, done: false }));
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
        }
    }
    let result = EpisodeResult::collect(&host.gym, start, info, "command", began)?;
    Ok(Played::new(result, settings, Some(run.stderr)))
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
    let id = &played.result.episode_id;
    let tail = &id[id.len().saturating_sub(6)..];
    out.join(format!(
        "{}-s{}-{}",
        played.result.scenario, played.result.seed, tail
    ))
}

/// Writes the episode's directory: the gym's artifacts plus the agent's stderr.
pub fn write_episode(
    dir: &std::path::Path,
    played: &Played,
    scenario: &Scenario,
) -> anyhow::Result<()> {
    otrashi_gym::artifacts::write_episode_dir(dir, &played.result, scenario)
        .with_context(|| format!("cannot write the episode directory {}", dir.display()))?;
    if let Some(stderr) = &played.agent_stderr {
        let path = dir.join("agent.stderr.log");
        std::fs::write(&path, stderr)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// A runtime for a command, with Ctrl-C wired to `cancel`: the first Ctrl-C stops the
/// agent and lets the episode clean up; the command then reports the interruption.
pub fn runtime(cancel: &CancellationToken) -> anyhow::Result<tokio::runtime::Runtime> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let on_ctrl_c = cancel.clone();
    runtime.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: stopping the agent and cleaning up …");
            on_ctrl_c.cancel();
        }
    });
    Ok(runtime)
}
