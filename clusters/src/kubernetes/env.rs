//! One Kubernetes episode: provisioning (sweep, image, objects, readiness), the run
//! loop (load, scrapes, faults on schedule), collection into telemetry, and teardown
//! (delete the namespace).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use http::Request;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event as KubeEvent, Pod};
use kube::api::{Api, ListParams, LogParams};
use kube::Client;
use otrashi_gym::backend::{BackendError, Env};
use otrashi_gym::context::EpisodeContext;
use otrashi_gym::telemetry::{Deploy, Event, EventType, MetricKind, ServiceId, Telemetry};
use otrashi_scenarios::catalog::{FaultKind, Via};
use otrashi_scenarios::incident::Incident;
use otrashi_scenarios::model::RedHerringKind;
use tokio_util::sync::CancellationToken;

use super::faults::{is_deploy, Active, FaultError, Injector};
use super::provision::{self, Progress, ProvisionError};
use super::render::{self, Owner};
use super::telemetry::{self as kt, Restarts};
use super::KubeBackend;
use crate::collect::logs::{parse_rfc3339_ms, LogSink};
use crate::collect::store::Store;
use crate::docker::load::{self, LoadStats};
use crate::docker::plan::Scale;
use crate::sim::SCRAPE_INTERVAL_MS;

fn prov(message: String, e: impl std::error::Error + Send + Sync + 'static) -> BackendError {
    BackendError::Provision {
        message,
        source: Some(Box::new(e)),
    }
}

fn run_err(e: FaultError) -> BackendError {
    BackendError::Run {
        message: e.to_string(),
        source: Some(Box::new(e)),
    }
}

fn unix_ms_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A provisioned Kubernetes episode.
pub struct KubeEnv {
    client: Client,
    /// The episode's namespace.
    pub namespace: String,
    incident: Incident,
    episode: String,
    scale: Scale,
    rps: f64,
    services: Vec<String>,
    entry: usize,
    faults: Active,
    sink: LogSink,
    /// Per pod (and `<pod>#previous`): the Unix ms of the last log line taken.
    log_marks: HashMap<String, i64>,
    events: Vec<Event>,
    raw_events: Vec<kt::RawEvent>,
    deploys: Vec<Deploy>,
    restarts: Restarts,
    start: Option<(Instant, i64)>,
    /// What the load generator saw (for tests asserting effects independently).
    pub stats: Arc<LoadStats>,
    torn_down: bool,
}

/// Provisions an episode: sweeps dead episodes, finds or builds the image, creates the
/// namespace and its objects, and waits until every Deployment is ready. On failure
/// the namespace is deleted again.
pub(super) async fn provision(
    backend: &KubeBackend,
    incident: &Incident,
    cx: &EpisodeContext,
) -> Result<KubeEnv, BackendError> {
    if cx.cancel.is_cancelled() {
        return Err(BackendError::Cancelled);
    }
    let client = backend.client().clone();
    let options = backend.options();
    let owner = Owner::current();
    let swept = super::sweep::sweep(&client, &owner, options.sweep_max_age)
        .await
        .map_err(|e| prov("sweeping namespaces of earlier episodes".to_owned(), e))?;
    for (ns, why) in &swept.deleted {
        tracing::info!(namespace = %ns, reason = %why, "swept a leftover episode namespace");
    }
    let image = match &options.image {
        Some(i) => i.clone(),
        None => build_image(options.workload_bin.as_deref()).await?,
    };
    let rendered = render::render(incident, &cx.episode_id, &image, &owner);
    let ns = rendered.namespace_name.clone();
    let progress = |p: &Progress| backend.report(p);
    let made = async {
        provision::apply(&client, &rendered, &progress).await?;
        provision::wait_ready(&client, &ns, options.ready_timeout, &cx.cancel, &progress).await
    }
    .await;
    if let Err(e) = made {
        let _ = provision::delete_namespace(&client, &ns).await;
        return Err(match e {
            ProvisionError::Cancelled(_) => BackendError::Cancelled,
            e => prov(format!("provisioning namespace {ns}"), e),
        });
    }
    let scale = Scale::fit(incident, options.max_wall_s, options.rps_cap);
    let rps = scale.rps(incident.load.rps);
    Ok(KubeEnv {
        faults: Active::new(Injector::new(
            client.clone(),
            &ns,
            &cx.episode_id,
            scale,
            rps,
        )),
        client,
        namespace: ns,
        incident: incident.clone(),
        episode: cx.episode_id.clone(),
        scale,
        rps,
        services: incident
            .topology
            .services
            .iter()
            .map(|s| s.name.clone())
            .collect(),
        entry: incident
            .topology
            .index_of(&incident.topology.entry)
            .unwrap_or(0),
        sink: LogSink::default(),
        log_marks: HashMap::new(),
        events: Vec::new(),
        raw_events: Vec::new(),
        deploys: Vec::new(),
        restarts: Restarts::default(),
        start: None,
        stats: Arc::new(LoadStats::default()),
        torn_down: false,
    })
}

