//! The tick loop: 1 s steps in which demand flows down the call graph (callers first)
//! and answers flow back up (callees first).

use otrashi_scenarios::incident::Incident;
use otrashi_scenarios::model::{LoadPattern, NoiseLevel, ServiceKind};
use otrashi_scenarios::rng::{stable_hash, Rng};

use super::dist::{tail_above, Mix, Moments};
use super::metrics::Metrics;
use super::out::Out;
use super::profile::{self, fanout, Profile};
use super::state::{Acc, Edge, EdgeAcc, Gate, Mods, Pod, Resp, Tick};

/// Scrape interval. 10 s is a common Prometheus setting for services under close watch,
/// and it makes a 10-minute episode 60 samples a series: enough to see a ramp, a
/// saw-tooth or a step, few enough to keep tool outputs short.
pub(crate) const SCRAPE_S: u32 = 10;

/// How long a connection-pool wait lasts before it fails (HikariCP's default).
pub(crate) const POOL_TIMEOUT_MS: f64 = 30_000.0;

/// Separate random streams per purpose, so that e.g. adding a log line does not shift
/// the load curve.
pub(crate) struct Rngs {
    pub load: Rng,
    pub jitter: Rng,
    pub logs: Rng,
    pub traces: Rng,
    pub events: Rng,
    pub noise: Rng,
    pub ids: Rng,
}

/// One fault's progress through the episode.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FaultRun {
    pub at_s: u32,
    pub until_s: u32,
    pub service: usize,
}

/// The whole simulation state of one episode.
pub(crate) struct Sim<'a> {
    pub inc: &'a Incident,
    pub prof: Vec<Profile>,
    pub order: Vec<usize>,
    pub entry: usize,
    pub end_s: u32,
    pub noise_scale: f64,
    pub pods: Vec<Vec<Pod>>,
    pub mods: Vec<Mods>,
    pub gate: Vec<Gate>,
    pub tick: Vec<Tick>,
    pub edges: Vec<Edge>,
    pub out_edges: Vec<Vec<usize>>,
    pub acc: Vec<Acc>,
    pub eacc: Vec<EdgeAcc>,
    pub out: Out,
    pub metrics: Metrics,
    pub rng: Rngs,
    pub faults: Vec<FaultRun>,
    pub load: f64,
    pub burst_until: u32,
    pub burst_k: f64,
    /// Per service and scrape: (error ratio, p99 ms, requests/s), for the alert rules.
    pub obs: Vec<Vec<(f64, f64, f64)>>,
    /// Per service: its latency jitter this tick.
    pub jit: Vec<f64>,
    /// Standard normal quantiles for cheap draws.
    pub normals: [f64; 64],
    /// Per service: traces that passed through it this tick, for log correlation.
    pub traced: Vec<Traced>,
}

/// Traces seen at one service during the current tick.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Traced {
    /// A trace served there without error.
    pub ok: Option<u64>,
    /// A trace that failed there (its own error or a failed call it made).
    pub failed: Option<u64>,
}

