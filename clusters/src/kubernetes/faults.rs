//! Faults through the Kubernetes API. Each injection first GETs the object it changes
//! and keeps it; its revert PUTs that object back (without its `resourceVersion`, an
//! unconditional update), so the spec, data, labels and annotations are exactly what
//! they were. A revert of a fault whose injection never ran (or failed before its
//! change) sends nothing and succeeds. Every effect lives inside the episode's
//! namespace, so deleting the namespace (teardown, or the sweep after a crash) removes
//! whatever a crashed gym could not revert; no journal is needed.
//!
//! | kind | change | revert |
//! |---|---|---|
//! | orchestration.pod_kill | DELETE one pod of the target's Deployment (the first by name not already terminating), again every `every_s` (scaled) until the fault ends; the ReplicaSet replaces each | the deletions stop |
//! | orchestration.crash_loop | Deployment: the container's env gets a pool size the workload refuses at start (`CrashLoopBackOff`) | PUT the previous Deployment |
//! | orchestration.oom_kill | Deployment: memory limit (and request) `limit_mb`, clamped to 16–32 Mi, and a build that holds memory | PUT the previous Deployment |
//! | orchestration.scale_to_zero | Deployment: `replicas: 0` | PUT the previous Deployment |
//! | orchestration.misrouted_port | Service: `targetPort` to `port` (8081 when that is the real one) | PUT the previous Service |
//! | orchestration.bad_env_config | ConfigMap: `OTRASHI_FAILPOINTS` fails `error_pct`% of requests; the pod template's config revision is bumped so pods restart with it | PUT the previous ConfigMap and Deployment |
//! | orchestration.failed_deploy | Deployment: a new release whose pods refuse their config at start, `maxUnavailable: unavailable_pct%` | PUT the previous Deployment (a rollback) |
//! | orchestration.liveness_probe_misconfig | Deployment: the liveness probe on a port nothing listens on, every `period_s` (scaled), one failure kills | PUT the previous Deployment |
//! | orchestration.cpu_throttle | Deployment: CPU limit `limit_cores` | PUT the previous Deployment |
//! | orchestration.dependency_removed | DELETE the Deployment and the Service | POST both back as they were (a new cluster IP) |
//! | infra.network_partition | POST a NetworkPolicy selecting the target's pods that allows no ingress (needs a CNI that enforces policies; kind's default does) | DELETE it |
//! | code.* via deploy | Deployment: a new release whose env switches the failpoint on | PUT the previous Deployment (a rollback deploy) |
//! | code.* via config / direct | ConfigMap: the failpoint in `OTRASHI_FAILPOINTS`, config revision bumped | PUT the previous ConfigMap and Deployment |
//!
//! Not done on Kubernetes: faults that need a process or a network namespace inside the
//! pod (cpu_saturation, memory_pressure, process_freeze, network_loss, network_delay,
//! bandwidth_limit; they need exec or a privileged agent on the node), disk and DNS
//! faults. `node_unschedulable` is not a catalog kind: a cordoned node is cluster-wide
//! state that parallel episodes on one cluster would share, so it is left out.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::core::v1::{ConfigMap, Container, EnvVar, Pod, Service};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::Client;
use otrashi_scenarios::catalog::{FaultKind, Via};
use otrashi_scenarios::incident::ConcreteFault;

use super::render::{
    config_map_name, cpu_quantity, episode_labels, memory_quantity, selector, selector_string,
    CONFIG_REVISION, SERVICE_LABEL,
};
use crate::docker::plan::Scale;

/// How many times an update that conflicts with a concurrent one is tried.
pub const CONFLICT_RETRIES: usize = 5;

/// Field manager of every change the gym makes (visible in `managedFields`).
pub const FIELD_MANAGER: &str = "otrashi";

