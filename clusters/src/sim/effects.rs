//! What each fault kind does: the clue it leaves when it arrives (a deploy, a config
//! change, or nothing), what it changes every tick while active, and how it goes away.
//!
//! What a person on call sees, per kind (T = target):
//!
//! | kind | signals |
//! |---|---|
//! | `cpu_saturation` | T's container CPU at its quota and throttled, T's process CPU normal (a stray process), latency up on T and callers, overload 503s |
//! | `memory_pressure` | working set near the limit while process RSS is normal, `GC pause` lines, latency spikes, rare OOM kill |
//! | `disk_full` | `container_fs_usage_bytes` climbs to 100 %, `No space left on device` on writes, 5xx on the write share only |
//! | `disk_slow` | `node_disk_io_time_seconds_total` up, `slow fsync` lines, latency up with CPU idle |
//! | `network_delay` | callers' client-side latency up by the delay, T's own handler time unchanged |
//! | `network_loss` | `node_netstat_tcp_retrans_segs` up, `connection reset` in callers, p99 far above p50 |
//! | `network_partition` | `connect timeout` in callers, T healthy (`up` 1) with no traffic |
//! | `bandwidth_limit` | T's transmit bytes flat at the cap, calls into T queue and time out |
//! | `dns_failure` | `no such host` / `ENOTFOUND T` in callers' logs, T healthy with its traffic gone |
//! | `process_freeze` | T's scrapes fail (NaN, `up` 0), callers time out, no restart, T writes nothing |
//! | `crash_loop` | `BackOff` events, restarts climbing, a fatal config line at each start, refused in callers |
//! | `oom_kill` | `ConfigChanged` memory limit down, `OOMKilled` saw-tooth at the new limit |
//! | `scale_to_zero` | `ScalingReplicaSet ... to 0`, no replicas available, refused in callers, T's metrics stop |
//! | `misrouted_port` | `ConfigChanged` targetPort, refused in callers, T healthy and idle |
//! | `bad_env_config` | `ConfigChanged` env, `invalid configuration` errors and 5xx on T |
//! | `failed_deploy` | a deploy, `Readiness probe failed`, fewer available replicas, restarts of the new pods |
//! | `liveness_probe_misconfig` | `Liveness probe failed` + `Killing`, restarts, no error logged before each kill |
//! | `cpu_throttle` | `ConfigChanged` cpu limit down, throttled periods climb, CPU use flat at the new quota |
//! | `pod_kill` | `Killing` events for one pod after another with nothing changed before them, fresh pods `Started`, resets in callers at each kill (refusals while a lone replica boots) |
//! | `dependency_removed` | `Deleted` events, every series of T gone (also kube-state), `no such host` in callers |
//! | `error_injection` | a deploy, runtime stack traces from one code path, a share of 5xx propagating up |
//! | `slow_handler` | a deploy, T's own spans and server latency up, callers follow |
//! | `memory_leak` | a deploy, RSS climbing linearly, GC pauses near the limit, runtime OOM message, `OOMKilled`, restart, climb again |
//! | `connection_leak` | a deploy, pool in-use climbing to max, `timeout acquiring connection from pool`, callers time out |
//! | `retry_storm` | a deploy (or config), calls from T to its dependencies multiplied, `retrying request` lines, dependencies loaded |
//! | `cache_bypass` | a deploy (or config), T's cache hit ratio and cache calls fall, database queries and CPU rise |
//! | `hot_loop` | a deploy, T's own process CPU jumps to the quota, throttling, latency up |
//! | `panic_crash` | a deploy, runtime panic traces (`panicked at`, exit code 101 for Rust), back-off, refused in callers |
//! | `slow_query` | a deploy, `duration: ... statement:` lines on the database naming T's table, database CPU and T's query latency up |

use otrashi_gym::telemetry::EventType;
use otrashi_scenarios::catalog::{FaultKind, Via};
use otrashi_scenarios::incident::ConcreteFault;

use super::dist::Moments;
use super::engine::Sim;
use super::state::OwnError;

/// Kubernetes quantity for MB (`512Mi`).
pub(crate) fn mi(mb: f64) -> String {
    format!("{}Mi", mb.round() as i64)
}

/// Kubernetes quantity for cores (`200m`).
pub(crate) fn millicores(cores: f64) -> String {
    format!("{}m", (cores * 1000.0).round() as i64)
}