impl<'a> Sim<'a> {
    /// Sets up the episode. The topology must be acyclic (validation guarantees it).
    pub fn new(inc: &'a Incident) -> Sim<'a> {
        let topo = &inc.topology;
        let order = topo
            .call_order()
            .unwrap_or_else(|| (0..topo.services.len()).collect());
        let root = Rng::new(inc.seed ^ stable_hash(inc.scenario.as_bytes()));
        let prof = profile::build(topo, &order, inc.load.rps, &root.fork("profiles"));
        let entry = topo.index_of(&topo.entry).unwrap_or(0);
        let n = prof.len();
        let end_s = (inc.timeline.end().as_millis() / 1000).max(1) as u32;
        let mut ids = root.fork("ids");
        let pods = prof
            .iter()
            .map(|p| {
                (0..p.replicas)
                    .map(|_| Pod {
                        leak_speed: ids.uniform(0.85, 1.15),
                        ..Pod::default()
                    })
                    .collect()
            })
            .collect();
        let mut edges = Vec::new();
        let mut out_edges = vec![Vec::new(); n];
        for (i, p) in prof.iter().enumerate() {
            for &c in &p.calls {
                out_edges[i].push(edges.len());
                edges.push(Edge {
                    from: i,
                    to: c,
                    critical: prof[c].kind != ServiceKind::Cache,
                    ..Edge::default()
                });
            }
        }
        let faults = inc
            .faults
            .iter()
            .map(|f| FaultRun {
                at_s: (f.at.as_millis() / 1000) as u32,
                until_s: (f.until.as_millis() / 1000) as u32,
                service: topo.index_of(&f.target).unwrap_or(usize::MAX),
            })
            .collect();
        let metrics = Metrics::new(&prof, &edges, end_s / SCRAPE_S);
        let (acc, eacc) = uptime_counters(&prof, &edges, &mut root.fork("uptime"));
        let noise_scale = match inc.noise {
            NoiseLevel::Low => 0.5,
            NoiseLevel::Normal => 1.0,
            NoiseLevel::High => 2.0,
        };
        Sim {
            inc,
            order,
            entry,
            end_s,
            noise_scale,
            pods,
            mods: vec![Mods::default(); n],
            gate: vec![Gate::default(); n],
            tick: vec![Tick::default(); n],
            eacc,
            edges,
            out_edges,
            acc,
            out: Out::default(),
            metrics,
            rng: Rngs {
                load: root.fork("load"),
                jitter: root.fork("jitter"),
                logs: root.fork("logs"),
                traces: root.fork("traces"),
                events: root.fork("events"),
                noise: root.fork("noise"),
                ids,
            },
            faults,
            load: inc.load.rps,
            burst_until: 0,
            burst_k: 1.0,
            obs: vec![Vec::with_capacity((end_s / SCRAPE_S) as usize); n],
            jit: vec![1.0; n],
            normals: super::dist::normal_table::<64>(),
            traced: vec![Traced::default(); n],
            prof,
        }
    }

    /// Runs every tick.
    pub fn run(&mut self) {
        let ops = self.prepare_ops();
        for t in 0..self.end_s {
            for m in &mut self.mods {
                *m = Mods::default();
            }
            self.apply_faults(t);
            self.apply_noise(t);
            self.lifecycle(t);
            self.load = self.load_at(t);
            self.gates(t);
            self.demand();
            self.respond();
            self.resources(t);
            self.accumulate();
            for tr in &mut self.traced {
                *tr = Traced::default();
            }
            self.emit_traces(t, &ops);
            self.emit_logs(t);
            if (t + 1) % SCRAPE_S == 0 {
                self.scrape(t + 1);
            }
        }
    }

    fn load_at(&mut self, t: u32) -> f64 {
        let r = &mut self.rng.load;
        let end = f64::from(self.end_s);
        let shape = match self.inc.load.pattern {
            LoadPattern::Steady => 1.0,
            LoadPattern::Diurnal => {
                1.0 + 0.3 * libm::sin(2.0 * std::f64::consts::PI * f64::from(t) / end)
            }
            LoadPattern::Bursty => {
                if t >= self.burst_until && r.chance(1.0 / 90.0) {
                    self.burst_until = t + 5 + r.below(16) as u32;
                    self.burst_k = r.uniform(2.0, 3.0);
                }
                if t < self.burst_until {
                    self.burst_k
                } else {
                    1.0
                }
            }
            LoadPattern::Ramp => 0.5 + 0.5 * f64::from(t) / end,
        };
        let jitter = 1.0 + r.normal(0.0, 0.03 * self.noise_scale);
        (self.inc.load.rps * shape * jitter).max(0.0)
    }

    /// Who can be reached this tick, before anyone does work.
    fn gates(&mut self, t: u32) {
        for j in 0..self.prof.len() {
            let m = &self.mods[j];
            let up = if m.removed || m.scaled_zero {
                0
            } else {
                self.pods[j].iter().filter(|p| p.up(t)).count()
            };
            self.tick[j].up_pods = up;
            let mut g = Gate::default();
            if m.removed {
                g.dns = 1.0;
            } else if m.partition {
                g.conn_timeout = 1.0;
            } else if m.misroute || m.scaled_zero || up == 0 {
                g.refused = 1.0;
            } else {
                g.dns = m.dns_fail.clamp(0.0, 1.0);
            }
            self.gate[j] = g;
            // A table draw: this runs for every service every tick.
            let z = self.normals[self.rng.jitter.below(self.normals.len())];
            self.jit[j] = (1.0 + 0.04 * self.noise_scale * z).max(0.5);
        }
    }

    /// Top-down: arrivals, utilization, and the calls each service makes.
    fn demand(&mut self) {
        for tk in &mut self.tick {
            tk.demand = 0.0;
        }
        self.tick[self.entry].demand = self.load * self.gate[self.entry].reach();
        for oi in 0..self.order.len() {
            let i = self.order[oi];
            let p = &self.prof[i];
            let m = self.mods[i];
            if p.self_rps > 0.0 {
                self.tick[i].demand += p.self_rps * self.load / self.inc.load.rps.max(1e-9);
            }
            let tk = &mut self.tick[i];
            let limit = if m.cpu_limit > 0.0 {
                m.cpu_limit
            } else {
                p.cores
            };
            let usable = (limit * (1.0 - m.stray) - m.hot_loop).max(limit * 0.03);
            let need = tk.demand * p.cpu_per_req * (1.0 + tk.gc_pressure) + m.db_scan_cpu;
            let cap = tk.up_pods as f64 * m.capacity * usable;
            tk.rho = if cap > 0.0 { need / cap } else { 0.0 };
            let hang = if m.frozen {
                1.0
            } else if tk.rho > 0.97 {
                1.0 - 0.97 / tk.rho
            } else {
                0.0
            };
            tk.qfactor = ((1.0 - p.rho0) / (1.0 - tk.rho.min(0.97))).clamp(1.0, 30.0);
            tk.resp.hang = hang;
            let processed = tk.demand * (1.0 - hang) * (1.0 - tk.pool_fail);
            for &e in &self.out_edges[i] {
                let to = self.edges[e].to;
                // Clients retry a call once after a timeout or a reset (last tick's
                // shares): load on a struggling dependency grows as it struggles.
                let prev = &self.edges[e];
                let retry = if prev.critical {
                    (prev.read_timeout + prev.reset).min(1.0)
                } else {
                    0.0
                };
                let calls = processed * fanout(p, to, m.bypass) * m.call_mult * (1.0 + retry);
                self.edges[e].calls = calls;
                self.edges[e].slow_query = if Some(to) == p.db { m.slow_query } else { 0.0 };
                if self.edges[e].slow_query > 0.0 {
                    // A query that cannot use an index scans: part of its time is CPU.
                    self.mods[to].db_scan_cpu += calls * m.slow_query / 1000.0 * 0.15;
                }
                self.tick[to].demand += calls * self.gate[to].reach();
            }
        }
    }

    /// Bottom-up: each service's answers from its own work and its calls' outcomes.
    fn respond(&mut self) {
        for oi in (0..self.order.len()).rev() {
            let i = self.order[oi];
            let p = &self.prof[i];
            let m = self.mods[i];
            let tk = self.tick[i];
            // Datastores slow down with load beyond their usual (locks, cache misses).
            let contention = if p.kind == ServiceKind::Database {
                1.0 + 0.15 * (tk.demand / p.base_rps - 1.0).max(0.0)
            } else {
                1.0
            };
            let mut own = Moments::lognormal_with(p.own_ms * self.jit[i] * contention, p.own_k)
                .scaled(tk.qfactor)
                .plus(m.extra);
            if m.disk_lat > 0.0 {
                own = own.plus(Moments::bernoulli(p.write_frac, m.disk_lat));
            }
            if tk.gc_pressure > 0.0 {
                own = own.plus(Moments::bernoulli((tk.gc_pressure * 0.2).min(0.3), 250.0));
            }
            if tk.throttled > 0.0 {
                // A throttled request waits out the rest of the CFS period.
                own = own.plus(Moments::bernoulli(tk.throttled / 10.0, 60.0));
            }
            if m.call_mult > 1.0 {
                // Each retried attempt is abandoned at the tight client timeout first.
                own = own.plus(Moments::normal((m.call_mult - 1.0) * 50.0, 20.0));
            }
            let own_median = own.median();
            let timeout = p.timeout_ms;
            let (mut body, mut p_ok, mut fast_w, mut slow_w) = (own, 1.0, 0.0, 0.0);
            let mut slow_ms_w = 0.0;
            for k in 0..self.out_edges[i].len() {
                let e = self.out_edges[i][k];
                let edge = self.edge_outcome(e, timeout);
                let f = fanout(p, edge.to, m.bypass).min(1.0);
                body = body.plus(call_moments(f, edge.body));
                let fail = f * edge.failed();
                if edge.critical {
                    p_ok *= 1.0 - fail;
                    fast_w += f
                        * (edge.refused + edge.dns + edge.reset + edge.upstream_5xx
                            - edge.slow_5xx);
                    slow_w += f * (edge.timeouts() + edge.slow_5xx);
                    slow_ms_w += f * (edge.timeouts() * timeout + edge.slow_5xx * edge.slow_5xx_ms);
                } else {
                    // A cache that fails is a miss: slower, not an error.
                    body = body.plus(Moments::bernoulli(f * edge.timeouts(), timeout));
                }
                self.edges[e] = edge;
            }
            let down_fail = 1.0 - p_ok;
            let slow_share = if fast_w + slow_w > 0.0 {
                slow_w / (fast_w + slow_w)
            } else {
                0.0
            };
            let rest = 1.0 - tk.resp.hang;
            let pool = tk.pool_fail;
            let down_slow = down_fail * slow_share;
            let down_fast = down_fail - down_slow;
            let slow_pool = rest * pool;
            let slow_down = rest * (1.0 - pool) * down_slow;
            let alive = rest * (1.0 - pool) * (1.0 - down_fail);
            let lost = alive * (m.panic_frac + tk.dropped).min(1.0);
            // Of the lost requests, those on a killed pod reset their connections.
            let dropped = if tk.dropped > 0.0 {
                lost * tk.dropped / (m.panic_frac + tk.dropped)
            } else {
                0.0
            };
            let panic = lost;
            let slow_fail = slow_pool + slow_down;
            let slow_ms = if slow_fail > 0.0 {
                let down_ms = if slow_w > 0.0 {
                    slow_ms_w / slow_w
                } else {
                    timeout
                };
                (slow_pool * (POOL_TIMEOUT_MS + own_median) + slow_down * (down_ms + own_median))
                    / slow_fail
            } else {
                timeout
            };
            let disk_fail = if m.disk_fill >= 0.99 {
                p.write_frac
            } else {
                0.0
            };
            let body_err = (m.own_err + disk_fail).min(1.0);
            let resp = Resp {
                hang: tk.resp.hang,
                fast_fail: rest * (1.0 - pool) * down_fast + panic,
                dropped,
                fast_ms: (own_median * 0.6).max(0.5),
                slow_fail,
                slow_ms,
                body_err,
                body,
            };
            let tk = &mut self.tick[i];
            tk.resp = resp;
            tk.dropped = 0.0;
            let frozen_or_gone = m.frozen || tk.up_pods == 0;
            tk.completed = if frozen_or_gone { 0.0 } else { tk.demand };
            let body_share = (1.0 - resp.hang - resp.fast_fail - resp.slow_fail).max(0.0);
            tk.err5 = if frozen_or_gone {
                0.0
            } else {
                tk.demand * (resp.hang + resp.fast_fail + resp.slow_fail + body_share * body_err)
            };
            tk.err4 = (tk.completed - tk.err5).max(0.0) * m.client_err;
        }
    }

    /// The outcome shares of one call edge, given the callee's answers and the network.
    fn edge_outcome(&self, e: usize, timeout: f64) -> Edge {
        let mut edge = self.edges[e];
        let j = edge.to;
        let g = self.gate[j];
        let r = self.tick[j].resp;
        let mj = &self.mods[j];
        let reach = g.reach();
        let mut net = Moments::normal(0.4, 0.15);
        if mj.net_delay > 0.0 {
            net = net.plus(Moments::normal(mj.net_delay, mj.net_jitter));
        }
        let mut reset = 0.0;
        if mj.loss > 0.0 {
            // A request and its answer are a handful of packets; each lost one costs a
            // retransmission timeout (200 ms minimum on Linux), several in a row a reset.
            let q = 1.0 - libm::pow(1.0 - mj.loss, 4.0);
            net = net
                .plus(Moments::bernoulli(q, 200.0))
                .plus(Moments::bernoulli(q * q, 600.0));
            reset = reach * (mj.loss * mj.loss * 0.5).min(0.5);
        }
        // Requests in flight on a killed pod: the connection resets under them (they
        // are already outside the answered share, unlike the loss resets).
        let loss_reset = reset;
        reset = (reset + reach * r.dropped).min(1.0);
        let fast_fail = (r.fast_fail - r.dropped).max(0.0);
        if mj.bw_kbit > 0.0 {
            let kb = self.prof[j].resp_kb;
            let tx_ms = kb * 8.0 / mj.bw_kbit * 1000.0;
            let rho = (self.tick[j].demand * kb * 8.0 / mj.bw_kbit).min(0.98);
            net = net.plus(Moments::normal(tx_ms / (1.0 - rho), tx_ms * 0.5));
        }
        let mut body = r.body.plus(net);
        if edge.slow_query > 0.0 {
            body = body.plus(Moments::normal(edge.slow_query, edge.slow_query * 0.4));
        }
        // Most ticks the timeout is many deviations away; skip the tail maths then.
        let over = if body.mean + 8.0 * body.var.sqrt() < timeout {
            0.0
        } else {
            let (mu, sigma) = body.to_lognormal();
            tail_above(mu, sigma, timeout)
        };
        let body_share = (1.0 - r.hang - r.fast_fail - r.slow_fail).max(0.0);
        let slow_times_out = r.slow_ms + net.mean >= timeout;
        let slow_to = if slow_times_out { r.slow_fail } else { 0.0 };
        let slow_5xx = r.slow_fail - slow_to;
        edge.refused = g.refused;
        edge.dns = g.dns;
        edge.conn_timeout = g.conn_timeout;
        edge.read_timeout = reach * (r.hang + body_share * over + slow_to);
        edge.upstream_5xx = reach * (fast_fail + slow_5xx + body_share * (1.0 - over) * r.body_err);
        edge.slow_5xx = reach * slow_5xx;
        edge.slow_5xx_ms = r.slow_ms + net.mean;
        edge.reset = reset;
        edge.ok = (reach * body_share * (1.0 - over) * (1.0 - r.body_err) - loss_reset).max(0.0);
        edge.body = body;
        let slow = edge.timeouts() + reach * slow_5xx;
        edge.mix = Mix {
            fast: (edge.refused + edge.dns + reset + reach * fast_fail).min(1.0),
            fast_ms: 1.0,
            slow: slow.min(1.0),
            slow_ms: if slow > 0.0 {
                (edge.timeouts() * timeout + reach * slow_5xx * (r.slow_ms + net.mean)) / slow
            } else {
                timeout
            },
            ..Mix::default()
        };
        edge
    }

    /// Adds this tick's flows to the counters and window sums.
    fn accumulate(&mut self) {
        for i in 0..self.prof.len() {
            let tk = self.tick[i];
            let a = &mut self.acc[i];
            a.req2 += (tk.completed - tk.err5 - tk.err4).max(0.0);
            a.req4 += tk.err4;
            a.req5 += tk.err5;
            a.cpu_s += tk.cpu_container;
            a.proc_cpu_s += tk.cpu_proc;
            a.throttled += tk.throttled;
            a.disk_io_s += tk.disk_busy;
            a.net_tx += tk.net_tx;
            a.retrans += tk.retrans;
            a.db_queries += tk.db_queries;
            a.w_req += tk.completed;
            a.w_err += tk.err5;
            if tk.completed > 0.0 {
                let r = tk.resp;
                let w = tk.completed;
                let answered = (1.0 - r.hang).max(1e-9);
                a.w += w;
                a.w_fast += w * r.fast_fail / answered;
                a.w_fast_ms += w * r.fast_fail / answered * r.fast_ms;
                // Requests stuck in an overflowing queue are answered 503 after the
                // queue timeout; they count as slow answers on the server side.
                a.w_slow += w * (r.slow_fail + r.hang);
                a.w_slow_ms += w * (r.slow_fail + r.hang) * r.slow_ms.max(1000.0);
                a.w_mean += w * r.body.mean;
                a.w_m2 += w * r.body.second_moment();
            }
        }
        for (e, edge) in self.edges.iter().enumerate() {
            let a = &mut self.eacc[e];
            let calls = edge.calls;
            a.ok += calls * edge.ok;
            a.timeout += calls * edge.timeouts();
            a.error += calls * (edge.failed() - edge.timeouts()).max(0.0);
            if calls > 0.0 {
                a.w += calls;
                a.w_fast += calls * edge.mix.fast;
                a.w_slow += calls * edge.mix.slow;
                a.w_slow_ms += calls * edge.mix.slow * edge.mix.slow_ms;
                a.w_mean += calls * edge.body.mean;
                a.w_m2 += calls * edge.body.second_moment();
            }
            // The database's view of the queries this caller sends.
            let to = edge.to;
            if self.prof[to].kind == ServiceKind::Database && calls > 0.0 {
                let (mean, m2) = (edge.body.mean, edge.body.second_moment());
                let d = &mut self.acc[to];
                d.w_db += calls;
                d.w_db_mean += calls * mean;
                d.w_db_m2 += calls * m2;
                let c = &mut self.acc[edge.from];
                c.w_db += calls;
                c.w_db_mean += calls * mean;
                c.w_db_m2 += calls * m2;
            }
        }
    }

    /// The server-side latency mixture over the last scrape window.
    pub fn window_mix(a: &Acc) -> Option<Mix> {
        if a.w <= 0.0 {
            return None;
        }
        Some(Mix {
            fast: (a.w_fast / a.w).min(1.0),
            fast_ms: if a.w_fast > 0.0 {
                a.w_fast_ms / a.w_fast
            } else {
                1.0
            },
            slow: (a.w_slow / a.w).min(1.0),
            slow_ms: if a.w_slow > 0.0 {
                a.w_slow_ms / a.w_slow
            } else {
                0.0
            },
            ..window_body(a.w, a.w_mean, a.w_m2)
        })
    }
}

/// A mixture whose body is the log-normal with the window's average moments.
pub(crate) fn window_body(w: f64, mean: f64, m2: f64) -> Mix {
    let (mu, sigma) = Moments::from_second(mean / w, m2 / w).to_lognormal();
    Mix {
        mu,
        sigma,
        ..Mix::default()
    }
}

/// Counters as the processes left them before the window opened: every service has
/// been up for a few hours to a few days, so counters do not start at zero.
fn uptime_counters(prof: &[Profile], edges: &[Edge], r: &mut Rng) -> (Vec<Acc>, Vec<EdgeAcc>) {
    let uptime: Vec<f64> = prof.iter().map(|_| r.uniform(2.0, 72.0) * 3600.0).collect();
    let acc = prof
        .iter()
        .zip(&uptime)
        .map(|(p, &u)| {
            let pods = p.replicas as f64;
            let per_pod_cpu = p.cpu_per_req * p.base_rps / pods;
            Acc {
                req2: (p.base_rps * u).floor(),
                req4: (p.base_rps * u * 0.002).floor(),
                cpu_s: per_pod_cpu * u,
                proc_cpu_s: per_pod_cpu * u,
                disk_io_s: 0.02 * u,
                net_tx: p.base_rps * p.resp_kb * 1000.0 / pods * u,
                retrans: (p.base_rps * p.resp_kb / 1.4 / pods * u * 0.0002).floor(),
                ..Acc::default()
            }
        })
        .collect();
    let eacc = edges
        .iter()
        .map(|e| EdgeAcc {
            ok: (prof[e.from].base_rps * uptime[e.from]).floor(),
            ..EdgeAcc::default()
        })
        .collect();
    (acc, eacc)
}

/// The latency a call adds when it is made with probability `f`.
fn call_moments(f: f64, m: Moments) -> Moments {
    if f >= 1.0 {
        return m;
    }
    let mean = f * m.mean;
    let second = f * (m.var + m.mean * m.mean);
    Moments {
        mean,
        var: (second - mean * mean).max(0.0),
    }
}
