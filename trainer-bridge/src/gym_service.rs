//! The gym as a gRPC service: a trainer creates environments and drives episodes
//! (create, reset, step, close) with the same JSON the Python and HTTP APIs use.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::{Request, Response, Status};

use otrashi_clusters::sim::SimBackend;
use otrashi_gym::gym::ResetOptions;
use otrashi_gym::score::Rubric;
use otrashi_gym::scorer::RubricScorer;
use otrashi_gym::tools::function_calling_json;
use otrashi_gym::{Gym, GymConfig, GymError};
use otrashi_proto::v1::gym_service_server::GymService;
use otrashi_proto::v1::{
    create_env_request, CloseRequest, CloseResponse, CreateEnvRequest, CreateEnvResponse,
    ResetRequest, ResetResponse, StepRequest, StepResponse,
};

/// Environments one server holds at most: each holds an episode's telemetry, so the
/// cap bounds memory against a client that never closes.
pub const DEFAULT_MAX_ENVS: usize = 64;

type EnvHandle = Arc<tokio::sync::Mutex<Gym>>;

/// The `GymService` implementation, on the simulator backend.
pub struct GymServer {
    envs: Mutex<HashMap<String, EnvHandle>>,
    next_id: AtomicU64,
    max_envs: usize,
}

impl Default for GymServer {
    fn default() -> Self {
        GymServer::new(DEFAULT_MAX_ENVS)
    }
}

impl GymServer {
    /// A server that holds at most `max_envs` environments at once.
    pub fn new(max_envs: usize) -> GymServer {
        GymServer {
            envs: Mutex::default(),
            next_id: AtomicU64::new(1),
            max_envs: max_envs.max(1),
        }
    }

    fn env(&self, id: &str) -> Result<EnvHandle, Status> {
        let envs = self
            .envs
            .lock()
            .map_err(|_| Status::internal("environment table poisoned"))?;
        envs.get(id).cloned().ok_or_else(|| {
            Status::not_found(format!("no environment `{id}`; create one with CreateEnv"))
        })
    }
}

fn gym_status(e: GymError) -> Status {
    match e {
        GymError::NotReset | GymError::EpisodeOver { .. } | GymError::Closed => {
            Status::failed_precondition(e.to_string())
        }
        GymError::Sample(_) => Status::invalid_argument(error_chain(&e)),
        GymError::Backend { .. } | GymError::RunAndTeardown { .. } => {
            Status::internal(error_chain(&e))
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        text.push_str(": ");
        text.push_str(&s.to_string());
        cur = s.source();
    }
    text
}

fn json(v: &impl serde::Serialize) -> Result<String, Status> {
    serde_json::to_string(v).map_err(|e| Status::internal(format!("cannot encode JSON: {e}")))
}

#[tonic::async_trait]
impl GymService for GymServer {
    async fn create_env(
        &self,
        request: Request<CreateEnvRequest>,
    ) -> Result<Response<CreateEnvResponse>, Status> {
        let req = request.into_inner();
        let scenario = match req.scenario {
            Some(create_env_request::Scenario::Name(name)) => {
                otrashi_scenarios::library::load(&name).map_err(|d| {
                    Status::invalid_argument(format!("bundled scenario `{name}`: {d}"))
                })?
            }
            Some(create_env_request::Scenario::Yaml(text)) => {
                otrashi_scenarios::parse_str(&text, "request.yaml").map_err(|d| {
                    Status::invalid_argument(format!("the scenario is not valid:\n{d}"))
                })?
            }
            None => {
                return Err(Status::invalid_argument(
                    "give a scenario name or YAML text",
                ))
            }
        };
        let options = req.options.unwrap_or_default();
        let rubric = if options.rubric_toml.trim().is_empty() {
            Rubric::default()
        } else {
            Rubric::from_toml_str(&options.rubric_toml, "rubric_toml")
                .map_err(|e| Status::invalid_argument(error_chain(&e)))?
        };
        let mut config = GymConfig::new(Arc::new(RubricScorer::new(rubric)));
        if options.max_steps > 0 {
            config.max_steps = options.max_steps;
        }
        if options.time_budget_s > 0.0 {
            config.time_budget = Duration::try_from_secs_f64(options.time_budget_s)
                .map_err(|_| Status::invalid_argument("time_budget_s is out of range"))?;
        }
        let name = scenario.metadata.name.clone();
        let gym = Gym::new(scenario, Arc::new(SimBackend::new()), config);
        let env_id = format!("env-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        {
            let mut envs = self
                .envs
                .lock()
                .map_err(|_| Status::internal("environment table poisoned"))?;
            if envs.len() >= self.max_envs {
                return Err(Status::resource_exhausted(format!(
                    "{} environments are open, the most this server holds; close some first",
                    envs.len()
                )));
            }
            envs.insert(env_id.clone(), Arc::new(tokio::sync::Mutex::new(gym)));
        }
        tracing::info!(env = %env_id, scenario = %name, "created an environment");
        Ok(Response::new(CreateEnvResponse {
            env_id,
            scenario: name,
            tool_specs_json: json(&function_calling_json())?,
        }))
    }

    async fn reset(
        &self,
        request: Request<ResetRequest>,
    ) -> Result<Response<ResetResponse>, Status> {
        let req = request.into_inner();
        let env = self.env(&req.env_id)?;
        let mut gym = env.lock().await;
        let (observation, info) = gym
            .reset(req.seed, ResetOptions::default())
            .await
            .map_err(gym_status)?;
        Ok(Response::new(ResetResponse {
            observation_json: json(&observation)?,
            info_json: json(&info)?,
        }))
    }

    async fn step(&self, request: Request<StepRequest>) -> Result<Response<StepResponse>, Status> {
        let req = request.into_inner();
        let env = self.env(&req.env_id)?;
        let mut gym = env.lock().await;
        // Text that is not an action costs a step, as an LLM's malformed output would.
        let out = gym.step_text(&req.action_json).map_err(gym_status)?;
        Ok(Response::new(StepResponse {
            observation_json: json(&out.observation)?,
            reward: out.reward,
            terminated: out.terminated,
            truncated: out.truncated,
            info_json: json(&out.info)?,
        }))
    }

    async fn close(
        &self,
        request: Request<CloseRequest>,
    ) -> Result<Response<CloseResponse>, Status> {
        let req = request.into_inner();
        let env = {
            let mut envs = self
                .envs
                .lock()
                .map_err(|_| Status::internal("environment table poisoned"))?;
            envs.remove(&req.env_id)
        };
        let Some(env) = env else {
            return Err(Status::not_found(format!(
                "no environment `{}`",
                req.env_id
            )));
        };
        env.lock().await.close().await.map_err(gym_status)?;
        Ok(Response::new(CloseResponse {}))
    }
}
