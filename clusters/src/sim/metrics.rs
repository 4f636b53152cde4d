//! Prometheus-style series, scraped every [`SCRAPE_S`] seconds.
//!
//! One series per service and label set. Traffic counters (`http_*`, `db_queries_total`)
//! are service totals, as `sum by (service)` would show them; resource series
//! (`container_*`, `process_*`) are the average pod, as `avg by (service)` would, so that
//! they compare directly with the per-container limits. Series come from four sources
//! and fail the way those sources do: the app's own endpoint (missing while the process
//! is frozen or down), cAdvisor (missing while no container runs), kube-state-metrics and
//! node-exporter (missing only when the deployment is deleted).

use otrashi_gym::telemetry::{MetricKind, MetricSeries};
use otrashi_scenarios::model::ServiceKind;

use super::dist::Mix;
use super::engine::{window_body, Sim, SCRAPE_S};
use super::profile::Profile;
use super::state::Edge;

const MIB: f64 = 1_048_576.0;
const QUANTILES: [(f64, &str); 3] = [(0.5, "0.5"), (0.9, "0.9"), (0.99, "0.99")];

/// Indices of one service's series.
#[derive(Debug, Clone, Default)]
struct SvcSeries {
    req: [usize; 3],
    dur: [usize; 3],
    cpu: usize,
    proc_cpu: usize,
    throttled: usize,
    quota: usize,
    ws: usize,
    rss: usize,
    mem_limit: usize,
    restarts: usize,
    available: usize,
    up: usize,
    fs: usize,
    disk_io: usize,
    net_tx: usize,
    retrans: usize,
    pool: Option<(usize, usize)>,
    cache_hit: Option<usize>,
    db_queries: Option<usize>,
    db_dur: Option<[usize; 3]>,
}

/// Indices of one call edge's series.
#[derive(Debug, Clone, Default)]
struct EdgeSeries {
    outcome: [usize; 3],
    dur: [usize; 2],
}

/// All series of an episode.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub series: Vec<MetricSeries>,
    svc: Vec<SvcSeries>,
    edge: Vec<EdgeSeries>,
}

struct Builder<'a> {
    series: &'a mut Vec<MetricSeries>,
    cap: usize,
}

impl Builder<'_> {
    fn add(
        &mut self,
        name: &str,
        svc: usize,
        labels: &[(&str, &str)],
        kind: MetricKind,
        unit: &str,
    ) -> usize {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        labels.sort();
        self.series.push(MetricSeries {
            name: name.to_owned(),
            service: svc as u16,
            labels,
            kind,
            unit: unit.to_owned(),
            start_ms: u64::from(SCRAPE_S) * 1000,
            step_ms: u64::from(SCRAPE_S) * 1000,
            values: Vec::with_capacity(self.cap),
        });
        self.series.len() - 1
    }
}