/// Builds the workload image with the local Docker engine (it is then expected on the
/// nodes: `otrashi kind up` loads it into kind; on another cluster push it and pass
/// `OTRASHI_KUBE_IMAGE`).
pub async fn build_image(workload_bin: Option<&std::path::Path>) -> Result<String, BackendError> {
    let bin = match workload_bin {
        Some(b) => b.to_owned(),
        None => crate::docker::find_workload()
            .map_err(|e| prov("finding the workload binary".to_owned(), e))?,
    };
    let engine = otrashi_docker::Engine::connect().await.map_err(|e| {
        prov(
            "no Docker engine to build the workload image with (or pass the image with OTRASHI_KUBE_IMAGE)"
                .to_owned(),
            e,
        )
    })?;
    let built = otrashi_docker::build_workload_image(&engine, &bin, |_| {})
        .await
        .map_err(|e| {
            prov(
                format!("building the workload image from {}", bin.display()),
                e,
            )
        })?;
    Ok(built.tag)
}

enum Action {
    Scrape(usize),
    Herring(usize),
    Inject(usize),
    Revert(usize),
    /// The next deletion of a pod_kill fault.
    KillPod(usize),
}

/// The API server's proxy path to a service's port (`name:port`).
pub fn service_proxy_path(ns: &str, service: &str, path: &str) -> String {
    format!(
        "/api/v1/namespaces/{ns}/services/{service}:{}/proxy{path}",
        otrashi_docker::image::WORKLOAD_PORT
    )
}

/// The API server's proxy path to a pod's port.
pub fn pod_proxy_path(ns: &str, pod: &str, path: &str) -> String {
    format!(
        "/api/v1/namespaces/{ns}/pods/{pod}:{}/proxy{path}",
        otrashi_docker::image::WORKLOAD_PORT
    )
}

/// Sends `GET /` to the entry through the API server's service proxy at `rps` times
/// `rate(elapsed)`, open loop, until `stop`.
async fn drive_load(
    client: Client,
    path: String,
    rps: f64,
    rate: impl Fn(Duration) -> f64 + Send + 'static,
    stats: Arc<LoadStats>,
    stop: CancellationToken,
) {
    let start = tokio::time::Instant::now();
    let mut next = start;
    loop {
        let now_rps = (rps * rate(next - start)).max(0.1);
        next += Duration::from_secs_f64(1.0 / now_rps);
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep_until(next) => {}
        }
        stats.sent.fetch_add(1, Ordering::Relaxed);
        let (client, stats, path) = (client.clone(), stats.clone(), path.clone());
        tokio::spawn(async move {
            let Ok(req) = Request::get(&path).body(Vec::new()) else {
                return;
            };
            let r = tokio::time::timeout(Duration::from_secs(5), client.request_text(req)).await;
            let counter = match r {
                Ok(Ok(_)) => &stats.ok,
                // The proxy answers 503 when no endpoint is ready and passes the
                // service's own 5xx through.
                Ok(Err(kube::Error::Api(s))) if s.code >= 500 => &stats.server_errors,
                Ok(Err(kube::Error::Api(_))) => &stats.ok,
                _ => &stats.failed,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        });
    }
}

