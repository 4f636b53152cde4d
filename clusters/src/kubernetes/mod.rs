//! The Kubernetes backend (`kubernetes`): each episode gets a namespace of its own
//! (`otrashi-<episode>`) with a ConfigMap, a Deployment and a Service per service, all
//! running the workload image (`otrashi-workload`) in the service's role and labelled
//! with the episode id. The gym drives open-loop load at the entry through the API
//! server's service proxy, injects the incident's faults through the Kubernetes API
//! ([`faults`]), and collects the same telemetry the simulator and the Docker backend
//! write: each pod's `/metrics` scraped through the API server's pod proxy, pod status
//! (restarts, termination reasons), Kubernetes events, pod logs with mined templates,
//! spans rebuilt from the access lines, deploys, and an alert from the same SLO rules.
//!
//! The cluster is the current kubeconfig context, a named one, or a kind cluster that
//! [`kind`] creates and loads the workload image into (nothing can be pulled). Many
//! episodes run side by side on one cluster, one namespace each; every start sweeps the
//! namespaces of earlier runs whose owner is gone ([`sweep`]).

pub mod env;
pub mod faults;
pub mod kind;
#[cfg(test)]
mod mock;
pub mod provision;
pub mod render;
pub mod sweep;
pub mod telemetry;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use otrashi_gym::backend::{Backend, BackendError, Env};
use otrashi_gym::context::EpisodeContext;
use otrashi_scenarios::incident::Incident;

pub use env::KubeEnv;
pub use faults::support;
pub use provision::Progress;

/// Why the Kubernetes backend could not start.
#[derive(Debug, thiserror::Error)]
pub enum KubeBackendError {
    /// No kubeconfig could be read, or its context is unusable.
    #[error("no usable kubeconfig{} (set KUBECONFIG, pass --kube-context, or create a cluster with `otrashi kind up`)", .context.as_ref().map(|c| format!(" for context `{c}`")).unwrap_or_default())]
    Config {
        /// The context asked for.
        context: Option<String>,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The cluster did not answer.
    #[error("the Kubernetes API server at {server} did not answer")]
    Unreachable {
        /// The server URL from the kubeconfig.
        server: String,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },
}

/// Options of the Kubernetes backend.
#[derive(Debug, Clone)]
pub struct KubeOptions {
    /// The kubeconfig context; `None` for the current one.
    pub context: Option<String>,
    /// A scenario's timeline is compressed to at most this many wall seconds.
    pub max_wall_s: f64,
    /// The load generator's rate cap, requests per second (requests go through the
    /// API server's proxy: keep it modest).
    pub rps_cap: f64,
    /// The workload image every pod runs. `None`: build it from `workload_bin` with the
    /// local Docker engine (it must then be present on the nodes: `otrashi kind up`
    /// loads it into kind).
    pub image: Option<String>,
    /// The workload binary the image is built from.
    pub workload_bin: Option<PathBuf>,
    /// How long provisioning waits for every pod to be ready.
    pub ready_timeout: Duration,
    /// Namespaces of other hosts' episodes older than this are swept.
    pub sweep_max_age: Duration,
}

impl Default for KubeOptions {
    fn default() -> KubeOptions {
        KubeOptions {
            context: None,
            max_wall_s: crate::docker::plan::DEFAULT_MAX_WALL_S,
            rps_cap: 10.0,
            image: None,
            workload_bin: None,
            ready_timeout: Duration::from_secs(120),
            sweep_max_age: sweep::DEFAULT_MAX_AGE,
        }
    }
}

impl KubeOptions {
    /// Defaults, with the context from `OTRASHI_KUBE_CONTEXT` and the image from
    /// `OTRASHI_KUBE_IMAGE` when set.
    pub fn from_env() -> KubeOptions {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        KubeOptions {
            context: var("OTRASHI_KUBE_CONTEXT"),
            image: var("OTRASHI_KUBE_IMAGE"),
            ..KubeOptions::default()
        }
    }
}

/// Reads the kubeconfig (`KUBECONFIG` or `~/.kube/config`) for `context` (`None`: the
/// current one) and builds a client; does not call the cluster.
pub async fn client_for(context: Option<&str>) -> Result<(Client, String), KubeBackendError> {
    let cfg_err = |e: Box<dyn std::error::Error + Send + Sync>| KubeBackendError::Config {
        context: context.map(str::to_owned),
        source: e,
    };
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..KubeConfigOptions::default()
    };
    let config = match context {
        Some(_) => Config::from_kubeconfig(&options)
            .await
            .map_err(|e| cfg_err(Box::new(e)))?,
        None => Config::infer().await.map_err(|e| cfg_err(Box::new(e)))?,
    };
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|e| cfg_err(Box::new(e)))?;
    Ok((client, server))
}

