//! The backend extension point: an engine that can run an incident and observe it.

use async_trait::async_trait;
use otrashi_scenarios::{FaultKind, Incident};

use crate::context::EpisodeContext;
use crate::telemetry::Telemetry;

/// Why a backend could not run or clean up an episode.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The backend cannot produce this fault kind (or not on this host). Raised by
    /// [`Backend::check`] before anything is created.
    #[error("the {backend} backend cannot inject {fault}: {reason}")]
    Unsupported {
        /// The backend's name.
        backend: &'static str,
        /// The fault kind.
        fault: FaultKind,
        /// Why, and what to do instead.
        reason: String,
    },
    /// Creating the environment failed.
    #[error("provisioning failed: {message}")]
    Provision {
        /// What failed, naming the resource.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// Running the incident failed.
    #[error("the incident run failed: {message}")]
    Run {
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// Tearing down failed; resources labelled with the episode id may be left over and
    /// the next start's sweep will retry.
    #[error("teardown failed: {message}")]
    Teardown {
        /// What failed, naming the resource.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The episode was cancelled (Ctrl-C, timeout).
    #[error("the episode was cancelled")]
    Cancelled,
}

/// An environment engine: the embedded simulator, a Docker host, a Kubernetes cluster.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Short name (`sim`, `docker`, `kubernetes`).
    fn name(&self) -> &'static str;

    /// Whether this backend can run every fault of the incident. Pure: no IO. The default
    /// accepts everything.
    fn check(&self, incident: &Incident) -> Result<(), BackendError> {
        let _ = incident;
        Ok(())
    }

    /// Creates the environment for an incident: its services, networks and load
    /// generator, labelled with the episode id. Nothing runs yet.
    async fn provision(
        &self,
        incident: &Incident,
        cx: &EpisodeContext,
    ) -> Result<Box<dyn Env>, BackendError>;
}

/// One provisioned environment.
#[async_trait]
pub trait Env: Send {
    /// Drives load, injects the incident's faults on schedule, reverts them, and
    /// returns the telemetry of the whole window. Honours `cx.cancel`.
    async fn run(&mut self, cx: &EpisodeContext) -> Result<Telemetry, BackendError>;

    /// Removes everything provisioned. Idempotent, and copes with half a provision.
    async fn teardown(&mut self, cx: &EpisodeContext) -> Result<(), BackendError>;
}