impl KubeEnv {
    fn now_ms(&self) -> u64 {
        self.start
            .map_or(0, |(t, _)| self.scale.scenario_ms(t.elapsed()))
    }

    fn to_scenario(&self, unix_ms: i64) -> Option<u64> {
        let (_, u0) = self.start?;
        let wall = u64::try_from(unix_ms - u0).ok()?;
        let t = (wall as f64 / self.scale.factor) as u64;
        (t < self.incident.timeline.end().as_millis()).then_some(t)
    }

    fn event(&mut self, i: usize, event_type: EventType, reason: &str, message: String) {
        let t_ms = self.now_ms();
        self.events.push(Event {
            t_ms,
            service: i as ServiceId,
            event_type,
            reason: reason.to_owned(),
            message,
        });
    }

    fn index(&self, service: &str) -> Result<usize, BackendError> {
        self.services
            .iter()
            .position(|s| s == service)
            .ok_or_else(|| BackendError::Run {
                message: format!("fault target `{service}` is not a service of the topology"),
                source: None,
            })
    }

    async fn pods(&self) -> Vec<Pod> {
        Api::<Pod>::namespaced(self.client.clone(), &self.namespace)
            .list(&ListParams::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default()
    }

    /// Takes the log lines of every pod of service `i` (or of all services) written
    /// since the last time, including the previous container of a restarted one.
    async fn collect_logs(&mut self, only: Option<usize>) {
        let pods = self.pods().await;
        let logs: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        for pod in pods {
            let (Some(name), Some(svc)) = (
                pod.metadata.name.clone(),
                kt::service_of_pod(&pod, &self.services),
            ) else {
                continue;
            };
            if only.is_some_and(|o| o != svc) {
                continue;
            }
            let restarted = pod
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.restart_count > 0));
            let mut takes = vec![(name.clone(), false)];
            if restarted {
                takes.push((format!("{name}#previous"), true));
            }
            for (key, previous) in takes {
                let lp = LogParams {
                    container: Some(render::CONTAINER.to_owned()),
                    timestamps: true,
                    previous,
                    ..LogParams::default()
                };
                let Ok(text) = logs.logs(&name, &lp).await else {
                    continue;
                };
                self.take_lines(svc, &key, &text);
            }
        }
    }

    fn take_lines(&mut self, svc: usize, key: &str, text: &str) {
        let mark = self.log_marks.get(key).copied().unwrap_or(i64::MIN);
        let mut last = mark;
        let (start, factor, end) = (
            self.start,
            self.scale.factor,
            self.incident.timeline.end().as_millis(),
        );
        let clock = move |u: i64| -> Option<u64> {
            let (_, u0) = start?;
            let t = (u64::try_from(u - u0).ok()? as f64 / factor) as u64;
            (t < end).then_some(t)
        };
        for line in text.lines() {
            let (ts, rest) = line.split_once(' ').unwrap_or(("", line));
            let ts = parse_rfc3339_ms(ts);
            if ts.is_some_and(|t| t <= mark) {
                continue;
            }
            if let Some(t) = ts {
                last = last.max(t);
            }
            self.sink.line(svc as ServiceId, rest, ts, &clock);
        }
        self.log_marks.insert(key.to_owned(), last);
    }

    /// One scrape as sample `k`: each service's `/metrics` (from its first ready pod,
    /// through the API server's pod proxy), restarts, available replicas and limits.
    async fn scrape(&mut self, k: usize, store: &mut Store) {
        let pods = self.pods().await;
        let now = unix_ms_now();
        for ev in self.restarts.observe(&pods, &self.services, now) {
            self.raw_events.push(ev);
        }
        let deps = Api::<Deployment>::namespaced(self.client.clone(), &self.namespace)
            .list(&ListParams::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        let timeout = self
            .scale
            .wall(SCRAPE_INTERVAL_MS)
            .clamp(Duration::from_millis(300), Duration::from_secs(2));
        let mut targets: Vec<Option<String>> = vec![None; self.services.len()];
        let mut ready: Vec<&Pod> = pods
            .iter()
            .filter(|p| provision::diagnose(p).is_none())
            .collect();
        ready.sort_by_key(|p| p.metadata.name.clone());
        for p in ready {
            if let (Some(svc), Some(name)) = (
                kt::service_of_pod(p, &self.services),
                p.metadata.name.clone(),
            ) {
                targets[svc].get_or_insert(name);
            }
        }
        let client = self.client.clone();
        let ns = self.namespace.clone();
        let bodies = futures_util::future::join_all(targets.iter().map(|t| {
            let (client, ns) = (client.clone(), ns.clone());
            async move {
                let pod = t.as_ref()?;
                let req = Request::get(pod_proxy_path(&ns, pod, "/metrics"))
                    .body(Vec::new())
                    .ok()?;
                tokio::time::timeout(timeout, client.request_text(req))
                    .await
                    .ok()?
                    .ok()
            }
        }))
        .await;
        for (i, body) in bodies.into_iter().enumerate() {
            let svc = i as ServiceId;
            let put = |store: &mut Store, name: &str, kind, v: f64| {
                store.put(k, svc, name, Vec::new(), kind, v)
            };
            match body {
                Some(text) => {
                    store.scrape(k, svc, &text);
                    put(store, "up", MetricKind::Gauge, 1.0);
                }
                None => put(store, "up", MetricKind::Gauge, 0.0),
            }
            put(
                store,
                "kube_pod_container_status_restarts_total",
                MetricKind::Counter,
                f64::from(self.restarts.total(i)),
            );
            let dep = deps
                .iter()
                .find(|d| d.metadata.name.as_deref() == Some(self.services[i].as_str()));
            let available = dep
                .and_then(|d| d.status.as_ref())
                .and_then(|s| s.available_replicas)
                .unwrap_or(0);
            put(
                store,
                "kube_deployment_status_replicas_available",
                MetricKind::Gauge,
                f64::from(available),
            );
            if let Some(d) = dep {
                let (cpu, mem) = kt::limits(d);
                if let Some(c) = cpu {
                    put(store, "container_spec_cpu_quota", MetricKind::Gauge, c);
                }
                if let Some(m) = mem {
                    put(
                        store,
                        "container_spec_memory_limit_bytes",
                        MetricKind::Gauge,
                        m,
                    );
                }
            }
        }
    }

    /// Injects fault `n`: its change through the API, its deploy record or
    /// configuration event.
    async fn inject(&mut self, n: usize) -> Result<(), BackendError> {
        let f = self.incident.faults[n].clone();
        let i = self.index(&f.target)?;
        // The pods this change replaces take their logs with them.
        self.collect_logs(Some(i)).await;
        if is_deploy(&f) {
            let d = kt::deploy_record(
                &self.episode,
                &f.id,
                i,
                &f.target,
                Some(f.kind),
                false,
                self.now_ms(),
            );
            self.deploys.push(d);
        }
        self.faults.inject(n, &f).await.map_err(run_err)?;
        if !is_deploy(&f) && f.via == Via::Config {
            self.event(
                i,
                EventType::Normal,
                "ConfigChanged",
                format!(
                    "configuration of {} changed ({})",
                    f.target,
                    config_what(f.kind)
                ),
            );
        }
        Ok(())
    }

    /// Reverts fault `n` if it is active; a fault never injected is a no-op.
    async fn revert(&mut self, n: usize) -> Result<(), BackendError> {
        if !self.faults.is_active(n) {
            return Ok(());
        }
        let f = self.incident.faults[n].clone();
        let i = self.index(&f.target)?;
        self.collect_logs(Some(i)).await;
        if is_deploy(&f) {
            let d = kt::deploy_record(
                &self.episode,
                &f.id,
                i,
                &f.target,
                Some(f.kind),
                true,
                self.now_ms(),
            );
            self.deploys.push(d);
        }
        self.faults.revert(n).await.map_err(run_err).map(|_| ())
    }

    /// The next pod deletion of pod_kill fault `n`, unless it was reverted.
    async fn kill_pod(&mut self, n: usize) -> Result<(), BackendError> {
        if !self.faults.is_active(n) {
            return Ok(());
        }
        let f = self.incident.faults[n].clone();
        let i = self.index(&f.target)?;
        self.collect_logs(Some(i)).await;
        self.faults
            .injector()
            .kill_one_pod(&f.target)
            .await
            .map(|_| ())
            .map_err(run_err)
    }

    /// Red herring `n`: a harmless release (a real rollout that changes only the
    /// release); the other kinds are not played on Kubernetes.
    async fn herring(&mut self, n: usize) -> Result<(), BackendError> {
        let h = self.incident.red_herrings[n].clone();
        let Ok(i) = self.index(&h.target) else {
            return Ok(());
        };
        if h.kind != RedHerringKind::UnrelatedDeploy {
            return Ok(());
        }
        let d = kt::deploy_record(
            &self.episode,
            &format!("herring-{n}"),
            i,
            &h.target,
            None,
            false,
            self.now_ms(),
        );
        self.deploys.push(d);
        self.collect_logs(Some(i)).await;
        self.faults
            .injector()
            .release(&h.target, "v1.4.3")
            .await
            .map_err(run_err)
    }
}