/// Why a fault could not be injected or reverted.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// A call to the API server failed.
    #[error("{action}: {source}")]
    Api {
        /// The call, naming the object (`GET deployment ns/cart`).
        action: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The object has not the shape the gym rendered (edited by hand?).
    #[error("{0} has no workload container; was it changed outside otrashi?")]
    Shape(String),
    /// The backend has no mechanism for this kind.
    #[error("{0} cannot be injected on the kubernetes backend: {1}")]
    Unsupported(&'static str, String),
}

fn api_err(action: String) -> impl FnOnce(kube::Error) -> FaultError {
    move |source| FaultError::Api { action, source }
}

/// Whether the Kubernetes backend can inject `kind`; the error says why not.
pub fn support(kind: FaultKind) -> Result<(), String> {
    use FaultKind as K;
    match kind {
        K::PodKill
        | K::CrashLoop
        | K::OomKill
        | K::ScaleToZero
        | K::MisroutedPort
        | K::BadEnvConfig
        | K::FailedDeploy
        | K::LivenessProbeMisconfig
        | K::CpuThrottle
        | K::DependencyRemoved
        | K::NetworkPartition
        | K::ErrorInjection
        | K::SlowHandler
        | K::MemoryLeak
        | K::ConnectionLeak
        | K::RetryStorm
        | K::CacheBypass
        | K::HotLoop
        | K::PanicCrash
        | K::SlowQuery => Ok(()),
        K::CpuSaturation | K::MemoryPressure | K::ProcessFreeze => Err(
            "it runs a process inside the pod, which needs `exec` (not built into otrashi's Kubernetes client); use --backend docker or sim".to_owned(),
        ),
        K::NetworkLoss | K::NetworkDelay | K::BandwidthLimit => Err(
            "it changes the pod's network namespace (iptables/tc), which needs a privileged agent on the node; use --backend docker or sim".to_owned(),
        ),
        K::DiskFull | K::DiskSlow | K::DnsFailure => Err(
            "it is not implemented on the kubernetes backend; use --backend sim".to_owned(),
        ),
    }
}

/// What an injection changed, kept for its revert.
#[derive(Debug, Clone, PartialEq)]
pub enum Saved {
    /// The Deployment as it was.
    Deployment(Box<Deployment>),
    /// The Service as it was.
    Service(Box<Service>),
    /// The ConfigMap and the Deployment as they were.
    Config(Box<ConfigMap>, Box<Deployment>),
    /// The Deployment and Service that were deleted.
    Removed(Box<Deployment>, Box<Service>),
    /// A NetworkPolicy the injection created (its name).
    Policy(String),
    /// Nothing to undo (a deleted pod is replaced by its ReplicaSet).
    Nothing,
}

/// The failpoint and actions of a code fault (see [`crate::collect::failpoint`]); a bad
/// env config is played here as the failing share of requests it causes.
pub fn failpoint(f: &ConcreteFault, rps: f64, factor: f64) -> Option<(&'static str, String)> {
    if f.kind == FaultKind::BadEnvConfig {
        let pct = f.param("error_pct").clamp(0.01, 100.0);
        return Some((
            "handler_error",
            format!("{}%return", (pct * 100.0).round() / 100.0),
        ));
    }
    crate::collect::failpoint(f, rps, factor)
}

/// Whether an injection of `f` ships as a deploy (a new release with a code diff).
pub fn is_deploy(f: &ConcreteFault) -> bool {
    f.kind == FaultKind::FailedDeploy
        || (f.kind.level() == otrashi_scenarios::catalog::Level::Code && f.via == Via::Deploy)
}

/// The name of the NetworkPolicy that partitions `service`.
pub fn policy_name(service: &str) -> String {
    format!("otrashi-partition-{service}")
}

fn container_mut(d: &mut Deployment) -> Option<&mut Container> {
    d.spec
        .as_mut()?
        .template
        .spec
        .as_mut()?
        .containers
        .iter_mut()
        .find(|c| c.name == super::render::CONTAINER)
}

fn set_env(c: &mut Container, key: &str, value: &str) {
    let env = c.env.get_or_insert_with(Vec::new);
    env.retain(|e| e.name != key);
    env.push(EnvVar {
        name: key.to_owned(),
        value: Some(value.to_owned()),
        ..EnvVar::default()
    });
}

fn set_template_annotation(d: &mut Deployment, key: &str, value: &str) {
    if let Some(spec) = d.spec.as_mut() {
        spec.template
            .metadata
            .get_or_insert_with(ObjectMeta::default)
            .annotations
            .get_or_insert_with(Default::default)
            .insert(key.to_owned(), value.to_owned());
    }
}

/// The object as it was, for an unconditional PUT (no `resourceVersion`) or a
/// re-create (no server-set identity either).
fn for_restore(mut meta: ObjectMeta, recreate: bool) -> ObjectMeta {
    meta.resource_version = None;
    meta.managed_fields = None;
    if recreate {
        meta.uid = None;
        meta.creation_timestamp = None;
        meta.generation = None;
        meta.deletion_timestamp = None;
        meta.deletion_grace_period_seconds = None;
    }
    meta
}

/// Injects and reverts faults in one namespace.
#[derive(Clone)]
pub struct Injector {
    client: Client,
    ns: String,
    episode: String,
    scale: Scale,
    rps: f64,
}

impl std::fmt::Debug for Injector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Injector")
            .field("ns", &self.ns)
            .field("episode", &self.episode)
            .finish_non_exhaustive()
    }
}

