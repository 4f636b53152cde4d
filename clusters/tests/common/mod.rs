//! Shared helpers for the simulator tests: topologies and incidents built in code, and
//! small queries over telemetry.

#![allow(dead_code)]

use std::collections::BTreeMap;

use otrashi_gym::telemetry::{LogLevel, MetricSeries, Telemetry};
use otrashi_scenarios::catalog::{FaultKind, Via};
use otrashi_scenarios::duration::Duration;
use otrashi_scenarios::incident::{ConcreteFault, Incident};
use otrashi_scenarios::model::{
    AlertSpec, Load, LoadPattern, NoiseLevel, Runtime, Service, ServiceKind, Timeline, Topology,
};

/// Warm-up and window of every test incident, s.
pub const WARMUP_S: u64 = 120;
pub const END_S: u64 = 600;
/// Fault start in the test incidents, s.
pub const AT_S: u64 = 180;

pub fn svc(
    name: &str,
    kind: ServiceKind,
    runtime: Runtime,
    calls: &[&str],
    replicas: u32,
) -> Service {
    let (cpu_cores, memory_mb, latency_ms) = match kind {
        ServiceKind::Database => (2.0, 4096.0, 2.5),
        ServiceKind::Cache => (1.0, 1024.0, 0.5),
        ServiceKind::Queue => (1.0, 1024.0, 1.0),
        ServiceKind::Web => (1.0, 512.0, 8.0),
        _ => (1.0, 512.0, 6.0),
    };
    Service {
        name: name.to_owned(),
        kind,
        runtime,
        calls: calls.iter().map(|c| (*c).to_owned()).collect(),
        replicas,
        cpu_cores,
        memory_mb,
        latency_ms,
        pool_size: 20,
    }
}

/// gateway (Go) -> orders (Java) -> orders-db (Postgres).
pub fn chain() -> Topology {
    use ServiceKind::*;
    Topology {
        name: "chain".into(),
        description: String::new(),
        entry: "gateway".into(),
        services: vec![
            svc("gateway", Web, Runtime::Go, &["orders"], 2),
            svc("orders", Api, Runtime::Java, &["orders-db"], 2),
            svc("orders-db", Database, Runtime::Native, &[], 1),
        ],
    }
}

/// A shop: frontend calls catalog, cart, checkout and ads; cart and catalog read
/// through redis to postgres; checkout calls cart and payment.
pub fn shop() -> Topology {
    use ServiceKind::*;
    Topology {
        name: "shop".into(),
        description: String::new(),
        entry: "frontend".into(),
        services: vec![
            svc(
                "frontend",
                Web,
                Runtime::Node,
                &["catalog", "cart", "checkout", "ads"],
                2,
            ),
            svc("catalog", Api, Runtime::Java, &["redis", "postgres"], 2),
            svc("cart", Api, Runtime::Python, &["redis", "postgres"], 2),
            svc("checkout", Api, Runtime::Go, &["cart", "payment"], 2),
            svc("payment", Api, Runtime::Rust, &["payment-db"], 2),
            svc("ads", Api, Runtime::Go, &[], 2),
            svc("redis", Cache, Runtime::Native, &[], 1),
            svc("postgres", Database, Runtime::Native, &[], 1),
            svc("payment-db", Database, Runtime::Native, &[], 1),
        ],
    }
}

pub fn fault(
    kind: FaultKind,
    target: &str,
    via: Option<Via>,
    params: &[(&str, f64)],
) -> ConcreteFault {
    ConcreteFault {
        id: "f1".into(),
        kind,
        target: target.into(),
        at: Duration::from_secs(AT_S),
        until: Duration::from_secs(END_S),
        via: via.unwrap_or_else(|| kind.def().default_via()),
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect::<BTreeMap<_, _>>(),
    }
}

pub fn incident(topology: Topology, faults: Vec<ConcreteFault>, seed: u64) -> Incident {
    Incident {
        scenario: "test".into(),
        scenario_digest: "0".into(),
        seed,
        topology,
        load: Load {
            rps: 50.0,
            pattern: LoadPattern::Steady,
        },
        timeline: Timeline {
            warmup: Duration::from_secs(WARMUP_S),
            duration: Duration::from_secs(END_S - WARMUP_S),
        },
        faults,
        noise: NoiseLevel::Low,
        red_herrings: vec![],
        alert: AlertSpec::Auto,
    }
}

/// Read-only queries over one episode's telemetry.
pub struct View<'a> {
    pub t: &'a Telemetry,
}

impl<'a> View<'a> {
    pub fn new(t: &'a Telemetry) -> Self {
        View { t }
    }

    pub fn id(&self, svc: &str) -> u16 {
        self.t
            .service_id(svc)
            .unwrap_or_else(|| panic!("no service {svc}"))
    }