impl Metrics {
    /// Declares every series of the topology; `samples` is how many scrapes will run.
    pub fn new(prof: &[Profile], edges: &[Edge], samples: u32) -> Metrics {
        use MetricKind::{Counter, Gauge};
        let mut series = Vec::new();
        let mut b = Builder {
            series: &mut series,
            cap: samples as usize,
        };
        let mut svc = Vec::with_capacity(prof.len());
        for (i, p) in prof.iter().enumerate() {
            let mut s = SvcSeries::default();
            for (k, code) in ["2xx", "4xx", "5xx"].iter().enumerate() {
                s.req[k] = b.add(
                    "http_requests_total",
                    i,
                    &[("code", code)],
                    Counter,
                    "requests",
                );
            }
            for (k, (_, q)) in QUANTILES.iter().enumerate() {
                s.dur[k] = b.add(
                    "http_request_duration_seconds",
                    i,
                    &[("quantile", q)],
                    Gauge,
                    "seconds",
                );
            }
            s.cpu = b.add(
                "container_cpu_usage_seconds_total",
                i,
                &[],
                Counter,
                "seconds",
            );
            s.proc_cpu = b.add("process_cpu_seconds_total", i, &[], Counter, "seconds");
            s.throttled = b.add(
                "container_cpu_cfs_throttled_periods_total",
                i,
                &[],
                Counter,
                "periods",
            );
            s.quota = b.add("container_spec_cpu_quota", i, &[], Gauge, "cores");
            s.ws = b.add("container_memory_working_set_bytes", i, &[], Gauge, "bytes");
            s.rss = b.add("process_resident_memory_bytes", i, &[], Gauge, "bytes");
            s.mem_limit = b.add("container_spec_memory_limit_bytes", i, &[], Gauge, "bytes");
            s.restarts = b.add(
                "kube_pod_container_status_restarts_total",
                i,
                &[],
                Counter,
                "restarts",
            );
            s.available = b.add(
                "kube_deployment_status_replicas_available",
                i,
                &[],
                Gauge,
                "replicas",
            );
            s.up = b.add("up", i, &[], Gauge, "ratio");
            s.fs = b.add("container_fs_usage_bytes", i, &[], Gauge, "bytes");
            s.disk_io = b.add(
                "node_disk_io_time_seconds_total",
                i,
                &[],
                Counter,
                "seconds",
            );
            s.net_tx = b.add(
                "container_network_transmit_bytes_total",
                i,
                &[],
                Counter,
                "bytes",
            );
            s.retrans = b.add("node_netstat_tcp_retrans_segs", i, &[], Counter, "segments");
            if !p.calls.is_empty() {
                s.pool = Some((
                    b.add("db_pool_connections_in_use", i, &[], Gauge, "connections"),
                    b.add("db_pool_connections_max", i, &[], Gauge, "connections"),
                ));
            }
            if p.kind == ServiceKind::Cache || p.cache.is_some() {
                s.cache_hit = Some(b.add("cache_hit_ratio", i, &[], Gauge, "ratio"));
            }
            if p.kind == ServiceKind::Database || p.db.is_some() {
                s.db_queries = Some(b.add("db_queries_total", i, &[], Counter, "queries"));
                let mut d = [0; 3];
                for (k, (_, q)) in QUANTILES.iter().enumerate() {
                    d[k] = b.add(
                        "db_query_duration_seconds",
                        i,
                        &[("quantile", q)],
                        Gauge,
                        "seconds",
                    );
                }
                s.db_dur = Some(d);
            }
            svc.push(s);
        }
        let mut edge = Vec::with_capacity(edges.len());
        for e in edges {
            let peer = prof[e.to].name.as_str();
            let mut s = EdgeSeries::default();
            for (k, outcome) in ["ok", "error", "timeout"].iter().enumerate() {
                s.outcome[k] = b.add(
                    "http_client_requests_total",
                    e.from,
                    &[("outcome", outcome), ("peer", peer)],
                    Counter,
                    "requests",
                );
            }
            for (k, q) in ["0.5", "0.99"].iter().enumerate() {
                s.dur[k] = b.add(
                    "http_client_request_duration_seconds",
                    e.from,
                    &[("peer", peer), ("quantile", q)],
                    Gauge,
                    "seconds",
                );
            }
            edge.push(s);
        }
        Metrics { series, svc, edge }
    }
}

fn or_nan(ok: bool, v: f64) -> f64 {
    if ok {
        v
    } else {
        f64::NAN
    }
}

