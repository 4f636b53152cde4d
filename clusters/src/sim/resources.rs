//! Pods and resources: CPU and throttling, memory and OOM kills, connection pools,
//! disks and network, restarts with back-off.

use otrashi_gym::telemetry::EventType;
use otrashi_scenarios::model::ServiceKind;

use super::effects::mi;
use super::engine::Sim;
use super::logs;

/// Why a pod stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// The kernel killed it at its memory limit.
    OomKilled,
    /// The process exited on its own (crash loop, panic).
    Crashed,
    /// The kubelet killed it after failed liveness probes.
    Liveness,
    /// The pod was deleted and a fresh one replaces it (no back-off, no restart count:
    /// the new pod's count starts at zero).
    Deleted,
}

impl Sim<'_> {
    /// Pod transitions at the start of tick `t`: scheduled exits, probe kills, and
    /// startup lines of pods that became ready.
    pub(crate) fn lifecycle(&mut self, t: u32) {
        for i in 0..self.prof.len() {
            let m = self.mods[i];
            let replicas = self.prof[i].replicas;
            for k in 0..replicas {
                let pod = self.pods[i][k];
                if pod.down_until == t && t > 0 && !m.removed && !m.scaled_zero {
                    logs::startup(self, i, t);
                }
                if m.frozen || m.removed || m.scaled_zero {
                    continue;
                }
                if m.crash_loop && t >= pod.started {
                    if pod.exit_at == 0 {
                        self.pods[i][k].exit_at = pod.started + 1 + self.rng.events.below(3) as u32;
                    } else if pod.exit_at <= t {
                        logs::fatal_exit(self, i, t);
                        self.kill(i, k, t, Exit::Crashed, m.backoff_s);
                        continue;
                    }
                }
                if m.liveness_period > 0 && pod.up(t) {
                    let period = m.liveness_period;
                    let stagger = (k as u32 * period) / replicas as u32;
                    if t >= pod.started + period && (t + stagger).is_multiple_of(period) {
                        let probe = format!(
                            "Liveness probe failed: Get \"http://{}:8080/healthz\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
                            self.prof[i].ip
                        );
                        let t_ms = u64::from(t) * 1000;
                        self.out
                            .event(t_ms - 900, i, EventType::Warning, "Unhealthy", probe);
                        let name = self.prof[i].name.clone();
                        self.out.event(
                            t_ms,
                            i,
                            EventType::Normal,
                            "Killing",
                            format!("Container {name} failed liveness probe, will be restarted"),
                        );
                        self.kill(i, k, t, Exit::Liveness, 10.0);
                    }
                }
            }
            if let Some(k) = m.kill_pod.filter(|&k| k < replicas) {
                {
                    let name = self.prof[i].name.clone();
                    let pod = self.prof[i].pod(k);
                    self.out.event(
                        u64::from(t) * 1000 + 50,
                        i,
                        EventType::Normal,
                        "Killing",
                        format!("Stopping container {name} in pod {pod}"),
                    );
                    self.kill(i, k, t, Exit::Deleted, 0.0);
                }
            }
            if m.stuck_rollout {
                self.stuck_rollout(i, t);
            }
        }
    }

    /// The new pods of a stuck rollout: never ready, restarted now and then.
    fn stuck_rollout(&mut self, i: usize, t: u32) {
        let t_ms = u64::from(t) * 1000;
        let p = &self.prof[i];
        let rs = p.pending_rs.as_deref().unwrap_or(&p.rs_hash);
        let new_pod = format!("{}-{}-{}", p.name, rs, &p.pods[0]);
        if t % 30 == 3 {
            self.out.event(
                t_ms + 120,
                i,
                EventType::Warning,
                "Unhealthy",
                format!("Readiness probe failed: HTTP probe failed with statuscode: 503 (pod {new_pod})"),
            );
        }
        if t % 45 == 20 {
            self.acc[i].restarts += 1.0;
            let name = p.name.clone();
            self.out.event(
                t_ms + 400,
                i,
                EventType::Warning,
                "BackOff",
                format!("Back-off restarting failed container {name} in pod {new_pod}"),
            );
        }
    }

    /// Stops pod `k` of service `i` at tick `t`; it comes back after its back-off and
    /// boot time.
    pub(crate) fn kill(&mut self, i: usize, k: usize, t: u32, why: Exit, backoff_s: f64) {
        let boot = self.prof[i].boot_s;
        let pod = &mut self.pods[i][k];
        let delay = if matches!(why, Exit::Liveness | Exit::Deleted) {
            0
        } else {
            pod.streak = if t.saturating_sub(pod.last_crash) < 600 && pod.streak > 0 {
                pod.streak + 1
            } else {
                1
            };
            pod.last_crash = t;
            if pod.streak <= 1 {
                0
            } else {
                let exp = (pod.streak - 2).min(8);
                (backoff_s * f64::from(1u32 << exp)).min(300.0) as u32
            }
        };
        let start = t + 1 + delay;
        let was_up = pod.up(t);
        pod.started = start;
        pod.down_until = start + boot;
        pod.leak_mb = 0.0;
        pod.leaked_conns = 0.0;
        pod.exit_at = 0;
        if why != Exit::Deleted {
            self.acc[i].restarts += 1.0;
        }
        if was_up && why != Exit::Liveness {
            // Killed, not stopped: the requests in flight on that pod are lost.
            let serving = self.tick[i].up_pods.max(1) as f64;
            self.tick[i].dropped = (self.tick[i].dropped + 0.5 / serving).min(1.0);
        }
        // The service's counters are sums over pods; they drop to zero only when no
        // pod kept its process (a lone replica, or all of them down).
        if !self.pods[i].iter().any(|p| p.up(t)) {
            self.reset_process_counters(i, 1.0);
        }
        if delay > 0 {
            let name = self.prof[i].name.clone();
            let pod_name = self.prof[i].pod(k);
            self.out.event(
                u64::from(t) * 1000 + 1500,
                i,
                EventType::Warning,
                "BackOff",
                format!("Back-off restarting failed container {name} in pod {pod_name}"),
            );
        }
        self.started_event(i, k, start);
    }

    /// A `Started` event for pod `k` at tick `t` (when inside the window).
    pub(crate) fn started_event(&mut self, i: usize, k: usize, t: u32) {
        if t >= self.end_s {
            return;
        }
        let name = self.prof[i].name.clone();
        let pod = self.prof[i].pod(k);
        self.out.event(
            u64::from(t) * 1000 + 300,
            i,
            EventType::Normal,
            "Started",
            format!("Started container {name} in pod {pod}"),
        );
    }

    /// A restarted process starts its counters from zero; `share` is the part of the
    /// service's totals that the restarted processes held.
    pub(crate) fn reset_process_counters(&mut self, i: usize, share: f64) {
        let keep = (1.0 - share).max(0.0);
        let a = &mut self.acc[i];
        a.req2 *= keep;
        a.req4 *= keep;
        a.req5 *= keep;
        a.proc_cpu_s *= keep;
        a.cpu_s *= keep;
        a.throttled *= keep;
        a.net_tx *= keep;
        a.db_queries *= keep;
    }

    /// CPU, memory, pools, disks and network for tick `t`, after the answers are known.
    pub(crate) fn resources(&mut self, t: u32) {
        for i in 0..self.prof.len() {
            self.cpu(i);
            self.memory(i, t);
            self.pool(i);
            self.io(i);
            self.panics(i, t);
        }
    }

    fn cpu(&mut self, i: usize) {
        let p = &self.prof[i];
        let m = self.mods[i];
        let tk = &mut self.tick[i];
        let limit = if m.cpu_limit > 0.0 {
            m.cpu_limit
        } else {
            p.cores
        };
        tk.cpu_limit = limit;
        if tk.up_pods == 0 || m.frozen {
            tk.cpu_proc = 0.0;
            tk.cpu_container = 0.0;
            tk.throttled = 0.0;
            return;
        }
        let pods = tk.up_pods as f64;
        let stray = m.stray * limit;
        let app =
            tk.completed * p.cpu_per_req * (1.0 + tk.gc_pressure) / pods + m.db_scan_cpu / pods;
        let want = app + m.hot_loop + stray + m.cpu_bump;
        // The app gets what the stray process leaves; the container never exceeds its
        // quota; CFS throttles once bursts hit the quota, long before the average does.
        let proc_cpu = (app + m.hot_loop).min((limit - stray).max(limit * 0.03));
        tk.cpu_proc = proc_cpu * self.jit[i];
        tk.cpu_container = (proc_cpu + stray + m.cpu_bump).min(limit) * self.jit[i];
        let u = want / limit;
        tk.throttled = 10.0 * throttle_share(u);
    }

    fn memory(&mut self, i: usize, t: u32) {
        let m = self.mods[i];
        let p = &self.prof[i];
        let limit = if m.mem_limit > 0.0 {
            m.mem_limit
        } else {
            p.mem_mb
        };
        let base = p.base_rss_mb;
        let replicas = p.replicas;
        let (mut rss_sum, mut n, mut pressure) = (0.0, 0.0, 0.0f64);
        let mut oom: Option<usize> = None;
        for k in 0..replicas {
            let pod = &mut self.pods[i][k];
            if t < pod.started || m.removed || m.scaled_zero {
                continue;
            }
            if m.leak_mb_s > 0.0 && !m.frozen {
                pod.leak_mb += m.leak_mb_s * pod.leak_speed;
            }
            let age = f64::from(t - pod.started);
            let rss = base * (0.6 + 0.4 * (age / 60.0).min(1.0)) + pod.leak_mb;
            if rss * 1.08 >= limit && oom.is_none() {
                oom = Some(k);
            }
            pressure = pressure.max(((rss / limit - 0.75) / 0.25).clamp(0.0, 1.0));
            rss_sum += rss;
            n += 1.0;
        }
        if m.mem_fill > 0.0 {
            pressure = pressure.max(((m.mem_fill - 0.75) / 0.2).clamp(0.0, 1.0));
            // The other tenant's pages push ours out now and then.
            if m.mem_fill >= 0.95 && oom.is_none() && self.rng.events.chance(0.004) {
                oom = Some(self.rng.events.below(replicas));
            }
        }
        let tk = &mut self.tick[i];
        tk.mem_limit = limit;
        tk.gc_pressure = pressure * pressure * 2.0;
        if n > 0.0 {
            let rss = rss_sum / n * self.jit[i].sqrt();
            tk.rss_mb = rss;
            tk.ws_mb = (rss * 1.08).max(m.mem_fill * limit).min(limit * 0.995);
        }
        if let Some(k) = oom {
            let t_ms = u64::from(t) * 1000;
            logs::oom(self, i, t);
            let name = self.prof[i].name.clone();
            let pod = self.prof[i].pod(k);
            self.out.event(
                t_ms + 700,
                i,
                EventType::Warning,
                "OOMKilled",
                format!(
                    "Container {name} in pod {pod} was OOMKilled (exit code 137); memory limit {}",
                    mi(limit)
                ),
            );
            self.kill(i, k, t, Exit::OomKilled, 10.0);
        }
    }

    fn pool(&mut self, i: usize) {
        if self.prof[i].calls.is_empty() {
            return;
        }
        let m = self.mods[i];
        let pool = self.prof[i].pool_size;
        let db = self.prof[i].db;
        let pods = self.tick[i].up_pods.max(1) as f64;
        // Little's law: connections busy = call rate × time each call holds one. The
        // pool is the database pool when there is a database, else the HTTP client's.
        let mut busy = 0.0;
        for &e in &self.out_edges[i] {
            let edge = &self.edges[e];
            if db.is_some() && Some(edge.to) != db {
                continue;
            }
            let hold_ms = edge.body.mean * edge.ok.max(0.05)
                + edge.slow_query
                + edge.timeouts() * self.prof[i].timeout_ms;
            busy += edge.calls * hold_ms / 1000.0;
        }
        busy /= pods;
        let mut leaked = 0.0f64;
        let mut n = 0.0f64;
        for pod in &mut self.pods[i] {
            if m.conn_leak_s > 0.0 {
                pod.leaked_conns = (pod.leaked_conns + m.conn_leak_s * pod.leak_speed).min(pool);
            } else if pod.leaked_conns > 0.0 {
                // Reverted: the pool's max lifetime retires the leaked connections.
                pod.leaked_conns = (pod.leaked_conns * 0.97 - 0.05).max(0.0);
            }
            leaked += pod.leaked_conns;
            n += 1.0;
        }
        let leaked = leaked / n.max(1.0);
        let tk = &mut self.tick[i];
        let need = leaked + busy;
        tk.pool_in_use = need.min(pool);
        // Only a database pool makes requests wait for a connection; an HTTP client
        // opens more connections instead.
        tk.pool_fail = if db.is_none() {
            0.0
        } else if leaked >= pool - 0.01 {
            1.0
        } else if need > pool && busy > 0.0 {
            ((need - pool) / busy).clamp(0.0, 1.0)
        } else {
            0.0
        };
    }

    fn io(&mut self, i: usize) {
        let p = &self.prof[i];
        let m = self.mods[i];
        let tk = &mut self.tick[i];
        let pods = tk.up_pods.max(1) as f64;
        let fill = if m.disk_fill > 0.0 {
            m.disk_fill
        } else {
            p.fs_base_frac
        };
        tk.fs_bytes = p.fs_cap_bytes * fill.min(1.0);
        let writes = tk.completed * p.write_frac / pods;
        let op_ms = 0.4 + m.disk_lat;
        tk.disk_busy = (0.02 + writes * op_ms / 1000.0).min(1.0);
        let mut tx = tk.completed * p.resp_kb * 1000.0 / pods;
        if m.bw_kbit > 0.0 {
            tx = tx.min(m.bw_kbit * 125.0);
        }
        tk.net_tx = tx;
        let segs = tx / 1400.0;
        tk.retrans = segs * (0.0002 + m.loss * 1.5);
        tk.db_queries = if p.kind == ServiceKind::Database {
            tk.completed
        } else {
            p.db.map_or(0.0, |db| {
                self.out_edges[i]
                    .iter()
                    .map(|&e| &self.edges[e])
                    .filter(|e| e.to == db)
                    .map(|e| e.calls)
                    .sum()
            })
        };
    }

    fn panics(&mut self, i: usize, t: u32) {
        let m = self.mods[i];
        if m.panic_frac <= 0.0 || m.frozen {
            return;
        }
        let tk = self.tick[i];
        if tk.up_pods == 0 {
            return;
        }
        let per_pod = tk.completed * m.panic_frac / tk.up_pods as f64;
        let p_crash = 1.0 - libm::exp(-per_pod);
        for k in 0..self.prof[i].replicas {
            if self.pods[i][k].up(t) && self.rng.events.chance(p_crash) {
                logs::panic_trace(self, i, t);
                self.kill(i, k, t, Exit::Crashed, 10.0);
            }
        }
    }
}

/// Share of 100 ms CFS periods in which a container with average CPU demand `u` (as a
/// share of its quota) runs out of quota: request bursts hit the quota long before the
/// average does.
pub(crate) fn throttle_share(u: f64) -> f64 {
    let x = ((u - 0.35) / 0.5).clamp(0.0, 1.0);
    x * x.sqrt()
}