impl Sim<'_> {
    /// Starts, applies and ends the incident's faults for tick `t`.
    pub(crate) fn apply_faults(&mut self, t: u32) {
        for fi in 0..self.faults.len() {
            let run = self.faults[fi];
            if run.service >= self.prof.len() {
                continue;
            }
            if t == run.at_s {
                self.fault_start(fi, t);
            }
            if t >= run.at_s && t < run.until_s {
                self.fault_tick(fi, t);
            }
            if t == run.until_s && run.until_s < self.end_s {
                self.fault_end(fi, t);
            }
        }
    }

    fn fault_start(&mut self, fi: usize, t: u32) {
        let f: &ConcreteFault = &self.inc.faults[fi];
        let i = self.faults[fi].service;
        let t_ms = f.at.as_millis();
        let name = self.prof[i].name.clone();
        match f.via {
            Via::Deploy => {
                self.ship_deploy(i, t_ms, Some(f.kind), t);
            }
            Via::Config => {
                let msg = self.config_message(f, i);
                self.out
                    .event(t_ms, i, EventType::Normal, "ConfigChanged", msg);
                if restarts_on_config(f.kind) {
                    self.roll_pods(i, t, true);
                }
            }
            Via::Direct => {}
        }
        match f.kind {
            FaultKind::ScaleToZero => {
                let rs = format!("{}-{}", name, self.prof[i].rs_hash);
                self.out.event(
                    t_ms,
                    i,
                    EventType::Normal,
                    "ScalingReplicaSet",
                    format!(
                        "Scaled down replica set {rs} to 0 from {}",
                        self.prof[i].replicas
                    ),
                );
                for k in 0..self.prof[i].replicas {
                    let pod = self.prof[i].pod(k);
                    self.out.event(
                        t_ms + 200,
                        i,
                        EventType::Normal,
                        "Killing",
                        format!("Stopping container {name} in pod {pod}"),
                    );
                }
            }
            FaultKind::DependencyRemoved => {
                self.out.event(
                    t_ms,
                    i,
                    EventType::Normal,
                    "Deleted",
                    format!("Deleted deployment {name}"),
                );
                self.out.event(
                    t_ms + 150,
                    i,
                    EventType::Normal,
                    "Deleted",
                    format!("Deleted service {name}"),
                );
            }
            FaultKind::FailedDeploy => {
                let replicas = self.prof[i].replicas;
                let keep = ((replicas as f64) * (1.0 - f.param("unavailable_pct") / 100.0)).floor()
                    as usize;
                self.out.event(
                    t_ms + 800,
                    i,
                    EventType::Normal,
                    "ScalingReplicaSet",
                    format!(
                        "Scaled down replica set {name}-{} to {keep} from {replicas}",
                        self.prof[i].rs_hash
                    ),
                );
            }
            _ => {}
        }
    }

    fn fault_tick(&mut self, fi: usize, t: u32) {
        let f = &self.inc.faults[fi];
        let i = self.faults[fi].service;
        let since = f64::from(t - self.faults[fi].at_s);
        let limit = self.prof[i].cores;
        let replicas = self.prof[i].replicas.max(1);
        let m = &mut self.mods[i];
        match f.kind {
            FaultKind::CpuSaturation => m.stray = (f.param("load_pct") / 100.0).min(0.99),
            FaultKind::MemoryPressure => m.mem_fill = f.param("fill_pct") / 100.0,
            FaultKind::DiskFull => {
                // The volume fills over about a minute, as a runaway writer fills it.
                let target = f.param("fill_pct") / 100.0;
                let base = self.prof[i].fs_base_frac;
                m.disk_fill = base + (target - base) * (since / 60.0).min(1.0);
            }
            FaultKind::DiskSlow => m.disk_lat = f.param("latency_ms"),
            FaultKind::NetworkDelay => {
                m.net_delay = f.param("delay_ms");
                m.net_jitter = f.param("jitter_ms");
            }
            FaultKind::NetworkLoss => m.loss = (f.param("loss_pct") / 100.0).min(0.99),
            FaultKind::NetworkPartition => m.partition = true,
            FaultKind::BandwidthLimit => m.bw_kbit = f.param("rate_kbit"),
            FaultKind::DnsFailure => m.dns_fail = f.param("failure_pct") / 100.0,
            FaultKind::ProcessFreeze => m.frozen = true,
            FaultKind::CrashLoop => {
                m.crash_loop = true;
                m.backoff_s = f.param("backoff_s");
            }
            FaultKind::OomKill => m.mem_limit = f.param("limit_mb"),
            FaultKind::ScaleToZero => m.scaled_zero = true,
            FaultKind::MisroutedPort => m.misroute = true,
            FaultKind::BadEnvConfig => {
                m.own_err = f.param("error_pct") / 100.0;
                m.own_err_kind = OwnError::BadConfig;
            }
            FaultKind::FailedDeploy => {
                m.capacity = 1.0 - f.param("unavailable_pct") / 100.0;
                m.stuck_rollout = true;
            }
            FaultKind::LivenessProbeMisconfig => {
                m.liveness_period = f.param("period_s").max(5.0) as u32;
            }
            FaultKind::CpuThrottle => m.cpu_limit = f.param("limit_cores"),
            FaultKind::DependencyRemoved => m.removed = true,
            FaultKind::PodKill => {
                // One pod at a time, round robin, every `every_s` from the start.
                let every = f.param("every_s").max(1.0);
                if since % every < 1.0 {
                    m.kill_pod = Some((since / every) as usize % replicas);
                }
            }
            FaultKind::ErrorInjection => {
                m.own_err = (m.own_err + f.param("error_pct") / 100.0).min(1.0);
                m.own_err_kind = OwnError::Exception;
            }
            FaultKind::SlowHandler => {
                let p = f.param("affected_pct") / 100.0;
                m.extra = m.extra.plus(Moments::bernoulli(p, f.param("delay_ms")));
            }
            FaultKind::MemoryLeak => m.leak_mb_s = f.param("rate_mb_per_min") / 60.0,
            FaultKind::ConnectionLeak => m.conn_leak_s = f.param("leak_per_min") / 60.0,
            FaultKind::RetryStorm => m.call_mult = f.param("multiplier"),
            FaultKind::CacheBypass => m.bypass = f.param("bypass_pct") / 100.0,
            FaultKind::HotLoop => m.hot_loop = f.param("cpu_cores").min(limit * 0.85),
            FaultKind::PanicCrash => {
                m.panic_frac = f.param("panic_pct") / 100.0;
                m.own_err_kind = OwnError::Panic;
            }
            FaultKind::SlowQuery => m.slow_query = f.param("query_ms"),
        }
    }

    fn fault_end(&mut self, fi: usize, t: u32) {
        let f = &self.inc.faults[fi];
        let i = self.faults[fi].service;
        let t_ms = f.until.as_millis();
        let name = self.prof[i].name.clone();
        match f.via {
            Via::Deploy => {
                // Rolled back: the previous version's pods come back.
                self.ship_rollback(i, t_ms, t);
            }
            Via::Config => {
                let msg = self.config_revert_message(f, i);
                self.out
                    .event(t_ms, i, EventType::Normal, "ConfigChanged", msg);
                if restarts_on_config(f.kind) {
                    self.roll_pods(i, t, true);
                }
            }
            Via::Direct => {}
        }
        if matches!(
            f.kind,
            FaultKind::ScaleToZero | FaultKind::DependencyRemoved
        ) {
            let replicas = self.prof[i].replicas;
            self.out.event(
                t_ms + 300,
                i,
                EventType::Normal,
                "ScalingReplicaSet",
                format!(
                    "Scaled up replica set {name}-{} to {replicas}",
                    self.prof[i].rs_hash
                ),
            );
            self.roll_pods(i, t, false);
        }
    }

    /// The `ConfigChanged` message for a fault arriving by configuration.
    fn config_message(&self, f: &ConcreteFault, i: usize) -> String {
        let p = &self.prof[i];
        let n = &p.name;
        match f.kind {
            FaultKind::OomKill => format!(
                "deployment/{n}: container {n} memory limit {} -> {}",
                mi(p.mem_mb),
                mi(f.param("limit_mb"))
            ),
            FaultKind::CpuThrottle => format!(
                "deployment/{n}: container {n} cpu limit {} -> {}",
                millicores(p.cores),
                millicores(f.param("limit_cores"))
            ),
            FaultKind::MisroutedPort => format!(
                "service/{n}: spec.ports[0].targetPort 8080 -> {}",
                f.param("port") as i64
            ),
            FaultKind::LivenessProbeMisconfig => format!(
                "deployment/{n}: livenessProbe httpGet.path /healthz -> /healthz?full=true, timeoutSeconds 5 -> 1, failureThreshold 3 -> 1"
            ),
            FaultKind::BadEnvConfig => format!(
                "deployment/{n}: env {} changed",
                env_key(n)
            ),
            FaultKind::CrashLoop => {
                format!("deployment/{n}: env DATABASE_URL removed, DB_URL added")
            }
            FaultKind::ScaleToZero => format!("deployment/{n}: spec.replicas {} -> 0", p.replicas),
            FaultKind::DependencyRemoved => {
                format!("kustomization apps: deployment/{n} and service/{n} pruned")
            }
            FaultKind::NetworkPartition => format!(
                "networkpolicy/{n}-ingress: ingress rules replaced (allowed sources: none)"
            ),
            FaultKind::DnsFailure => format!(
                "configmap/coredns: Corefile updated (stanza for {n}.svc.cluster.local)"
            ),
            FaultKind::RetryStorm => format!(
                "deployment/{n}: env HTTP_CLIENT_MAX_RETRIES 2 -> 10, HTTP_CLIENT_RETRY_BACKOFF_MS 200 -> 0"
            ),
            FaultKind::CacheBypass => format!(
                "deployment/{n}: env CACHE_READ_RATIO 1.0 -> {:.2}",
                1.0 - f.param("bypass_pct") / 100.0
            ),
            _ => format!("deployment/{n}: configuration updated"),
        }
    }

    fn config_revert_message(&self, f: &ConcreteFault, i: usize) -> String {
        let p = &self.prof[i];
        let n = &p.name;
        match f.kind {
            FaultKind::OomKill => format!(
                "deployment/{n}: container {n} memory limit {} -> {}",
                mi(f.param("limit_mb")),
                mi(p.mem_mb)
            ),
            FaultKind::CpuThrottle => format!(
                "deployment/{n}: container {n} cpu limit {} -> {}",
                millicores(f.param("limit_cores")),
                millicores(p.cores)
            ),
            FaultKind::MisroutedPort => format!(
                "service/{n}: spec.ports[0].targetPort {} -> 8080",
                f.param("port") as i64
            ),
            FaultKind::ScaleToZero => format!("deployment/{n}: spec.replicas 0 -> {}", p.replicas),
            _ => format!("deployment/{n}: configuration reverted to previous revision"),
        }
    }

    /// A restart of every pod. With `surge`, new pods become ready before old ones stop
    /// (a rolling update keeps serving); without, the service is down while they boot.
    pub(crate) fn roll_pods(&mut self, i: usize, t: u32, surge: bool) {
        let boot = self.prof[i].boot_s;
        let replicas = self.prof[i].replicas;
        for k in 0..replicas {
            let start = t + (k as u32) * 2;
            let pod = &mut self.pods[i][k];
            pod.started = start;
            if !surge {
                pod.down_until = pod.down_until.max(start + boot);
            } else {
                if pod.down_until > start + boot {
                    // A pod waiting out a crash back-off is replaced by a fresh one.
                    pod.down_until = start + boot;
                }
            }
            pod.leak_mb = 0.0;
            pod.leaked_conns = 0.0;
            pod.exit_at = 0;
            pod.streak = 0;
            self.started_event(i, k, start);
            if surge {
                // Old pods keep serving, so no down-to-up transition logs the new start.
                super::logs::startup(self, i, start + boot);
            }
        }
        self.reset_process_counters(i, 1.0);
    }
}

/// Config changes to the pod spec roll the pods; routing and DNS changes do not.
fn restarts_on_config(kind: FaultKind) -> bool {
    matches!(
        kind,
        FaultKind::OomKill
            | FaultKind::CpuThrottle
            | FaultKind::BadEnvConfig
            | FaultKind::CrashLoop
            | FaultKind::RetryStorm
            | FaultKind::CacheBypass
            | FaultKind::LivenessProbeMisconfig
    )
}

/// The environment variable a bad config breaks, from the service's name.
pub(crate) fn env_key(service: &str) -> String {
    let up = service.to_uppercase().replace('-', "_");
    format!("{up}_UPSTREAM_TIMEOUT")
}