/// The contexts of the kubeconfig and the current one (for `otrashi doctor`).
pub fn contexts() -> Result<(Vec<String>, Option<String>), KubeBackendError> {
    let k = Kubeconfig::read().map_err(|e| KubeBackendError::Config {
        context: None,
        source: Box::new(e),
    })?;
    Ok((
        k.contexts.into_iter().map(|c| c.name).collect(),
        k.current_context,
    ))
}

/// Asks the API server for its version: `(server URL, "v1.33.1")`.
pub async fn ping(context: Option<&str>) -> Result<(String, String), KubeBackendError> {
    let (client, server) = client_for(context).await?;
    let v = client
        .apiserver_version()
        .await
        .map_err(|e| KubeBackendError::Unreachable {
            server: server.clone(),
            source: e,
        })?;
    Ok((server, v.git_version))
}

/// A receiver of provisioning progress reports.
pub type ProgressFn = std::sync::Arc<dyn Fn(&Progress) + Send + Sync>;

/// The Kubernetes backend.
#[derive(Clone)]
pub struct KubeBackend {
    client: Client,
    options: KubeOptions,
    progress: Option<ProgressFn>,
}

impl std::fmt::Debug for KubeBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeBackend")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl KubeBackend {
    /// Connects to the cluster of `options.context` and checks that it answers.
    pub async fn connect(options: KubeOptions) -> Result<KubeBackend, KubeBackendError> {
        let (client, server) = client_for(options.context.as_deref()).await?;
        client
            .apiserver_version()
            .await
            .map_err(|e| KubeBackendError::Unreachable { server, source: e })?;
        Ok(KubeBackend::with_client(client, options))
    }

    /// A backend on a given client (tests pass a mocked one).
    pub fn with_client(client: Client, options: KubeOptions) -> KubeBackend {
        KubeBackend {
            client,
            options,
            progress: None,
        }
    }

    /// Calls `f` with each provisioning progress report (the CLI shows them).
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> KubeBackend {
        self.progress = Some(std::sync::Arc::new(f));
        self
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The options.
    pub fn options(&self) -> &KubeOptions {
        &self.options
    }

    /// [`Backend::provision`] with the concrete environment.
    pub async fn provision_env(
        &self,
        incident: &Incident,
        cx: &EpisodeContext,
    ) -> Result<KubeEnv, BackendError> {
        env::provision(self, incident, cx).await
    }

    pub(crate) fn report(&self, p: &Progress) {
        tracing::info!(target: "otrashi::kubernetes", "{p}");
        if let Some(f) = &self.progress {
            f(p);
        }
    }
}

#[async_trait]
impl Backend for KubeBackend {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn check(&self, incident: &Incident) -> Result<(), BackendError> {
        for f in &incident.faults {
            if let Err(reason) = support(f.kind) {
                return Err(BackendError::Unsupported {
                    backend: "kubernetes",
                    fault: f.kind,
                    reason,
                });
            }
        }
        crate::collect::check_entry("kubernetes", incident)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn check_accepts_the_library_scenarios_it_can_run_and_names_the_reason_for_the_rest() {
        let (client, _task) = mock::serve(|_, _, _| (500, serde_json::Value::Null));
        let b = KubeBackend::with_client(client, KubeOptions::default());
        let mut accepted = Vec::new();
        for s in otrashi_scenarios::library::scenarios() {
            let sc = otrashi_scenarios::library::load(s.name).unwrap();
            let incident = otrashi_scenarios::incident::sample(&sc, 0).unwrap();
            match b.check(&incident) {
                Ok(()) => accepted.push(s.name),
                Err(BackendError::Unsupported { reason, .. }) => {
                    assert!(reason.contains("--backend"), "{}: {reason}", s.name)
                }
                Err(e) => panic!("{}: {e}", s.name),
            }
        }
        for name in [
            "shop-pod-kill",
            "chain-api-crash-loop",
            "shop-oom-kill",
            "shop-payment-misrouted-port",
            "platform-network-partition",
            "shop-cart-memory-leak",
        ] {
            assert!(accepted.contains(&name), "{name} refused");
        }
        assert!(!accepted.contains(&"platform-cpu-saturation"));
    }
}
