//! The Docker backend (`docker`): each episode gets its own bridge network and one
//! container per service replica (`otrashi-<episode>-<service>-<n>`, all under the
//! service's name as network alias, so Docker's DNS spreads callers over them; at most
//! [`DockerOptions::max_replicas`] per service), running the workload binary
//! (`otrashi-workload`) in the service's role — or, for a datastore with
//! `engine: redis`, a real Redis server — labelled with the episode id, the service,
//! the replica and the owning gym's PID. The gym
//! drives open-loop load at the entry, injects the incident's faults for real (iptables
//! and tc inside a container's network namespace, `docker update`, pause, recreated
//! containers carrying failpoints, the workload's admin endpoint), and collects the
//! same telemetry the simulator writes: scraped `/metrics` (a Redis: `INFO` mapped to
//! the datastore series, and its `SLOWLOG` as log lines), container stats and
//! restarts, Docker events, JSON logs with mined templates, OpenTelemetry spans the
//! workloads export over OTLP to a receiver on the episode network's gateway
//! (`traces`; spans rebuilt from access lines only for services that exported none),
//! deploys, and an alert from the same SLO rules. Metrics are per service: the
//! replicas' samples are summed (ratios averaged); events name the replica.
//!
//! Scenarios are scaled to fit a small host (see [`plan::Scale`]): a 6-minute
//! timeline runs in about 45 s and telemetry is reported in scenario time; load is
//! capped at 20 requests per second. Every injection is journaled before it happens
//! ([`journal`]); teardown, and the next start after a crash, undo what is journaled.

pub mod env;
mod faults;
pub mod http;
pub mod journal;
pub mod load;
pub mod plan;
mod scrape;
mod sweep;
mod traces;

// Backend-neutral collection, shared with the Kubernetes backend.
use crate::collect::store;
pub use crate::collect::{logs, prom};

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use otrashi_docker::{Engine, HostReport};
use otrashi_gym::backend::{Backend, BackendError, Env};
use otrashi_gym::context::EpisodeContext;
use otrashi_scenarios::incident::Incident;

pub use env::DockerEnv;
pub use faults::{needs_workload, single_instance, support};
pub use sweep::{sweep_dead, SweepReport};