    /// The series `name` of `svc` whose labels include all of `labels`.
    pub fn series(&self, name: &str, svc: &str, labels: &[(&str, &str)]) -> &'a MetricSeries {
        let id = self.id(svc);
        self.t
            .metrics
            .iter()
            .find(|s| {
                s.name == name
                    && s.service == id
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
            })
            .unwrap_or_else(|| panic!("no series {name}{labels:?} on {svc}"))
    }

    /// Samples of a series in `[from_s, to_s)`.
    pub fn window(&self, s: &MetricSeries, from_s: u64, to_s: u64) -> Vec<f64> {
        s.values
            .iter()
            .enumerate()
            .filter(|(k, _)| {
                let t = s.start_ms + *k as u64 * s.step_ms;
                t >= from_s * 1000 && t < to_s * 1000
            })
            .map(|(_, v)| *v)
            .collect()
    }

    /// Mean of the finite samples of a gauge in a window (NaN when none).
    pub fn mean(
        &self,
        name: &str,
        svc: &str,
        labels: &[(&str, &str)],
        from_s: u64,
        to_s: u64,
    ) -> f64 {
        let w: Vec<f64> = self
            .window(self.series(name, svc, labels), from_s, to_s)
            .into_iter()
            .filter(|v| v.is_finite())
            .collect();
        if w.is_empty() {
            f64::NAN
        } else {
            w.iter().sum::<f64>() / w.len() as f64
        }
    }

    pub fn max(
        &self,
        name: &str,
        svc: &str,
        labels: &[(&str, &str)],
        from_s: u64,
        to_s: u64,
    ) -> f64 {
        self.window(self.series(name, svc, labels), from_s, to_s)
            .into_iter()
            .filter(|v| v.is_finite())
            .fold(f64::NEG_INFINITY, f64::max)
    }

    pub fn min(
        &self,
        name: &str,
        svc: &str,
        labels: &[(&str, &str)],
        from_s: u64,
        to_s: u64,
    ) -> f64 {
        self.window(self.series(name, svc, labels), from_s, to_s)
            .into_iter()
            .filter(|v| v.is_finite())
            .fold(f64::INFINITY, f64::min)
    }

    /// Per-second rate of a counter over a window, summing increases between finite
    /// samples (a decrease is a reset, as PromQL's `rate` treats it).
    pub fn rate(
        &self,
        name: &str,
        svc: &str,
        labels: &[(&str, &str)],
        from_s: u64,
        to_s: u64,
    ) -> f64 {
        let s = self.series(name, svc, labels);
        let w = self.window(s, from_s, to_s);
        let mut inc = 0.0;
        let mut prev: Option<f64> = None;
        for v in w {
            if !v.is_finite() {
                continue;
            }
            if let Some(p) = prev {
                inc += if v >= p { v - p } else { v };
            }
            prev = Some(v);
        }
        inc / (to_s - from_s) as f64
    }

    /// Count of NaN samples of a series in a window.
    pub fn nans(
        &self,
        name: &str,
        svc: &str,
        labels: &[(&str, &str)],
        from_s: u64,
        to_s: u64,
    ) -> usize {
        self.window(self.series(name, svc, labels), from_s, to_s)
            .into_iter()
            .filter(|v| v.is_nan())
            .count()
    }

    /// 5xx share of a service's requests in a window.
    pub fn error_ratio(&self, svc: &str, from_s: u64, to_s: u64) -> f64 {
        let e = self.rate("http_requests_total", svc, &[("code", "5xx")], from_s, to_s);
        let ok = self.rate("http_requests_total", svc, &[("code", "2xx")], from_s, to_s);
        let c4 = self.rate("http_requests_total", svc, &[("code", "4xx")], from_s, to_s);
        let all = e + ok + c4;
        if all > 0.0 {
            e / all
        } else {
            0.0
        }
    }

    pub fn p99(&self, svc: &str, from_s: u64, to_s: u64) -> f64 {
        self.mean(
            "http_request_duration_seconds",
            svc,
            &[("quantile", "0.99")],
            from_s,
            to_s,
        )
    }

    /// Rendered log lines of a service in a window.
    pub fn logs(&self, svc: &str, from_s: u64, to_s: u64) -> Vec<(LogLevel, String)> {
        let id = self.id(svc);
        self.t
            .logs
            .iter()
            .filter(|l| l.service == id && l.t_ms >= from_s * 1000 && l.t_ms < to_s * 1000)
            .map(|l| {
                (
                    l.level,
                    self.t.log_templates[l.template as usize].render(&l.args),
                )
            })
            .collect()
    }

    pub fn logs_contain(&self, svc: &str, from_s: u64, to_s: u64, needle: &str) -> bool {
        let needle = needle.to_lowercase();
        self.logs(svc, from_s, to_s)
            .iter()
            .any(|(_, l)| l.to_lowercase().contains(&needle))
    }

    /// Events of a service with a reason.
    pub fn events(&self, svc: &str, reason: &str) -> Vec<&'a otrashi_gym::telemetry::Event> {
        let id = self.id(svc);
        self.t
            .events
            .iter()
            .filter(|e| e.service == id && e.reason == reason)
            .collect()
    }

    pub fn deploys_of(&self, svc: &str) -> Vec<&'a otrashi_gym::telemetry::Deploy> {
        let id = self.id(svc);
        self.t.deploys.iter().filter(|d| d.service == id).collect()
    }

    /// Request rate into a service (all codes).
    pub fn req_rate(&self, svc: &str, from_s: u64, to_s: u64) -> f64 {
        ["2xx", "4xx", "5xx"]
            .iter()
            .map(|c| self.rate("http_requests_total", svc, &[("code", c)], from_s, to_s))
            .sum()
    }

    /// Calls per second from `svc` to `peer`, all outcomes.
    pub fn client_rate(&self, svc: &str, peer: &str, from_s: u64, to_s: u64) -> f64 {
        ["ok", "error", "timeout"]
            .iter()
            .map(|o| {
                self.rate(
                    "http_client_requests_total",
                    svc,
                    &[("peer", peer), ("outcome", o)],
                    from_s,
                    to_s,
                )
            })
            .sum()
    }
}

/// Baseline window (healthy) and incident window used by the signature tests.
pub const BASE: (u64, u64) = (30, AT_S);
pub const HOT: (u64, u64) = (AT_S + 60, END_S);