fn pp() -> PostParams {
    PostParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PostParams::default()
    }
}

impl Injector {
    /// An injector for namespace `ns` of `episode`, at timeline scale `scale` and a
    /// wall-clock request rate `rps` (code faults are scaled to it).
    pub fn new(client: Client, ns: &str, episode: &str, scale: Scale, rps: f64) -> Injector {
        Injector {
            client,
            ns: ns.to_owned(),
            episode: episode.to_owned(),
            scale,
            rps,
        }
    }

    fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), &self.ns)
    }
    fn services(&self) -> Api<Service> {
        Api::namespaced(self.client.clone(), &self.ns)
    }
    fn config_maps(&self) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone(), &self.ns)
    }
    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.ns)
    }
    fn policies(&self) -> Api<NetworkPolicy> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    async fn get_deployment(&self, name: &str) -> Result<Deployment, FaultError> {
        self.deployments()
            .get(name)
            .await
            .map_err(api_err(format!("GET deployment {}/{name}", self.ns)))
    }

    async fn put_deployment(&self, d: &Deployment) -> Result<(), FaultError> {
        let name = d.metadata.name.clone().unwrap_or_default();
        self.deployments()
            .replace(&name, &pp(), d)
            .await
            .map_err(api_err(format!("PUT deployment {}/{name}", self.ns)))?;
        Ok(())
    }

    /// GETs the target's Deployment, changes it with `change`, PUTs it (with the GET's
    /// `resourceVersion`, so a concurrent change is never overwritten), and returns the
    /// Deployment as it was. A conflict (the controller updated the status in between)
    /// is retried on a fresh GET, up to [`CONFLICT_RETRIES`] times.
    async fn change_deployment(
        &self,
        name: &str,
        change: impl Fn(&mut Deployment) -> Result<(), FaultError>,
    ) -> Result<Saved, FaultError> {
        let mut attempt = 0;
        loop {
            let before = self.get_deployment(name).await?;
            let mut after = before.clone();
            change(&mut after)?;
            match self.put_deployment(&after).await {
                Ok(()) => return Ok(Saved::Deployment(Box::new(before))),
                Err(FaultError::Api {
                    source: kube::Error::Api(s),
                    ..
                }) if s.code == 409 && attempt + 1 < CONFLICT_RETRIES => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }

    fn container<'a>(
        &self,
        d: &'a mut Deployment,
        name: &str,
    ) -> Result<&'a mut Container, FaultError> {
        container_mut(d).ok_or_else(|| FaultError::Shape(format!("deployment {}/{name}", self.ns)))
    }

    /// A configuration change: the ConfigMap's `key` set to `value`, and the pod
    /// template's config revision bumped so that the pods restart with it.
    async fn change_config(
        &self,
        name: &str,
        key: &str,
        value: &str,
        revision: &str,
    ) -> Result<Saved, FaultError> {
        let cm_name = config_map_name(name);
        let cm = self
            .config_maps()
            .get(&cm_name)
            .await
            .map_err(api_err(format!("GET configmap {}/{cm_name}", self.ns)))?;
        let dep = self.get_deployment(name).await?;
        let mut cm2 = cm.clone();
        cm2.data
            .get_or_insert_with(Default::default)
            .insert(key.to_owned(), value.to_owned());
        self.config_maps()
            .replace(&cm_name, &pp(), &cm2)
            .await
            .map_err(api_err(format!("PUT configmap {}/{cm_name}", self.ns)))?;
        let mut dep2 = dep.clone();
        set_template_annotation(&mut dep2, CONFIG_REVISION, revision);
        let saved = Saved::Config(Box::new(cm), Box::new(dep));
        if let Err(e) = self.put_deployment(&dep2).await {
            // Half a change is still a change: put the ConfigMap back before failing.
            let _ = self.revert(&saved).await;
            return Err(e);
        }
        Ok(saved)
    }

    /// Injects `f` (the fault with id `f.id`, at its target) and returns what its revert
    /// needs.
    pub async fn inject(&self, f: &ConcreteFault) -> Result<Saved, FaultError> {
        use FaultKind as K;
        let target = f.target.as_str();
        match f.kind {
            K::CrashLoop => {
                self.change_deployment(target, |d| {
                    let c = self.container(d, target)?;
                    // The workload refuses a pool of size 0 at start and exits.
                    set_env(c, "OTRASHI_POOL_SIZE", "0");
                    Ok(())
                })
                .await
            }
            K::OomKill => {
                let mb = f.param("limit_mb").clamp(16.0, 32.0);
                self.change_deployment(target, |d| {
                    let c = self.container(d, target)?;
                    let res = c.resources.get_or_insert_with(Default::default);
                    for map in [
                        res.limits.get_or_insert_with(Default::default),
                        res.requests.get_or_insert_with(Default::default),
                    ] {
                        map.insert("memory".to_owned(), memory_quantity(mb));
                    }
                    // A working set that outgrows the limit within seconds.
                    set_env(c, "OTRASHI_FAILPOINTS", "leak_memory=return(1048576)");
                    Ok(())
                })
                .await
            }
            K::ScaleToZero => {
                self.change_deployment(target, |d| {
                    d.spec.get_or_insert_with(Default::default).replicas = Some(0);
                    Ok(())
                })
                .await
            }
            K::CpuThrottle => {
                let cores = f.param("limit_cores").clamp(0.01, 8.0);
                self.change_deployment(target, |d| {
                    let c = self.container(d, target)?;
                    let res = c.resources.get_or_insert_with(Default::default);
                    res.limits
                        .get_or_insert_with(Default::default)
                        .insert("cpu".to_owned(), cpu_quantity(cores));
                    // A request above the limit is refused by the API server.
                    res.requests
                        .get_or_insert_with(Default::default)
                        .insert("cpu".to_owned(), cpu_quantity(cores / 10.0));
                    Ok(())
                })
                .await
            }
            K::LivenessProbeMisconfig => {
                let period = (self
                    .scale
                    .wall((f.param("period_s") * 1000.0) as u64)
                    .as_secs_f64())
                .round()
                .max(1.0) as i32;
                self.change_deployment(target, |d| {
                    let c = self.container(d, target)?;
                    let probe = c.liveness_probe.get_or_insert_with(Default::default);
                    let get = probe.http_get.get_or_insert_with(Default::default);
                    // Nothing listens there: every probe fails, one failure kills.
                    get.port = IntOrString::Int(8081);
                    probe.period_seconds = Some(period);
                    probe.initial_delay_seconds = Some(period);
                    probe.failure_threshold = Some(1);
                    Ok(())
                })
                .await
            }
            K::FailedDeploy => {
                let pct = f.param("unavailable_pct").clamp(10.0, 100.0).round();
                self.change_deployment(target, |d| {
                    let c = self.container(d, target)?;
                    // The new release refuses its configuration at start.
                    set_env(c, "OTRASHI_POOL_SIZE", "0");
                    set_env(c, "OTRASHI_RELEASE", "v1.5.0");
                    if let Some(spec) = d.spec.as_mut() {
                        spec.strategy = Some(DeploymentStrategy {
                            type_: Some("RollingUpdate".to_owned()),
                            rolling_update: Some(RollingUpdateDeployment {
                                max_unavailable: Some(IntOrString::String(format!("{pct}%"))),
                                max_surge: Some(IntOrString::String("25%".to_owned())),
                            }),
                        });
                    }
                    Ok(())
                })
                .await
            }
            K::MisroutedPort => {
                let before = self
                    .services()
                    .get(target)
                    .await
                    .map_err(api_err(format!("GET service {}/{target}", self.ns)))?;
                let mut after = before.clone();
                let port = f.param("port").clamp(1.0, 65535.0) as i32;
                let port = if port == i32::from(otrashi_docker::image::WORKLOAD_PORT) {
                    8081
                } else {
                    port
                };
                for p in after
                    .spec
                    .as_mut()
                    .and_then(|s| s.ports.as_mut())
                    .into_iter()
                    .flatten()
                {
                    p.target_port = Some(IntOrString::Int(port));
                }
                self.services()
                    .replace(target, &pp(), &after)
                    .await
                    .map_err(api_err(format!("PUT service {}/{target}", self.ns)))?;
                Ok(Saved::Service(Box::new(before)))
            }
            K::DependencyRemoved => {
                let dep = self.get_deployment(target).await?;
                let svc = self
                    .services()
                    .get(target)
                    .await
                    .map_err(api_err(format!("GET service {}/{target}", self.ns)))?;
                self.deployments()
                    .delete(target, &DeleteParams::background())
                    .await
                    .map_err(api_err(format!("DELETE deployment {}/{target}", self.ns)))?;
                let saved = Saved::Removed(Box::new(dep), Box::new(svc));
                if let Err(e) = self
                    .services()
                    .delete(target, &DeleteParams::default())
                    .await
                {
                    let _ = self.revert(&saved).await;
                    return Err(FaultError::Api {
                        action: format!("DELETE service {}/{target}", self.ns),
                        source: e,
                    });
                }
                Ok(saved)
            }
            K::NetworkPartition => {
                let name = policy_name(target);
                let mut labels = episode_labels(&self.episode);
                labels.insert(SERVICE_LABEL.to_owned(), target.to_owned());
                let policy = NetworkPolicy {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(self.ns.clone()),
                        labels: Some(labels),
                        ..ObjectMeta::default()
                    },
                    spec: Some(NetworkPolicySpec {
                        pod_selector: Some(LabelSelector {
                            match_labels: Some(selector(&self.episode, target)),
                            ..LabelSelector::default()
                        }),
                        policy_types: Some(vec!["Ingress".to_owned()]),
                        // No ingress rule: nothing may connect.
                        ingress: None,
                        egress: None,
                    }),
                };
                self.policies()
                    .create(&pp(), &policy)
                    .await
                    .map_err(api_err(format!("POST networkpolicy {}/{name}", self.ns)))?;
                Ok(Saved::Policy(name))
            }
            K::BadEnvConfig => {
                let (name, actions) = failpoint(f, self.rps, self.scale.factor).ok_or(
                    FaultError::Unsupported(f.kind.as_str(), "no failpoint".into()),
                )?;
                self.change_config(
                    target,
                    "OTRASHI_FAILPOINTS",
                    &format!("{name}={actions}"),
                    &f.id,
                )
                .await
            }
            k if k.level() == otrashi_scenarios::catalog::Level::Code => {
                let (name, actions) = failpoint(f, self.rps, self.scale.factor)
                    .ok_or_else(|| FaultError::Unsupported(k.as_str(), "no failpoint".into()))?;
                let value = format!("{name}={actions}");
                if f.via == Via::Deploy {
                    self.change_deployment(target, |d| {
                        let c = self.container(d, target)?;
                        set_env(c, "OTRASHI_FAILPOINTS", &value);
                        set_env(c, "OTRASHI_RELEASE", "v1.5.0");
                        Ok(())
                    })
                    .await
                } else {
                    self.change_config(target, "OTRASHI_FAILPOINTS", &value, &f.id)
                        .await
                }
            }
            K::PodKill => {
                // The first deletion; the environment repeats it every `every_s`.
                self.kill_one_pod(target).await?;
                Ok(Saved::Nothing)
            }
            k => Err(FaultError::Unsupported(
                k.as_str(),
                support(k).err().unwrap_or_default(),
            )),
        }
    }

    /// A harmless release of `service` (a red herring): a rollout whose only change is
    /// the release name. Not reverted: releases stay.
    pub async fn release(&self, service: &str, version: &str) -> Result<(), FaultError> {
        self.change_deployment(service, |d| {
            let c = self.container(d, service)?;
            set_env(c, "OTRASHI_RELEASE", version);
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// Deletes one pod (the first by name that is not terminating already) of
    /// `service`'s Deployment; returns its name (`None`: no pod to delete).
    pub async fn kill_one_pod(&self, service: &str) -> Result<Option<String>, FaultError> {
        let lp = ListParams::default().labels(&selector_string(&self.episode, service));
        let pods = self
            .pods()
            .list(&lp)
            .await
            .map_err(api_err(format!("LIST pods {} of {service}", self.ns)))?;
        let mut names: Vec<String> = pods
            .items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter_map(|p| p.metadata.name)
            .collect();
        names.sort();
        if let Some(name) = names.first() {
            self.pods()
                .delete(name, &DeleteParams::default())
                .await
                .map_err(api_err(format!("DELETE pod {}/{name}", self.ns)))?;
        }
        Ok(names.into_iter().next())
    }

    /// Restores what an injection changed. Idempotent: the objects are PUT as they
    /// were, a policy already gone is deleted, a removed pair already back is fine.
    pub async fn revert(&self, saved: &Saved) -> Result<(), FaultError> {
        match saved {
            Saved::Deployment(d) => {
                let mut d = (**d).clone();
                d.metadata = for_restore(d.metadata, false);
                self.put_deployment(&d).await
            }
            Saved::Service(s) => {
                let mut s = (**s).clone();
                s.metadata = for_restore(s.metadata, false);
                let name = s.metadata.name.clone().unwrap_or_default();
                self.services()
                    .replace(&name, &pp(), &s)
                    .await
                    .map_err(api_err(format!("PUT service {}/{name}", self.ns)))?;
                Ok(())
            }
            Saved::Config(cm, d) => {
                let mut cm = (**cm).clone();
                cm.metadata = for_restore(cm.metadata, false);
                let name = cm.metadata.name.clone().unwrap_or_default();
                self.config_maps()
                    .replace(&name, &pp(), &cm)
                    .await
                    .map_err(api_err(format!("PUT configmap {}/{name}", self.ns)))?;
                let mut d = (**d).clone();
                d.metadata = for_restore(d.metadata, false);
                self.put_deployment(&d).await
            }
            Saved::Removed(d, s) => {
                let mut d = (**d).clone();
                d.metadata = for_restore(d.metadata, true);
                d.status = None;
                let name = d.metadata.name.clone().unwrap_or_default();
                match self.deployments().create(&pp(), &d).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 409 => {}
                    Err(e) => {
                        return Err(FaultError::Api {
                            action: format!("POST deployment {}/{name}", self.ns),
                            source: e,
                        })
                    }
                }
                let mut s = (**s).clone();
                s.metadata = for_restore(s.metadata, true);
                s.status = None;
                if let Some(spec) = s.spec.as_mut() {
                    // The old address was released with the Service; take a new one.
                    spec.cluster_ip = None;
                    spec.cluster_ips = None;
                }
                match self.services().create(&pp(), &s).await {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(st)) if st.code == 409 => Ok(()),
                    Err(e) => Err(FaultError::Api {
                        action: format!("POST service {}/{name}", self.ns),
                        source: e,
                    }),
                }
            }
            Saved::Policy(name) => {
                match self.policies().delete(name, &DeleteParams::default()).await {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                    Err(e) => Err(FaultError::Api {
                        action: format!("DELETE networkpolicy {}/{name}", self.ns),
                        source: e,
                    }),
                }
            }
            Saved::Nothing => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;

/// The faults of one episode that are in effect, by their index in the incident: what
/// makes a revert of a fault that was never injected (or whose injection failed
/// before its change) a no-op.
#[derive(Debug)]
pub struct Active {
    injector: Injector,
    active: Vec<(usize, Saved)>,
}

impl Active {
    /// Nothing in effect yet.
    pub fn new(injector: Injector) -> Active {
        Active {
            injector,
            active: Vec::new(),
        }
    }

    /// The injector.
    pub fn injector(&self) -> &Injector {
        &self.injector
    }

    /// Injects fault `n` (`f`); on error nothing is recorded (each injection changes
    /// at most one object last, and undoes its own earlier changes when a later one
    /// fails).
    pub async fn inject(&mut self, n: usize, f: &ConcreteFault) -> Result<(), FaultError> {
        let saved = self.injector.inject(f).await?;
        self.active.push((n, saved));
        Ok(())
    }

    /// Reverts fault `n`; `Ok(false)` (and no request) when it is not in effect.
    pub async fn revert(&mut self, n: usize) -> Result<bool, FaultError> {
        let Some(pos) = self.active.iter().position(|(k, _)| *k == n) else {
            return Ok(false);
        };
        let (_, saved) = self.active.remove(pos);
        self.injector.revert(&saved).await?;
        Ok(true)
    }

    /// Reverts everything in effect, latest first; keeps going past failures (the
    /// namespace's deletion is the backstop) and returns them.
    pub async fn revert_all(&mut self) -> Vec<FaultError> {
        let mut errors = Vec::new();
        while let Some((_, saved)) = self.active.pop() {
            if let Err(e) = self.injector.revert(&saved).await {
                errors.push(e);
            }
        }
        errors
    }

    /// Whether fault `n` is in effect.
    pub fn is_active(&self, n: usize) -> bool {
        self.active.iter().any(|(k, _)| *k == n)
    }
}