/// Rounds to 6 significant-ish decimals so files stay readable.
fn tidy(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

impl Sim<'_> {
    /// Takes one sample of every series at second `t_s` and resets the window sums.
    pub(crate) fn scrape(&mut self, _t_s: u32) {
        for i in 0..self.prof.len() {
            let m = self.mods[i];
            let tk = self.tick[i];
            let a = self.acc[i];
            let gone = m.removed || m.scaled_zero;
            let app = !m.frozen && !gone && tk.up_pods > 0;
            let container = !gone && tk.up_pods > 0;
            let kube = !m.removed;
            let s = self.metrics.svc[i].clone();
            let p = &self.prof[i];
            let cache_ratio = if p.kind == ServiceKind::Cache {
                self.cache_ratio_served(i)
            } else {
                p.hit_ratio * (1.0 - m.bypass)
            };
            let cache_jitter = self.rng.noise.normal(0.0, 0.004);
            let series = &mut self.metrics.series;
            let mut push = |idx: usize, v: f64| series[idx].values.push(tidy(v));
            push(s.req[0], or_nan(app, a.req2.floor()));
            push(s.req[1], or_nan(app, a.req4.floor()));
            push(s.req[2], or_nan(app, a.req5.floor()));
            let mix = Sim::window_mix(&a);
            for (k, (q, _)) in QUANTILES.iter().enumerate() {
                let v = mix.map_or(f64::NAN, |mx| mx.quantile(*q) / 1000.0);
                push(s.dur[k], or_nan(app, v));
            }
            push(s.cpu, or_nan(container, a.cpu_s));
            push(s.proc_cpu, or_nan(app, a.proc_cpu_s));
            push(s.throttled, or_nan(container, a.throttled.floor()));
            push(s.quota, or_nan(container, tk.cpu_limit));
            push(s.ws, or_nan(container, (tk.ws_mb * MIB).round()));
            push(s.rss, or_nan(app, (tk.rss_mb * MIB).round()));
            push(s.mem_limit, or_nan(container, tk.mem_limit * MIB));
            push(s.restarts, or_nan(kube, a.restarts));
            let ready = if gone {
                0.0
            } else {
                (tk.up_pods as f64).min((p.replicas as f64 * m.capacity).round())
            };
            push(s.available, or_nan(kube, ready));
            let up = if gone {
                f64::NAN
            } else if m.frozen {
                0.0
            } else {
                tk.up_pods as f64 / p.replicas as f64
            };
            push(s.up, up);
            push(s.fs, or_nan(container, tk.fs_bytes.round()));
            push(s.disk_io, or_nan(kube, a.disk_io_s));
            push(s.net_tx, or_nan(container, a.net_tx.round()));
            push(s.retrans, or_nan(kube, a.retrans.floor()));
            if let Some((in_use, max)) = s.pool {
                push(in_use, or_nan(app, tk.pool_in_use.round()));
                push(max, or_nan(app, p.pool_size));
            }
            if let Some(idx) = s.cache_hit {
                push(
                    idx,
                    or_nan(app, (cache_ratio + cache_jitter).clamp(0.0, 1.0)),
                );
            }
            if let Some(idx) = s.db_queries {
                push(idx, or_nan(app, a.db_queries.floor()));
            }
            if let Some(d) = s.db_dur {
                for (k, (q, _)) in QUANTILES.iter().enumerate() {
                    let v = if a.w_db > 0.0 {
                        let mx = window_body(a.w_db, a.w_db_mean, a.w_db_m2);
                        mx.quantile(*q) / 1000.0
                    } else {
                        f64::NAN
                    };
                    push(d[k], or_nan(app, v));
                }
            }
            let err_ratio = if a.w_req > 0.0 {
                a.w_err / a.w_req
            } else {
                f64::NAN
            };
            let p99 = mix.map_or(f64::NAN, |mx| mx.quantile(0.99));
            let rate = a.w_req / f64::from(SCRAPE_S);
            self.obs[i].push(if app {
                (err_ratio, p99, rate)
            } else {
                (f64::NAN, f64::NAN, f64::NAN)
            });
            let a = &mut self.acc[i];
            a.w = 0.0;
            a.w_fast = 0.0;
            a.w_fast_ms = 0.0;
            a.w_slow = 0.0;
            a.w_slow_ms = 0.0;
            a.w_mean = 0.0;
            a.w_m2 = 0.0;
            a.w_req = 0.0;
            a.w_err = 0.0;
            a.w_db = 0.0;
            a.w_db_mean = 0.0;
            a.w_db_m2 = 0.0;
        }
        for e in 0..self.edges.len() {
            let from = self.edges[e].from;
            let m = self.mods[from];
            let app = !m.frozen && !m.removed && !m.scaled_zero && self.tick[from].up_pods > 0;
            let a = self.eacc[e];
            let s = self.metrics.edge[e].clone();
            let series = &mut self.metrics.series;
            let mut push = |idx: usize, v: f64| series[idx].values.push(tidy(v));
            push(s.outcome[0], or_nan(app, a.ok.floor()));
            push(s.outcome[1], or_nan(app, a.error.floor()));
            push(s.outcome[2], or_nan(app, a.timeout.floor()));
            let mix = (a.w > 0.0).then(|| Mix {
                fast: a.w_fast / a.w,
                fast_ms: 1.0,
                slow: a.w_slow / a.w,
                slow_ms: if a.w_slow > 0.0 {
                    a.w_slow_ms / a.w_slow
                } else {
                    0.0
                },
                ..window_body(a.w, a.w_mean, a.w_m2)
            });
            push(
                s.dur[0],
                or_nan(app, mix.map_or(f64::NAN, |mx| mx.quantile(0.5) / 1000.0)),
            );
            push(
                s.dur[1],
                or_nan(app, mix.map_or(f64::NAN, |mx| mx.quantile(0.99) / 1000.0)),
            );
            let a = &mut self.eacc[e];
            a.w = 0.0;
            a.w_fast = 0.0;
            a.w_slow = 0.0;
            a.w_slow_ms = 0.0;
            a.w_mean = 0.0;
            a.w_m2 = 0.0;
        }
    }

    /// The hit ratio a cache reports: its callers' ratios, weighted by their lookups.
    fn cache_ratio_served(&self, cache: usize) -> f64 {
        let (mut w, mut sum) = (0.0, 0.0);
        for e in self.edges.iter().filter(|e| e.to == cache) {
            let p = &self.prof[e.from];
            w += e.calls;
            sum += e.calls * p.hit_ratio;
        }
        if w > 0.0 {
            sum / w
        } else {
            0.9
        }
    }
}
