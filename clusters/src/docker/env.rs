//! One Docker episode: provisioning, the run loop (load, scrapes, faults on schedule),
//! collection into telemetry, and teardown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bollard::query_parameters::{
    EventsOptions, InspectContainerOptions, LogsOptions, StatsOptions,
};
use futures_util::StreamExt;
use otrashi_docker::{ContainerSpec, Engine, SweepFilter};
use otrashi_gym::backend::{BackendError, Env};
use otrashi_gym::context::EpisodeContext;
use otrashi_gym::telemetry::{Deploy, Event, EventType, MetricKind, ServiceId, Telemetry};
use otrashi_scenarios::incident::Incident;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::faults::{NoSource, Revert};
use super::journal::{Journal, Undo};
use super::load::{self, LoadStats};
use super::logs::LogSink;
use super::plan::{self, Scale, PID_LABEL, SERVICE_LABEL};
use super::scrape::ServiceScrape;
use super::store::Store;
use super::traces::{self, Traces};
use super::{http, sweep, DockerOptions};
use crate::sim::SCRAPE_INTERVAL_MS;
use otrashi_workload::resp;

/// A run error with a source.
pub(super) fn run_err(
    message: &str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> BackendError {
    BackendError::Run {
        message: message.to_owned(),
        source: Some(Box::new(e)),
    }
}

fn prov_err(message: String, e: Option<Box<dyn std::error::Error + Send + Sync>>) -> BackendError {
    BackendError::Provision { message, source: e }
}

/// Now, Unix ms.
pub(super) fn unix_ms_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A running container: one replica of a service.
#[derive(Debug, Clone)]
pub(super) struct Live {
    /// Index of its service in the topology.
    pub service: usize,
    /// Which replica it is.
    pub replica: u32,
    /// Whether a real Redis plays it (scraped with `INFO`, no workload endpoints).
    pub redis: bool,
    /// Its address on the episode network (to name the clients in Redis' slow log).
    pub ip: Option<String>,
    pub id: String,
    pub name: String,
    pub pid: Option<i64>,
    pub port: Option<u16>,
    /// The spec it runs with now.
    pub spec: ContainerSpec,
    /// The spec it was provisioned with (what a revert restores).
    pub base: ContainerSpec,
}

/// A provisioned Docker episode.
pub struct DockerEnv {
    pub(super) engine: Engine,
    pub(super) incident: Incident,
    pub(super) episode: String,
    pub(super) scale: Scale,
    pub(super) rps: f64,
    pub(super) services: Vec<String>,
    entry: usize,
    pub(super) live: Vec<Live>,
    network: Option<String>,
    pub(super) gateway: String,
    pub(super) journal: Option<Journal>,
    pub(super) active: Vec<(usize, Revert, Undo)>,
    sink: LogSink,
    events: Vec<Event>,
    pub(super) deploys: Vec<Deploy>,
    restart_base: Vec<i64>,
    port_tx: watch::Sender<Vec<u16>>,
    /// Per service: the id of the newest Redis slow-log entry already read.
    slowlog_seen: HashMap<usize, i64>,
    start: Option<(Instant, i64)>,
    /// Containers the gym stopped or removed on purpose, with when (Unix ms).
    pub(super) stopped: Vec<(String, i64)>,
    /// What the load generator saw (for tests asserting effects independently).
    pub stats: Arc<LoadStats>,
    /// Per fault: its kind, the wall time its injection took and its revert took
    /// (`None` until reverted).
    pub fault_timings: Vec<(String, Duration, Option<Duration>)>,
    /// The OTLP receiver the workloads export spans to.
    pub(super) traces: Traces,
    torn_down: bool,
}

/// Provisions an episode; on failure removes what it created.
pub(super) async fn provision(
    engine: &Engine,
    options: &DockerOptions,
    incident: &Incident,
    cx: &EpisodeContext,
) -> Result<DockerEnv, BackendError> {
    if cx.cancel.is_cancelled() {
        return Err(BackendError::Cancelled);
    }
    // Leftovers of crashed gyms first (never a live episode of another gym).
    sweep::sweep_dead(engine, &options.journal_dir, false)
        .await
        .map_err(|e| {
            prov_err(
                "sweeping leftovers of earlier episodes failed".into(),
                Some(Box::new(e)),
            )
        })?;
    let redis_image = if incident
        .topology
        .services
        .iter()
        .any(|s| s.engine.is_some())
    {
        let built = otrashi_docker::build_redis_image(engine, &options.workload_bin, |_| {})
            .await
            .map_err(|e| {
                prov_err(
                    "building the Redis image (a service of this topology has `engine: redis`)"
                        .to_owned(),
                    Some(Box::new(e)),
                )
            })?;
        Some(built.tag)
    } else {
        None
    };
    let image = otrashi_docker::build_workload_image(engine, &options.workload_bin, |_| {})
        .await
        .map_err(|e| {
            prov_err(
                format!(
                    "building the workload image from {}",
                    options.workload_bin.display()
                ),
                Some(Box::new(e)),
            )
        })?;
    let scale = Scale::fit(incident, options.max_wall_s, options.rps_cap);
    let (port_tx, _) = watch::channel(Vec::new());
    let mut env = DockerEnv {
        engine: engine.clone(),
        incident: incident.clone(),
        episode: cx.episode_id.clone(),
        scale,
        rps: scale.rps(incident.load.rps),
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
        live: Vec::new(),
        network: None,
        gateway: String::new(),
        journal: None,
        active: Vec::new(),
        sink: LogSink::default(),
        events: Vec::new(),
        deploys: Vec::new(),
        restart_base: Vec::new(),
        port_tx,
        slowlog_seen: HashMap::new(),
        start: None,
        stats: Arc::new(LoadStats::default()),
        fault_timings: Vec::new(),
        stopped: Vec::new(),
        traces: Traces::default(),
        torn_down: false,
    };
    match env
        .start_services(&image.tag, redis_image.as_deref(), options, cx)
        .await
    {
        Ok(()) => Ok(env),
        Err(e) => {
            let _ = env.teardown_inner().await;
            Err(e)
        }
    }
}

impl DockerEnv {
    async fn start_services(
        &mut self,
        image: &str,
        redis_image: Option<&str>,
        options: &DockerOptions,
        cx: &EpisodeContext,
    ) -> Result<(), BackendError> {
        let pid = vec![(PID_LABEL.to_owned(), std::process::id().to_string())];
        let net_name = plan::network_name(&self.episode);
        let net =
            otrashi_docker::create_network_labelled(&self.engine, &self.episode, &net_name, &pid)
                .await
                .map_err(|e| prov_err(format!("creating network {net_name}"), Some(Box::new(e))))?;
        // Spans go to a receiver on the network's gateway (see `traces`).
        let end_ms = self.incident.timeline.end().as_millis();
        self.traces = Traces::start(
            &self.engine,
            &net,
            self.services.clone(),
            self.scale,
            end_ms,
        )
        .await;
        self.network = Some(net);
        let mut planned = plan::containers(
            &self.incident,
            &self.episode,
            image,
            redis_image,
            &net_name,
            options.max_replicas,
        );
        // Every workload exports its spans to this episode's OTLP receiver.
        for p in &mut planned {
            p.spec.env.extend(self.traces.env());
        }
        let started = futures_util::future::join_all(
            planned
                .iter()
                .map(|p| otrashi_docker::run_container(&self.engine, &self.episode, &p.spec)),
        )
        .await;
        for (p, r) in planned.into_iter().zip(started) {
            let spec = p.spec;
            let s = r.map_err(|e| {
                prov_err(
                    format!("starting container {}", spec.name),
                    Some(Box::new(e)),
                )
            })?;
            self.restart_base.push(0);
            self.live.push(Live {
                service: p.service,
                replica: p.replica,
                redis: self.incident.topology.services[p.service].engine.is_some(),
                ip: None,
                id: s.id,
                name: s.name,
                pid: s.pid,
                port: s.host_port,
                spec: spec.clone(),
                base: spec,
            });
        }
        if cx.cancel.is_cancelled() {
            return Err(BackendError::Cancelled);
        }
        for i in 0..self.live.len() {
            self.wait_healthy(i, Duration::from_secs(20))
                .await
                .map_err(|m| prov_err(m, None))?;
        }
        for i in 0..self.live.len() {
            self.live[i].ip = self.address_of(i, false).await;
        }
        self.gateway = self
            .address_of(0, true)
            .await
            .unwrap_or_else(|| "172.17.0.1".to_owned());
        self.publish_entry();
        self.journal = Some(
            Journal::open(&options.journal_dir, &self.episode)
                .map_err(|e| prov_err("opening the fault journal".into(), Some(Box::new(e))))?,
        );
        Ok(())
    }

    /// Container `i`'s address on the episode network, or (`gateway`) the network's
    /// gateway, which is where the host's scrapes come from.
    async fn address_of(&self, i: usize, gateway: bool) -> Option<String> {
        let inspect = self
            .engine
            .docker()
            .inspect_container(&self.live[i].id, None::<InspectContainerOptions>)
            .await
            .ok()?;
        inspect
            .network_settings?
            .networks?
            .into_values()
            .find_map(|n| if gateway { n.gateway } else { n.ip_address }.filter(|g| !g.is_empty()))
    }

    /// Sends the entry's replicas' published ports to the load generator.
    fn publish_entry(&self) {
        let ports: Vec<u16> = self
            .live
            .iter()
            .filter(|l| l.service == self.entry)
            .filter_map(|l| l.port)
            .collect();
        let _ = self.port_tx.send_replace(ports);
    }

    /// Polls `/healthz` (a Redis: `PING`) until it answers; the error names the container
    /// and its last log lines.
    async fn wait_healthy(&self, i: usize, limit: Duration) -> Result<(), String> {
        let begin = Instant::now();
        let live = &self.live[i];
        while begin.elapsed() < limit {
            if let Some(port) = live.port {
                if live.redis {
                    let ping = resp::oneshot(
                        &format!("127.0.0.1:{port}"),
                        &[b"PING"],
                        Duration::from_secs(1),
                    )
                    .await;
                    if matches!(ping, Ok(resp::Value::Simple(ref s)) if s == "PONG") {
                        return Ok(());
                    }
                } else if let Ok(r) = http::get(port, "/healthz", Duration::from_secs(1)).await {
                    if r.status == 200 {
                        return Ok(());
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let tail = self
            .log_lines(&live.id, Some("10"))
            .await
            .into_iter()
            .map(|(_, l)| l)
            .collect::<Vec<_>>()
            .join("\n");
        Err(format!(
            "container {} did not become healthy within {limit:?}; its last log lines:\n{tail}",
            live.name
        ))
    }

    /// Log lines of a container since the episode start (`tail`: only the last N).
    async fn log_lines(&self, id: &str, tail: Option<&str>) -> Vec<(Option<i64>, String)> {
        let since = self.start.map_or(0, |(_, u)| (u / 1000 - 1) as i32);
        let opts = LogsOptions {
            stdout: true,
            stderr: true,
            timestamps: true,
            since,
            tail: tail.unwrap_or("all").to_owned(),
            ..Default::default()
        };
        let mut out = Vec::new();
        let mut stream = self.engine.docker().logs(id, Some(opts));
        while let Some(Ok(chunk)) = stream.next().await {
            for line in String::from_utf8_lossy(&chunk.into_bytes()).lines() {
                let (ts, rest) = line.split_once(' ').unwrap_or(("", line));
                out.push((super::logs::parse_rfc3339_ms(ts), rest.to_owned()));
            }
        }
        out
    }

    /// The container name and host PID of the first replica of `service` now.
    pub fn container_of(&self, service: &str) -> Option<(String, Option<i64>)> {
        self.containers_of(service).into_iter().next()
    }

    /// The container names and host PIDs of every replica of `service` now, in replica
    /// order.
    pub fn containers_of(&self, service: &str) -> Vec<(String, Option<i64>)> {
        let Some(s) = self.services.iter().position(|x| x == service) else {
            return Vec::new();
        };
        self.live
            .iter()
            .filter(|l| l.service == s)
            .map(|l| (l.name.clone(), l.pid))
            .collect()
    }

    /// The container of `service`'s first replica (where a one-off action on the
    /// service, such as a red herring, happens).
    pub(super) fn index(&self, service: &str) -> Result<usize, BackendError> {
        self.replicas_of(service)?
            .first()
            .copied()
            .ok_or_else(|| BackendError::Run {
                message: format!("service `{service}` has no container"),
                source: None,
            })
    }

    /// The containers (indices into `live`) of every replica of `service`: what a
    /// fault on the service acts on.
    pub(super) fn replicas_of(&self, service: &str) -> Result<Vec<usize>, BackendError> {
        let s = self
            .services
            .iter()
            .position(|x| x == service)
            .ok_or_else(|| BackendError::Run {
                message: format!("fault target `{service}` is not a service of the topology"),
                source: None,
            })?;
        Ok((0..self.live.len())
            .filter(|i| self.live[*i].service == s)
            .collect())
    }

    /// Scenario time now, ms.
    pub(super) fn now_ms(&self) -> u64 {
        self.start
            .map_or(0, |(t, _)| self.scale.scenario_ms(t.elapsed()))
    }

    fn to_scenario(&self, unix_ms: i64) -> Option<u64> {
        let (_, u0) = self.start?;
        let wall = u64::try_from(unix_ms - u0).ok()?;
        let t = (wall as f64 / self.scale.factor) as u64;
        (t < self.incident.timeline.end().as_millis()).then_some(t)
    }

    /// Records an event of container `i`'s service. The same event of several replicas
    /// of a service (a config change made to all of them) is recorded once.
    pub(super) fn event(&mut self, i: usize, event_type: EventType, reason: &str, message: String) {
        let t_ms = self.now_ms();
        let service = self.live[i].service as ServiceId;
        let window = (2000.0 / self.scale.factor.max(0.01)) as u64;
        if self.events.iter().any(|e| {
            e.service == service
                && e.reason == reason
                && e.message == message
                && t_ms.saturating_sub(e.t_ms) <= window
        }) {
            return;
        }
        self.events.push(Event {
            t_ms,
            service,
            event_type,
            reason: reason.to_owned(),
            message,
        });
    }

    /// Removes container `i`, keeping its logs and restart count (a second call finds
    /// nothing to remove).
    pub(super) async fn remove(&mut self, i: usize) -> Result<(), BackendError> {
        let old = self.live[i].clone();
        if self.stopped.iter().any(|(id, _)| *id == old.id) {
            // Already gone (removed by a fault); a stopped container is removed below.
            if otrashi_docker::container_health(&self.engine, &old.id)
                .await
                .is_err()
            {
                return Ok(());
            }
        }
        self.collect_logs_of(i, &old.id).await;
        if let Ok(h) = otrashi_docker::container_health(&self.engine, &old.id).await {
            self.restart_base[i] += h.restart_count;
        }
        self.stopped.push((old.id.clone(), unix_ms_now()));
        otrashi_docker::remove_container(&self.engine, &old.id)
            .await
            .map_err(|e| run_err(&format!("removing {}", old.name), e))
    }

    /// Replaces container `i` with one from `spec`, keeping its logs and restart count.
    pub(super) async fn recreate(
        &mut self,
        i: usize,
        spec: ContainerSpec,
        wait: bool,
    ) -> Result<(), BackendError> {
        let old = self.live[i].clone();
        self.remove(i).await?;
        let s = otrashi_docker::run_container(&self.engine, &self.episode, &spec).await;
        let s = match s {
            Ok(s) => s,
            // A container that dies at once (a crash loop) is not an error here.
            Err(otrashi_docker::Error::Container { .. }) => {
                let inspect = self
                    .engine
                    .docker()
                    .inspect_container(&spec.name, None::<InspectContainerOptions>)
                    .await
                    .map_err(|e| run_err(&format!("inspecting {}", spec.name), e))?;
                otrashi_docker::Started {
                    id: inspect.id.unwrap_or_default(),
                    name: spec.name.clone(),
                    host_port: None,
                    pid: None,
                    start_time: Duration::ZERO,
                }
            }
            Err(e) => return Err(run_err(&format!("recreating {}", spec.name), e)),
        };
        self.live[i] = Live {
            service: old.service,
            replica: old.replica,
            redis: old.redis,
            ip: old.ip,
            id: s.id,
            name: s.name,
            pid: s.pid,
            port: s.host_port,
            spec,
            base: old.base,
        };
        if wait {
            self.wait_healthy(i, Duration::from_secs(15))
                .await
                .map_err(|m| run_err(&m, NoSource))?;
        }
        if self.live[i].service == self.entry {
            self.publish_entry();
        }
        self.live[i].ip = self.address_of(i, false).await;
        Ok(())
    }

    /// Re-reads a container's PID and published port (after a start).
    pub(super) async fn refresh(&mut self, i: usize) -> Result<(), BackendError> {
        let inspect = self
            .engine
            .docker()
            .inspect_container(&self.live[i].id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| run_err(&format!("inspecting {}", self.live[i].name), e))?;
        self.live[i].pid = inspect.state.and_then(|s| s.pid).filter(|p| *p > 0);
        let port = inspect
            .network_settings
            .and_then(|n| n.ports)
            .and_then(|p| {
                let port = if self.live[i].redis {
                    otrashi_docker::image::REDIS_PORT
                } else {
                    otrashi_docker::image::WORKLOAD_PORT
                };
                p.get(&format!("{port}/tcp")).cloned().flatten()
            })
            .and_then(|b| b.iter().find_map(|b| b.host_port.as_deref()?.parse().ok()));
        if port.is_some() {
            self.live[i].port = port;
        }
        if self.live[i].service == self.entry {
            self.publish_entry();
        }
        Ok(())
    }

    async fn collect_logs_of(&mut self, i: usize, id: &str) {
        let lines = self.log_lines(id, None).await;
        let start = self.start;
        let factor = self.scale.factor;
        let end = self.incident.timeline.end().as_millis();
        let clock = move |u: i64| -> Option<u64> {
            let (_, u0) = start?;
            let t = (u64::try_from(u - u0).ok()? as f64 / factor) as u64;
            (t < end).then_some(t)
        };
        let svc = self.live[i].service as ServiceId;
        for (ts, line) in lines {
            self.sink.line(svc, &line, ts, &clock);
        }
    }

    /// One scrape of every container as sample `k`: `/metrics` (a Redis: `INFO` and its
    /// new slow-log entries), container stats and state, aggregated per service.
    async fn scrape(&mut self, k: usize, store: &mut Store) {
        let timeout = self
            .scale
            .wall(SCRAPE_INTERVAL_MS)
            .min(Duration::from_secs(2))
            .max(Duration::from_millis(300));
        let docker = self.engine.docker();
        let results = futures_util::future::join_all(self.live.iter().map(|l| async move {
            let metrics = match (l.port, l.redis) {
                (Some(p), false) => http::get(p, "/metrics", timeout)
                    .await
                    .ok()
                    .filter(|r| r.status == 200)
                    .map(|r| r.body),
                _ => None,
            };
            let redis = match (l.port, l.redis) {
                (Some(p), true) => redis_poll(p, timeout).await,
                _ => None,
            };
            let stats = tokio::time::timeout(
                timeout,
                docker
                    .stats(
                        &l.id,
                        Some(StatsOptions {
                            stream: false,
                            one_shot: true,
                        }),
                    )
                    .next(),
            )
            .await
            .ok()
            .flatten()
            .and_then(Result::ok);
            let inspect = docker
                .inspect_container(&l.id, None::<InspectContainerOptions>)
                .await
                .ok();
            (metrics, redis, stats, inspect)
        }))
        .await;
        use MetricKind::{Counter, Gauge};
        let mut per_service: Vec<ServiceScrape> = self
            .services
            .iter()
            .map(|_| ServiceScrape::default())
            .collect();
        let mut slow_lines = Vec::new();
        for (i, (metrics, redis, stats, inspect)) in results.into_iter().enumerate() {
            let svc = self.live[i].service;
            let agg = &mut per_service[svc];
            agg.replicas += 1;
            if let Some(body) = metrics {
                agg.answered += 1;
                agg.texts.push(body);
            }
            if let Some((info, slowlog)) = redis {
                agg.answered += 1;
                agg.info = Some(info);
                slow_lines.push((svc, slowlog));
            }
            if let Some(s) = stats {
                if let Some(cpu) = s.cpu_stats.as_ref() {
                    if let Some(u) = cpu.cpu_usage.as_ref().and_then(|u| u.total_usage) {
                        agg.add("container_cpu_usage_seconds_total", Counter, u as f64 / 1e9);
                    }
                    if let Some(t) = cpu
                        .throttling_data
                        .as_ref()
                        .and_then(|t| t.throttled_periods)
                    {
                        agg.add(
                            "container_cpu_cfs_throttled_periods_total",
                            Counter,
                            t as f64,
                        );
                    }
                }
                if let Some(m) = s.memory_stats.as_ref() {
                    let inactive = m
                        .stats
                        .as_ref()
                        .and_then(|st| {
                            st.get("inactive_file")
                                .or_else(|| st.get("total_inactive_file"))
                                .copied()
                        })
                        .unwrap_or(0);
                    if let Some(u) = m.usage {
                        agg.add(
                            "container_memory_working_set_bytes",
                            Gauge,
                            u.saturating_sub(inactive) as f64,
                        );
                    }
                    if let Some(l) = m.limit {
                        agg.add("container_spec_memory_limit_bytes", Gauge, l as f64);
                    }
                }
                if let Some(n) = s.networks.as_ref() {
                    let tx: u64 = n.values().filter_map(|x| x.tx_bytes).sum();
                    agg.add("container_network_transmit_bytes_total", Counter, tx as f64);
                }
            }
            if let Some(c) = inspect {
                let running = c.state.as_ref().and_then(|s| s.running).unwrap_or(false)
                    && !c.state.as_ref().and_then(|s| s.paused).unwrap_or(false);
                agg.add(
                    "kube_pod_container_status_restarts_total",
                    Counter,
                    (self.restart_base[i] + c.restart_count.unwrap_or(0)) as f64,
                );
                agg.add(
                    "kube_deployment_status_replicas_available",
                    Gauge,
                    if running { 1.0 } else { 0.0 },
                );
                let quota = c
                    .host_config
                    .as_ref()
                    .and_then(|h| h.nano_cpus)
                    .unwrap_or(0) as f64
                    / 1e9;
                agg.add("container_spec_cpu_quota", Gauge, quota);
            }
        }
        for (svc, agg) in per_service.into_iter().enumerate() {
            let kind = self.incident.topology.services[svc].kind;
            agg.write(k, svc as ServiceId, kind, store);
        }
        for (svc, slowlog) in slow_lines {
            self.slow_log(svc, &slowlog);
        }
    }

    /// New entries of a Redis' slow log as the datastore's log lines: each names the
    /// command (with its arguments, cut short), its duration, and the calling service
    /// when the client address is one of the episode's containers.
    fn slow_log(&mut self, svc: usize, slowlog: &resp::Value) {
        let resp::Value::Array(Some(entries)) = slowlog else {
            return;
        };
        let seen = self.slowlog_seen.get(&svc).copied().unwrap_or(-1);
        let mut newest = seen;
        let start = self.start;
        let factor = self.scale.factor;
        let end = self.incident.timeline.end().as_millis();
        let clock = move |u: i64| -> Option<u64> {
            let (_, u0) = start?;
            let t = (u64::try_from(u - u0).ok()? as f64 / factor) as u64;
            (t < end).then_some(t)
        };
        // Oldest first, as a log reads.
        for entry in entries.iter().rev() {
            let Some(e) = SlowEntry::parse(entry) else {
                continue;
            };
            newest = newest.max(e.id);
            // `?:0` is the script engine's own client: the commands a script calls are
            // logged as well, but the script's own entry already names what was slow.
            if e.id <= seen || e.client == "?:0" {
                continue;
            }
            let ip = e.client.rsplit_once(':').map_or("", |(ip, _)| ip);
            let caller = self
                .live
                .iter()
                .find(|l| l.ip.as_deref() == Some(ip))
                .map(|l| format!("{} ({})", self.services[l.service], l.name));
            let line = serde_json::json!({
                "level": "warn",
                "msg": format!(
                    "slow query: {} ms for {} from {}",
                    e.micros / 1000,
                    e.command,
                    caller.unwrap_or_else(|| e.client.clone())
                ),
            })
            .to_string();
            // The entry's start: its timestamp is whole seconds; the end is now-ish.
            self.sink
                .line(svc as ServiceId, &line, Some(e.unix_s * 1000), &clock);
        }
        self.slowlog_seen.insert(svc, newest);
    }
}

/// One entry of `SLOWLOG GET`: `[id, unix seconds, microseconds, [args…], client, name]`.
struct SlowEntry {
    id: i64,
    unix_s: i64,
    micros: i64,
    command: String,
    client: String,
}

impl SlowEntry {
    fn parse(v: &resp::Value) -> Option<SlowEntry> {
        let resp::Value::Array(Some(f)) = v else {
            return None;
        };
        let int = |i: usize| match f.get(i) {
            Some(resp::Value::Integer(n)) => Some(*n),
            _ => None,
        };
        let args: Vec<String> = match f.get(3) {
            Some(resp::Value::Array(Some(a))) => {
                a.iter().filter_map(resp::Value::as_text).collect()
            }
            _ => return None,
        };
        let mut command = args.join(" ");
        if command.chars().count() > 120 {
            command = command.chars().take(117).collect::<String>() + "...";
        }
        Some(SlowEntry {
            id: int(0)?,
            unix_s: int(1)?,
            micros: int(2)?,
            command,
            client: f.get(4).and_then(resp::Value::as_text).unwrap_or_default(),
        })
    }
}

/// `INFO` (the sections the gym maps) and the newest slow-log entries of the Redis
/// published on host port `port`; `None` when it does not answer.
async fn redis_poll(port: u16, timeout: Duration) -> Option<(Vec<(String, String)>, resp::Value)> {
    let addr = format!("127.0.0.1:{port}");
    let pool = resp::RespPool::new("redis", &addr, 1, Default::default());
    let info = pool
        .command(
            &[b"INFO", b"stats", b"clients", b"memory", b"commandstats"],
            timeout,
            false,
        )
        .await
        .ok()?
        .as_text()?;
    let slowlog = pool
        .command(&[b"SLOWLOG", b"GET", b"128"], timeout, false)
        .await
        .unwrap_or(resp::Value::Array(None));
    Some((resp::info_fields(&info), slowlog))
}

/// Docker events of the episode's containers, as orchestrator events naming the
/// container (the replica) they concern.
fn map_event(
    action: &str,
    attrs: &HashMap<String, String>,
) -> Option<(EventType, &'static str, String)> {
    let svc = attrs.get("name").or_else(|| attrs.get(SERVICE_LABEL))?;
    let exit = attrs.get("exitCode").map_or("?", String::as_str);
    Some(match action {
        "oom" => (
            EventType::Warning,
            "OOMKilled",
            format!("Container {svc} was OOM-killed: memory limit reached"),
        ),
        "die" if exit != "0" => (
            EventType::Warning,
            "BackOff",
            format!("Back-off restarting failed container {svc} (exit code {exit})"),
        ),
        "start" => (
            EventType::Normal,
            "Started",
            format!("Started container {svc}"),
        ),
        "kill" => (
            EventType::Normal,
            "Killing",
            format!("Stopping container {svc}"),
        ),
        "update" => (
            EventType::Normal,
            "ConfigChanged",
            format!("Resource limits of {svc} updated"),
        ),
        a if a.starts_with("health_status: unhealthy") => (
            EventType::Warning,
            "Unhealthy",
            format!("Readiness probe failed for {svc}"),
        ),
        _ => return None,
    })
}

/// A Docker event: Unix ms, container id, action, attributes (labels included).
type RawEvent = (i64, String, String, HashMap<String, String>);

enum Action {
    Scrape(usize),
    Herring(usize),
    /// A flapping health check of red herring `n` turns slow (`true`) or fast.
    Flap(usize, bool),
    Liveness(usize),
    PodKill(usize),
    Inject(usize),
    Revert(usize),
}

#[async_trait]
impl Env for DockerEnv {
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
            if h.kind == otrashi_scenarios::model::RedHerringKind::FlappingAlert {
                use super::faults::{FLAP_EVERY_MS, FLAP_SLOW_MS, HERRING_MS};
                let start = h.at.as_millis();
                let mut t = start;
                while t < (start + HERRING_MS).min(end_ms) {
                    plan.push((t, 2, Action::Flap(n, true)));
                    // One left slow at the end goes with the container.
                    if t + FLAP_SLOW_MS < end_ms {
                        plan.push((t + FLAP_SLOW_MS, 2, Action::Flap(n, false)));
                    }
                    t += FLAP_EVERY_MS;
                }
            }
        }
        // A misconfigured liveness probe gets the container killed every period.
        for (n, f) in self.incident.faults.iter().enumerate() {
            if f.kind == otrashi_scenarios::FaultKind::LivenessProbeMisconfig {
                let period = (f.param("period_s").max(5.0) * 1000.0) as u64;
                let mut t = f.at.as_millis() + period;
                while t < f.until.as_millis().min(end_ms) {
                    plan.push((t, 2, Action::Liveness(n)));
                    t += period;
                }
            }
        }
        // `pod_kill` deletes a pod every `every_s`, the first as it starts.
        for (n, f) in self.incident.faults.iter().enumerate() {
            if f.kind == otrashi_scenarios::FaultKind::PodKill {
                let every = (f.param("every_s").max(1.0) * 1000.0) as u64;
                let mut t = f.at.as_millis();
                while t < f.until.as_millis().min(end_ms) {
                    plan.push((t, 2, Action::PodKill(n)));
                    t += every;
                }
            }
        }
        plan.sort_by_key(|(t, o, _)| (*t, *o));
        let t0 = Instant::now();
        self.start = Some((t0, unix_ms_now()));
        self.traces.begin(self.start.map_or(0, |(_, u)| u));
        let stop = CancellationToken::new();
        let (pattern, scale) = (self.incident.load.pattern, self.scale);
        let end_s = end_ms as f64 / 1000.0;
        // Bursts are capped at 1.5x the rate cap: the host has to keep up.
        let cap = self.scale.rps_cap * 1.5 / self.rps;
        let rate = move |wall: Duration| {
            load::shape(pattern, scale.scenario_ms(wall) as f64 / 1000.0, end_s).min(cap)
        };
        let load = tokio::spawn(load::run(
            self.port_tx.subscribe(),
            self.rps,
            rate,
            self.stats.clone(),
            stop.clone(),
        ));
        let raw_events: Arc<Mutex<Vec<RawEvent>>> = Arc::default();
        let events_task = {
            let docker = self.engine.docker().clone();
            let sink = raw_events.clone();
            let filters = HashMap::from([
                (
                    "label".to_owned(),
                    vec![format!(
                        "{}={}",
                        otrashi_docker::labels::EPISODE,
                        self.episode
                    )],
                ),
                ("type".to_owned(), vec!["container".to_owned()]),
            ]);
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut stream = docker.events(Some(EventsOptions {
                    filters: Some(filters),
                    ..Default::default()
                }));
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        item = stream.next() => match item {
                            Some(Ok(ev)) => {
                                let t = ev.time_nano.map(|n| n / 1_000_000).or(ev.time.map(|s| s * 1000)).unwrap_or_else(unix_ms_now);
                                let (id, attrs) = ev.actor.map(|a| (a.id.unwrap_or_default(), a.attributes.unwrap_or_default())).unwrap_or_default();
                                sink.lock().unwrap_or_else(PoisonError::into_inner).push((t, id, ev.action.unwrap_or_default(), attrs));
                            }
                            _ => return,
                        }
                    }
                }
            })
        };
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
                Action::Flap(n, slow) => self.flap(n, slow).await,
                Action::Liveness(n) => self.liveness_kill(n).await,
                Action::PodKill(n) => self.pod_kill(n).await,
                Action::Inject(n) => {
                    let begin = Instant::now();
                    let r = self.inject(n).await;
                    let kind = self.incident.faults[n].kind.as_str().to_owned();
                    self.fault_timings.push((kind, begin.elapsed(), None));
                    r
                }
                Action::Revert(n) => {
                    let begin = Instant::now();
                    let r = self.revert(n).await;
                    let kind = self.incident.faults[n].kind.as_str();
                    if let Some(t) = self
                        .fault_timings
                        .iter_mut()
                        .find(|t| t.0 == kind && t.2.is_none())
                    {
                        t.2 = Some(begin.elapsed());
                    }
                    r
                }
            };
            if let Err(e) = r {
                result = Err(e);
                break;
            }
        }
        if result.is_ok() {
            // Let the last window close before stopping the load.
            tokio::select! {
                () = cx.cancel.cancelled() => result = Err(BackendError::Cancelled),
                () = tokio::time::sleep_until((t0 + self.scale.wall(end_ms)).into()) => {}
            }
        }
        stop.cancel();
        let _ = load.await;
        let _ = events_task.await;
        result?;
        let otlp = self.traces.finish(&cx.cancel).await;
        let ids: Vec<String> = self.live.iter().map(|l| l.id.clone()).collect();
        for (i, id) in ids.iter().enumerate() {
            self.collect_logs_of(i, id).await;
        }
        let raw = std::mem::take(&mut *raw_events.lock().unwrap_or_else(PoisonError::into_inner));
        for (unix, id, action, attrs) in raw {
            // A container the gym itself stopped or removed dies on purpose; that is a
            // rollout or a scale-down, not a failure to back off from.
            if action == "die"
                && self
                    .stopped
                    .iter()
                    .any(|(sid, at)| *sid == id && unix >= at - 1000 && unix <= at + 15_000)
            {
                continue;
            }
            let (Some(t_ms), Some(i)) = (
                self.to_scenario(unix),
                attrs
                    .get(SERVICE_LABEL)
                    .and_then(|s| self.services.iter().position(|x| x == s)),
            ) else {
                continue;
            };
            if let Some((event_type, reason, message)) = map_event(&action, &attrs) {
                self.events.push(Event {
                    t_ms,
                    service: i as ServiceId,
                    event_type,
                    reason: reason.to_owned(),
                    message,
                });
            }
        }
        let mut sink = std::mem::take(&mut self.sink);
        sink.sort();
        traces::merge(otlp, &mut sink.operations, &mut sink.spans);
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
        self.teardown_inner().await
    }
}

impl DockerEnv {
    async fn teardown_inner(&mut self) -> Result<(), BackendError> {
        if self.torn_down {
            return Ok(());
        }
        self.traces.shutdown().await;
        let errors = self.revert_all().await;
        let swept =
            otrashi_docker::sweep(&self.engine, &SweepFilter::Episode(self.episode.clone())).await;
        if let Some(j) = self.journal.take() {
            if errors.is_empty() && swept.is_ok() {
                let _ = std::fs::remove_file(j.path());
            }
        }
        swept.map_err(|e| BackendError::Teardown {
            message: format!("removing the containers and network of {}", self.episode),
            source: Some(Box::new(e)),
        })?;
        self.torn_down = true;
        if !errors.is_empty() {
            return Err(BackendError::Teardown {
                message: format!("reverting faults: {}", errors.join("; ")),
                source: None,
            });
        }
        Ok(())
    }
}