/// Why the Docker backend could not start.
#[derive(Debug, thiserror::Error)]
pub enum DockerBackendError {
    /// No engine answered.
    #[error("no Docker engine answered")]
    Engine(#[source] otrashi_docker::Error),
    /// The workload binary was not found.
    #[error("the workload binary otrashi-workload was not found (looked at {looked}); build it with `cargo build --release -p otrashi-workload` or set OTRASHI_WORKLOAD_BIN")]
    NoWorkload {
        /// Where it looked.
        looked: String,
    },
}

/// Options of the Docker backend.
#[derive(Debug, Clone)]
pub struct DockerOptions {
    /// A scenario's timeline is compressed to at most this many wall seconds.
    pub max_wall_s: f64,
    /// The load generator's rate cap, requests per second.
    pub rps_cap: f64,
    /// The workload binary the image is built from.
    pub workload_bin: PathBuf,
    /// Where journals go.
    pub journal_dir: PathBuf,
    /// Containers per service at most (a service's `replicas` beyond it are not
    /// started); default [`plan::DEFAULT_MAX_REPLICAS`], overridden by
    /// `OTRASHI_DOCKER_MAX_REPLICAS`.
    pub max_replicas: u32,
}

impl DockerOptions {
    /// Defaults, with the workload binary from `OTRASHI_WORKLOAD_BIN`, next to the
    /// running executable (or its parent: test binaries live in `target/*/deps`), or
    /// on `PATH`.
    pub fn from_env() -> Result<DockerOptions, DockerBackendError> {
        Ok(DockerOptions {
            max_wall_s: plan::DEFAULT_MAX_WALL_S,
            rps_cap: plan::DEFAULT_RPS_CAP,
            workload_bin: find_workload()?,
            journal_dir: journal::dir(),
            max_replicas: std::env::var("OTRASHI_DOCKER_MAX_REPLICAS")
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .filter(|n| *n >= 1)
                .unwrap_or(plan::DEFAULT_MAX_REPLICAS),
        })
    }
}

/// Finds the `otrashi-workload` binary (see [`DockerOptions::from_env`]).
pub fn find_workload() -> Result<PathBuf, DockerBackendError> {
    let mut looked = Vec::new();
    if let Some(p) = std::env::var_os("OTRASHI_WORKLOAD_BIN") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        looked.push(p);
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1).take(2) {
            let p = dir.join("otrashi-workload");
            if p.is_file() {
                return Ok(p);
            }
            looked.push(p);
        }
    }
    if let Some(p) = otrashi_docker::image::find_program("otrashi-workload") {
        return Ok(p);
    }
    looked.push(PathBuf::from("$PATH"));
    Err(DockerBackendError::NoWorkload {
        looked: looked
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// The Docker backend.
#[derive(Debug, Clone)]
pub struct DockerBackend {
    engine: Engine,
    report: Arc<HostReport>,
    options: DockerOptions,
}

impl DockerBackend {
    /// Connects to the engine (`DOCKER_HOST` or the default socket) and probes what
    /// this host can do (a few seconds: see [`otrashi_docker::probe()`]).
    pub async fn connect() -> Result<DockerBackend, DockerBackendError> {
        let options = DockerOptions::from_env()?;
        let engine = Engine::connect()
            .await
            .map_err(DockerBackendError::Engine)?;
        engine.version().await.map_err(DockerBackendError::Engine)?;
        let report = otrashi_docker::probe().await;
        Ok(DockerBackend::with(engine, report, options))
    }

    /// A backend from parts (tests, or a probe made elsewhere).
    pub fn with(engine: Engine, report: HostReport, options: DockerOptions) -> DockerBackend {
        DockerBackend {
            engine,
            report: Arc::new(report),
            options,
        }
    }

    /// The host probe this backend decides fault support with.
    pub fn report(&self) -> &HostReport {
        &self.report
    }

    /// [`Backend::provision`] with the concrete environment (tests read its load
    /// generator's counters and container names).
    pub async fn provision_env(
        &self,
        incident: &Incident,
        cx: &EpisodeContext,
    ) -> Result<DockerEnv, BackendError> {
        env::provision(&self.engine, &self.options, incident, cx).await
    }

    /// The options.
    pub fn options(&self) -> &DockerOptions {
        &self.options
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

#[async_trait]
impl Backend for DockerBackend {
    fn name(&self) -> &'static str {
        "docker"
    }

    fn check(&self, incident: &Incident) -> Result<(), BackendError> {
        for f in &incident.faults {
            if let Err(reason) = support(f.kind, &self.report) {
                return Err(BackendError::Unsupported {
                    backend: "docker",
                    fault: f.kind,
                    reason,
                });
            }
            let engine = incident.topology.service(&f.target).and_then(|s| s.engine);
            if let (Some(engine), true) = (engine, needs_workload(f.kind)) {
                return Err(BackendError::Unsupported {
                    backend: "docker",
                    fault: f.kind,
                    reason: format!(
                        "{} targets `{}`, which a real {} server plays on Docker (`engine: {}`): \
                         it has no workload failpoints, admin endpoint or start-up configuration \
                         to break; target a service that runs the workload, or use --backend sim",
                        f.kind.as_str(),
                        f.target,
                        engine.as_str(),
                        engine.as_str()
                    ),
                });
            }
        }
        crate::collect::check_entry("docker", incident)
    }

    async fn provision(
        &self,
        incident: &Incident,
        cx: &EpisodeContext,
    ) -> Result<Box<dyn Env>, BackendError> {
        self.provision_env(incident, cx)
            .await
            .map(|e| Box::new(e) as Box<dyn Env>)
    }
}