fn config_what(kind: FaultKind) -> &'static str {
    use FaultKind as K;
    match kind {
        K::OomKill => "memory limit",
        K::CpuThrottle => "CPU limit",
        K::ScaleToZero => "replicas",
        K::MisroutedPort => "service target port",
        K::LivenessProbeMisconfig => "liveness probe",
        K::NetworkPartition => "network policy",
        K::DependencyRemoved => "deployment and service deleted",
        _ => "environment",
    }
}

#[async_trait]
impl Env for KubeEnv {
    async fn run(&mut self, cx: &EpisodeContext) -> Result<Telemetry, BackendError> {
        let end_ms = self.incident.timeline.end().as_millis();
        let step = SCRAPE_INTERVAL_MS;
        let samples = (end_ms / step) as usize;
        let mut plan: Vec<(u64, u8, Action)> = (0..samples)
            .map(|k| ((k as u64 + 1) * step, 1, Action::Scrape(k)))
            .collect();
        for (n, f) in self.incident.faults.iter().enumerate() {
            plan.push((f.at.as_millis(), 0, Action::Inject(n)));
            if f.until < self.incident.timeline.end() {
                plan.push((f.until.as_millis(), 0, Action::Revert(n)));
            }
        }
        for (n, h) in self.incident.red_herrings.iter().enumerate() {
            plan.push((h.at.as_millis(), 0, Action::Herring(n)));
        }
        // A pod_kill deletes a pod at its start (the injection) and every `every_s`.
        for (n, f) in self.incident.faults.iter().enumerate() {
            if f.kind == FaultKind::PodKill {
                let every = (f.param("every_s").max(5.0) * 1000.0) as u64;
                let mut t = f.at.as_millis() + every;
                while t < f.until.as_millis().min(end_ms) {
                    plan.push((t, 2, Action::KillPod(n)));
                    t += every;
                }
            }
        }
        plan.sort_by_key(|(t, o, _)| (*t, *o));
        let t0 = Instant::now();
        self.start = Some((t0, unix_ms_now()));
        let stop = CancellationToken::new();
        let (pattern, scale) = (self.incident.load.pattern, self.scale);
        let end_s = end_ms as f64 / 1000.0;
        let cap = self.scale.rps_cap * 1.5 / self.rps;
        let rate = move |wall: Duration| {
            load::shape(pattern, scale.scenario_ms(wall) as f64 / 1000.0, end_s).min(cap)
        };
        let load = tokio::spawn(drive_load(
            self.client.clone(),
            service_proxy_path(&self.namespace, &self.services[self.entry], "/"),
            self.rps,
            rate,
            self.stats.clone(),
            stop.clone(),
        ));
        let mut store = Store::default();
        let mut result = Ok(());
        for (t, _, action) in plan {
            let at = t0 + self.scale.wall(t);
            tokio::select! {
                () = cx.cancel.cancelled() => { result = Err(BackendError::Cancelled); break; }
                () = tokio::time::sleep_until(at.into()) => {}
            }
            let r = match action {
                Action::Scrape(k) => {
                    self.scrape(k, &mut store).await;
                    Ok(())
                }
                Action::Herring(n) => self.herring(n).await,
                Action::Inject(n) => self.inject(n).await,
                Action::Revert(n) => self.revert(n).await,
                Action::KillPod(n) => self.kill_pod(n).await,
            };
            if let Err(e) = r {
                result = Err(e);
                break;
            }
        }
        if result.is_ok() {
            tokio::select! {
                () = cx.cancel.cancelled() => result = Err(BackendError::Cancelled),
                () = tokio::time::sleep_until((t0 + self.scale.wall(end_ms)).into()) => {}
            }
        }
        stop.cancel();
        let _ = load.await;
        result?;
        self.collect_logs(None).await;
        let kube_events = Api::<KubeEvent>::namespaced(self.client.clone(), &self.namespace)
            .list(&ListParams::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        let mut raw: Vec<kt::RawEvent> = kube_events
            .iter()
            .filter_map(|e| kt::map_event(e, &self.services))
            .collect();
        raw.append(&mut self.raw_events);
        for (unix, svc, event_type, reason, message) in raw {
            if let Some(t_ms) = self.to_scenario(unix) {
                self.events.push(Event {
                    t_ms,
                    service: svc as ServiceId,
                    event_type,
                    reason,
                    message,
                });
            }
        }
        let mut sink = std::mem::take(&mut self.sink);
        sink.sort();
        Ok(crate::collect::telemetry(crate::collect::Collected {
            incident: &self.incident,
            start_unix_ms: self.start.map_or(0, |(_, u)| u),
            end_ms,
            services: &self.services,
            entry: self.entry as ServiceId,
            store,
            samples,
            step_ms: step,
            sink,
            events: std::mem::take(&mut self.events),
            deploys: std::mem::take(&mut self.deploys),
        }))
    }

    async fn teardown(&mut self, _cx: &EpisodeContext) -> Result<(), BackendError> {
        if self.torn_down {
            return Ok(());
        }
        // Reverting first restores the objects the faults changed (a clean record in
        // the API's audit log); deleting the namespace removes everything regardless.
        let errors: Vec<String> = self
            .faults
            .revert_all()
            .await
            .iter()
            .map(ToString::to_string)
            .collect();
        provision::delete_namespace(&self.client, &self.namespace)
            .await
            .map_err(|e| BackendError::Teardown {
                message: format!("deleting namespace {}", self.namespace),
                source: Some(Box::new(e)),
            })?;
        self.torn_down = true;
        if !errors.is_empty() {
            tracing::warn!(namespace = %self.namespace, errors = %errors.join("; "), "some fault reverts failed; the namespace was deleted anyway");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubernetes::mock::serve;
    use crate::kubernetes::render::{render, Owner};
    use crate::kubernetes::KubeOptions;
    use http::Method;
    use otrashi_gym::backend::Backend;
    use serde_json::{json, Value};

    fn rfc3339(ms: i64) -> String {
        k8s_openapi::jiff::Timestamp::from_millisecond(ms)
            .unwrap()
            .to_string()
    }

    /// A fake cluster for the mini topology: every Deployment and pod ready, metrics,
    /// logs and an event that all carry the time of the request.
    fn fake_cluster(method: &Method, uri: &str, body: &Value) -> (u16, Value) {
        let incident = incident();
        let owner = Owner {
            host: "h".to_owned(),
            pid: 1,
        };
        let r = render(&incident, "ep-mock", "img:1", &owner);
        let path = uri.split('?').next().unwrap();
        let now = rfc3339(unix_ms_now());
        let list = |kind: &str, items: Vec<Value>| json!({"apiVersion": "v1", "kind": kind, "metadata": {}, "items": items});
        match *method {
            Method::POST | Method::PUT => return (201, body.clone()),
            Method::DELETE => {
                return (
                    200,
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}),
                )
            }
            _ => {}
        }
        if path == "/api/v1/namespaces" {
            return (200, list("NamespaceList", vec![]));
        }
        if path.ends_with("/proxy/metrics") {
            return (
                200,
                Value::String(
                    "# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 7\n"
                        .to_owned(),
                ),
            );
        }
        if path.contains("/services/") && path.contains("/proxy") {
            return (200, Value::String("ok".to_owned()));
        }
        if path.ends_with("/log") {
            let line =
                json!({"ts": now, "level": "error", "msg": "Unhandled Exception in handler 42"});
            return (200, Value::String(format!("{now} {line}\n")));
        }
        if path.ends_with("/events") {
            return (
                200,
                json!({"apiVersion": "v1", "kind": "EventList", "metadata": {}, "items": [{
                    "metadata": {"name": "e1", "namespace": "otrashi-ep-mock"},
                    "involvedObject": {"kind": "Pod", "name": "api-abc-1"},
                    "reason": "BackOff", "type": "Warning", "message": "Back-off restarting failed container",
                    // Micro-time: the last half second of the (1.5 s) run.
                    "eventTime": k8s_openapi::jiff::Timestamp::from_millisecond(unix_ms_now() - 500).unwrap().to_string()
                }]}),
            );
        }
        if path.ends_with("/deployments") {
            let items = r
                .services
                .iter()
                .map(|s| {
                    let mut d = serde_json::to_value(&s.deployment).unwrap();
                    let n = d["spec"]["replicas"].clone();
                    d["status"] =
                        json!({"readyReplicas": n, "updatedReplicas": n, "availableReplicas": n});
                    d
                })
                .collect();
            return (200, list("DeploymentList", items));
        }
        if let Some(name) =
            path.strip_prefix("/apis/apps/v1/namespaces/otrashi-ep-mock/deployments/")
        {
            let s = r.services.iter().find(|s| s.name == name).unwrap();
            return (200, serde_json::to_value(&s.deployment).unwrap());
        }
        if path.ends_with("/pods") {
            let items = r
                .services
                .iter()
                .map(|s| json!({
                    "metadata": {"name": format!("{}-abc-1", s.name), "labels": {"otrashi.service": s.name}},
                    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                        "containerStatuses": [{"name": "workload", "ready": true, "restartCount": 0, "image": "i", "imageID": ""}]}
                }))
                .collect();
            return (200, list("PodList", items));
        }
        (
            404,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404, "reason": "NotFound", "message": path}),
        )
    }

    fn incident() -> Incident {
        let sc = otrashi_scenarios::parse::parse_str(
            "apiVersion: otrashi/v1
kind: Scenario
metadata: {name: mock}
topology:
  name: mini
  entry: web
  services:
    web: {kind: web, calls: [api]}
    api: {kind: api}
load: {rps: 10, pattern: steady}
timeline: {warmup: 10s, duration: 20s}
faults:
  - {id: crash, kind: orchestration.crash_loop, target: api, at: 12s, duration: 10s, via: config}
",
            "mock",
        )
        .unwrap();
        otrashi_scenarios::incident::sample(&sc, 1).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_episode_over_a_mocked_api_provisions_injects_collects_and_deletes_its_namespace() {
        let (client, task) = serve(fake_cluster);
        let options = KubeOptions {
            image: Some("img:1".to_owned()),
            max_wall_s: 1.5,
            ready_timeout: Duration::from_secs(5),
            ..KubeOptions::default()
        };
        let backend = KubeBackend::with_client(client, options);
        let incident = incident();
        backend.check(&incident).unwrap();
        let cx = EpisodeContext::new("ep-mock", 1);
        let mut env = backend.provision_env(&incident, &cx).await.unwrap();
        assert_eq!(env.namespace, "otrashi-ep-mock");
        let t = env.run(&cx).await.unwrap();
        env.teardown(&cx).await.unwrap();
        env.teardown(&cx).await.unwrap();
        let (sent, ok, ..) = env.stats.snapshot();
        drop(env);
        drop(backend);
        let calls = task.await.unwrap();

        // Telemetry from the API: scraped metrics, restarts, pod logs, events, the
        // configuration change.
        let api = t.service_id("api").unwrap();
        let up = t
            .metrics
            .iter()
            .find(|m| m.name == "up" && m.service == api)
            .unwrap();
        assert!(up.values.iter().all(|v| *v == 1.0), "{:?}", up.values);
        assert!(t.metrics.iter().any(|m| m.name == "http_requests_total"));
        assert!(t
            .metrics
            .iter()
            .any(|m| m.name == "kube_pod_container_status_restarts_total"));
        let cpu = t
            .metrics
            .iter()
            .find(|m| m.name == "container_spec_cpu_quota" && m.service == api)
            .unwrap();
        let want = incident
            .topology
            .service("api")
            .unwrap()
            .cpu_cores
            .clamp(0.25, 1.0);
        assert_eq!(cpu.values[0], want);
        assert!(t.logs.iter().any(|l| t.log_templates[l.template as usize]
            .text
            .contains("Unhandled Exception")));
        assert!(t
            .events
            .iter()
            .any(|e| e.reason == "BackOff" && e.service == api));
        assert!(t
            .events
            .iter()
            .any(|e| e.reason == "ConfigChanged" && e.service == api));
        assert!(
            sent > 0 && ok > 0,
            "the load went through the service proxy: {sent} sent, {ok} ok"
        );

        // The requests: the sweep, the objects, the fault and its revert, the load
        // through the entry's service proxy, the namespace deleted once.
        let has = |m: Method, p: &str| calls.iter().any(|c| c.method == m && c.uri.starts_with(p));
        assert!(has(
            Method::GET,
            "/api/v1/namespaces?&labelSelector=otrashi%3Dtrue"
        ));
        assert!(has(Method::POST, "/api/v1/namespaces?"));
        let puts: Vec<_> = calls.iter().filter(|c| c.method == Method::PUT).collect();
        assert_eq!(puts.len(), 2, "inject and revert of the crash loop");
        assert!(puts[0]
            .uri
            .starts_with("/apis/apps/v1/namespaces/otrashi-ep-mock/deployments/api?"));
        assert!(puts[1].body["spec"]["template"]["spec"]["containers"][0]
            .get("env")
            .is_none());
        assert!(has(
            Method::GET,
            "/api/v1/namespaces/otrashi-ep-mock/services/web:8080/proxy/"
        ));
        assert!(has(
            Method::GET,
            "/api/v1/namespaces/otrashi-ep-mock/pods/api-abc-1:8080/proxy/metrics"
        ));
        assert!(has(
            Method::GET,
            "/api/v1/namespaces/otrashi-ep-mock/pods/api-abc-1/log?"
        ));
        let deletes: Vec<_> = calls
            .iter()
            .filter(|c| c.method == Method::DELETE)
            .collect();
        assert_eq!(deletes.len(), 1);
        assert_eq!(deletes[0].uri, "/api/v1/namespaces/otrashi-ep-mock?");
    }
}
