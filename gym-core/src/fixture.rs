//! A small hand-built incident for unit tests: a shop where `cart` ships a change at
//! 115 s, its memory climbs, it is OOM-killed at 240 s and restarts, and errors reach
//! `checkout` and `frontend`. Test-only; the simulator produces the real thing.

use std::collections::BTreeMap;

use otrashi_scenarios::model::{
    AlertSpec, FaultSpec, Load, LoadPattern, Metadata, Noise, Runtime, Sampled, Target, Timeline,
    TopologySource, API_VERSION,
};
use otrashi_scenarios::{Duration, FaultKind, Scenario, Service, ServiceKind, Topology, Via};

use crate::telemetry::*;

/// 2026-11-22T00:00:00Z.
pub const START_UNIX_MS: i64 = 1_795_305_600_000;
const END_MS: u64 = 300_000;
const STEP_MS: u64 = 15_000;
const SAMPLES: usize = 21;

/// Service ids in the fixture.
pub const FRONTEND: u16 = 0;
/// Service id of `checkout`.
pub const CHECKOUT: u16 = 1;
/// Service id of `cart`.
pub const CART: u16 = 2;
/// Service id of `postgres`.
pub const POSTGRES: u16 = 3;
/// Service id of `catalog`.
pub const CATALOG: u16 = 4;

fn svc(name: &str, kind: ServiceKind, runtime: Runtime, calls: &[&str]) -> Service {
    Service {
        name: name.into(),
        kind,
        runtime,
        calls: calls.iter().map(|c| (*c).to_owned()).collect(),
        replicas: 2,
        cpu_cores: 1.0,
        memory_mb: 512.0,
        latency_ms: 10.0,
        pool_size: 10,
        engine: None,
    }
}

/// The fixture's topology.
pub fn topology() -> Topology {
    Topology {
        name: "mini-shop".into(),
        description: String::new(),
        entry: "frontend".into(),
        services: vec![
            svc(
                "frontend",
                ServiceKind::Web,
                Runtime::Node,
                &["checkout", "catalog"],
            ),
            svc("checkout", ServiceKind::Api, Runtime::Go, &["cart"]),
            svc("cart", ServiceKind::Api, Runtime::Java, &["postgres"]),
            svc("postgres", ServiceKind::Database, Runtime::Native, &[]),
            svc("catalog", ServiceKind::Api, Runtime::Python, &["postgres"]),
        ],
    }
}

/// A scenario whose sampled incident matches the fixture telemetry.
pub fn scenario() -> Scenario {
    Scenario {
        api_version: API_VERSION.into(),
        metadata: Metadata {
            name: "mini-cart".into(),
            description: String::new(),
            tags: vec![],
        },
        topology_source: TopologySource::Inline,
        topology: topology(),
        load: Load {
            rps: 50.0,
            pattern: LoadPattern::Steady,
        },
        timeline: Timeline {
            warmup: Duration::from_secs(60),
            duration: Duration::from_secs(240),
        },
        faults: vec![FaultSpec {
            id: "leak".into(),
            kind: FaultKind::MemoryLeak,
            target: Target::Service("cart".into()),
            at: Sampled::Fixed(120.0),
            duration: None,
            params: BTreeMap::new(),
            via: Some(Via::Deploy),
        }],
        noise: Noise::default(),
        alert: AlertSpec::Auto,
    }
}

fn counter(
    name: &str,
    service: u16,
    labels: &[(&str, &str)],
    rate: impl Fn(u64) -> f64,
) -> MetricSeries {
    let mut total = 0.0;
    let values = (0..SAMPLES)
        .map(|i| {
            let t = i as u64 * STEP_MS;
            // cart restarts at 240 s: its counters start again from zero.
            if service == CART && t == 240_000 {
                total = 0.0;
            }
            total += rate(t) * STEP_MS as f64 / 1000.0;
            total
        })
        .collect();
    MetricSeries {
        name: name.into(),
        service,
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        kind: MetricKind::Counter,
        unit: "requests".into(),
        start_ms: 0,
        step_ms: STEP_MS,
        values,
    }
}

fn gauge(name: &str, service: u16, unit: &str, value: impl Fn(u64) -> f64) -> MetricSeries {
    MetricSeries {
        name: name.into(),
        service,
        labels: vec![],
        kind: MetricKind::Gauge,
        unit: unit.into(),
        start_ms: 0,
        step_ms: STEP_MS,
        values: (0..SAMPLES).map(|i| value(i as u64 * STEP_MS)).collect(),
    }
}

fn metrics() -> Vec<MetricSeries> {
    let mut m = Vec::new();
    for s in 0..5u16 {
        let hurt = matches!(s, FRONTEND | CHECKOUT | CART);
        m.push(counter(
            "http_requests_total",
            s,
            &[("code", "2xx")],
            |_| 50.0,
        ));
        m.push(counter(
            "http_requests_total",
            s,
            &[("code", "5xx")],
            move |t| {
                if hurt && t >= 150_000 {
                    5.0
                } else {
                    0.0
                }
            },
        ));
        m.push(gauge(
            "http_request_duration_seconds",
            s,
            "seconds",
            move |t| {
                if hurt && t >= 150_000 {
                    0.6
                } else {
                    0.05
                }
            },
        ));
        m.push(gauge(
            "container_memory_working_set_bytes",
            s,
            "bytes",
            move |t| {
                let base = 200e6;
                if s != CART || t < 120_000 {
                    base
                } else if t < 240_000 {
                    base + (t - 120_000) as f64 * 2_500.0
                } else {
                    base + (t - 240_000) as f64 * 2_500.0
                }
            },
        ));
        let mut restarts = counter("kube_pod_container_status_restarts_total", s, &[], |_| 0.0);
        restarts.values = (0..SAMPLES)
            .map(|i| {
                if s == CART && i as u64 * STEP_MS >= 240_000 {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        restarts.unit = "restarts".into();
        m.push(restarts);
        m.push(gauge("up", s, "bool", move |t| {
            if s == CART && t == 240_000 {
                f64::NAN
            } else {
                1.0
            }
        }));
        // A fine-grained series, to exercise downsampling.
        m.push(MetricSeries {
            name: "process_cpu_seconds_total".into(),
            service: s,
            labels: vec![],
            kind: MetricKind::Counter,
            unit: "seconds".into(),
            start_ms: 0,
            step_ms: 1_000,
            values: (0..=300).map(|i| f64::from(i) * 0.2).collect(),
        });
    }
    // Many series of one metric, to exercise the series limit.
    for route in 0..30 {
        m.push(counter(
            "http_route_requests_total",
            FRONTEND,
            &[("route", &format!("/r{route}"))],
            |_| 1.0,
        ));
    }
    m
}

fn logs() -> (Vec<LogTemplate>, Vec<LogRecord>) {
    let templates = vec![
        LogTemplate { text: "GET {} 200 in {}ms".into() },
        LogTemplate {
            text: "java.lang.OutOfMemoryError: Java heap space\n\tat com.shop.cart.CartCache.put(CartCache.java:{})".into(),
        },
        LogTemplate { text: "upstream {} returned 503 for {}".into() },
        LogTemplate { text: "GC pause {}ms".into() },
        LogTemplate { text: "payload dump: {}".into() },
    ];
    let mut logs = Vec::new();
    let rec = |t_ms, service, level, template, args: &[&str]| LogRecord {
        t_ms,
        service,
        level,
        template,
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        trace_id: None,
    };
    for t in (0..END_MS).step_by(5_000) {
        for s in 0..5u16 {
            logs.push(rec(t, s, LogLevel::Info, 0, &["/api/items", "12"]));
        }
        if t >= 150_000 {
            logs.push(rec(
                t,
                FRONTEND,
                LogLevel::Error,
                2,
                &["checkout", "/checkout"],
            ));
            logs.push(rec(t, CHECKOUT, LogLevel::Error, 2, &["cart", "/cart"]));
            logs.push(rec(t, CART, LogLevel::Warn, 3, &["850"]));
        }
        if (200_000..240_000).contains(&t) {
            logs.push(rec(t, CART, LogLevel::Error, 1, &["88"]));
        }
    }
    logs.push(rec(
        10_000,
        CATALOG,
        LogLevel::Info,
        4,
        &[&"x".repeat(3000)],
    ));
    logs.sort_by_key(|r| r.t_ms);
    (templates, logs)
}

fn spans() -> (Vec<String>, Vec<Span>) {
    let ops = vec![
        "GET /checkout".to_owned(),
        "POST /checkout".to_owned(),
        "GET /cart".to_owned(),
        "SELECT cart_items".to_owned(),
        "GET /catalog".to_owned(),
        "SELECT products".to_owned(),
    ];
    let mut spans = Vec::new();
    let mut trace_id = 1u64;
    for t in (0..END_MS).step_by(10_000) {
        let bad = t >= 150_000;
        let start = t * 1000;
        let sp =
            |span_id, parent_id, service, operation, start_us, duration_us, error: Option<&str>| {
                Span {
                    trace_id,
                    span_id,
                    parent_id,
                    service,
                    operation,
                    start_us,
                    duration_us,
                    status: if error.is_some() {
                        SpanStatus::Error
                    } else {
                        SpanStatus::Ok
                    },
                    http_status: if error.is_some() { 503 } else { 200 },
                    error: error.map(str::to_owned),
                }
            };
        let d = if bad { 600_000 } else { 40_000 };
        spans.push(sp(
            1,
            None,
            FRONTEND,
            0,
            start,
            d + 5_000,
            bad.then_some("upstream checkout returned 503"),
        ));
        spans.push(sp(
            2,
            Some(1),
            CHECKOUT,
            1,
            start + 1_000,
            d + 2_000,
            bad.then_some("upstream cart returned 503"),
        ));
        spans.push(sp(
            3,
            Some(2),
            CART,
            2,
            start + 2_000,
            d,
            bad.then_some("java.lang.OutOfMemoryError: Java heap space"),
        ));
        if !bad {
            spans.push(sp(4, Some(3), POSTGRES, 3, start + 3_000, 5_000, None));
        }
        trace_id += 1;
        spans.push(Span {
            trace_id,
            span_id: 1,
            parent_id: None,
            service: FRONTEND,
            operation: 4,
            start_us: start + 500,
            duration_us: 30_000,
            status: SpanStatus::Ok,
            http_status: 200,
            error: None,
        });
        spans.push(Span {
            trace_id,
            span_id: 2,
            parent_id: Some(1),
            service: CATALOG,
            operation: 5,
            start_us: start + 1_500,
            duration_us: 20_000,
            status: SpanStatus::Ok,
            http_status: 200,
            error: None,
        });
        trace_id += 1;
    }
    (ops, spans)
}

fn events() -> Vec<Event> {
    let ev = |t_ms, service, warn: bool, reason: &str, message: &str| Event {
        t_ms,
        service,
        event_type: if warn {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: reason.into(),
        message: message.into(),
    };
    vec![
        ev(
            60_000,
            CATALOG,
            false,
            "ScalingReplicaSet",
            "Scaled up replica set catalog-5c8d to 2",
        ),
        ev(
            115_000,
            CART,
            false,
            "ScalingReplicaSet",
            "Scaled up replica set cart-7d9f to 2",
        ),
        ev(
            240_000,
            CART,
            true,
            "OOMKilled",
            "Container cart was OOMKilled (exit code 137)",
        ),
        ev(241_000, CART, false, "Started", "Started container cart"),
        ev(
            245_000,
            CART,
            true,
            "BackOff",
            "Back-off restarting failed container cart",
        ),
        ev(
            255_000,
            CART,
            true,
            "BackOff",
            "Back-off restarting failed container cart",
        ),
        ev(
            265_000,
            CART,
            true,
            "BackOff",
            "Back-off restarting failed container cart",
        ),
    ]
}

fn deploys() -> Vec<Deploy> {
    vec![
        Deploy {
            id: "deploy-1a2b3c4".into(),
            t_ms: 60_000,
            service: CATALOG,
            from_version: "v2.3.0".into(),
            to_version: "v2.3.1".into(),
            commit: "1a2b3c4".into(),
            author: "dana".into(),
            title: "Update product image CDN host".into(),
            diff: "diff --git a/catalog/images.py b/catalog/images.py\n--- a/catalog/images.py\n+++ b/catalog/images.py\n@@ -1 +1 @@\n-CDN = \"img1\"\n+CDN = \"img2\"\n".into(),
        },
        Deploy {
            id: "deploy-7f3a9c1".into(),
            t_ms: 115_000,
            service: CART,
            from_version: "v1.8.2".into(),
            to_version: "v1.9.0".into(),
            commit: "7f3a9c1".into(),
            author: "sam".into(),
            title: "Cache cart contents in memory for faster reads".into(),
            diff: format!(
                "diff --git a/src/cart/CartCache.java b/src/cart/CartCache.java\n--- a/src/cart/CartCache.java\n+++ b/src/cart/CartCache.java\n@@ -10,3 +10,5 @@\n+  private static final Map<String, Cart> CACHE = new HashMap<>();\n+  // entries are never evicted\n{}",
                "+  // padding\n".repeat(1200)
            ),
        },
    ]
}

/// The fixture's telemetry.
pub fn telemetry() -> Telemetry {
    let (log_templates, logs) = logs();
    let (operations, spans) = spans();
    Telemetry {
        start_unix_ms: START_UNIX_MS,
        end_ms: END_MS,
        services: ["frontend", "checkout", "cart", "postgres", "catalog"]
            .into_iter()
            .map(str::to_owned)
            .collect(),
        metrics: metrics(),
        log_templates,
        logs,
        operations,
        spans,
        events: events(),
        deploys: deploys(),
        alert: Alert {
            t_ms: 200_000,
            name: "HighErrorRate".into(),
            service: "frontend".into(),
            severity: "page".into(),
            summary: "frontend 5xx ratio above 5% for 2 minutes".into(),
        },
    }
}

/// The first word in `text` that would tell an agent the incident was made on purpose
/// or what was done: `fault` (not inside `default`), `inject`, `chaos`, `ground_truth`,
/// or a fault kind's name.
pub fn leaked_word(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    let mut words: Vec<String> = ["inject", "chaos", "ground_truth", "groundtruth", "otrashi"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    for k in FaultKind::ALL {
        words.push(k.as_str().to_owned());
        words.push(k.short_name().to_owned());
    }
    if let Some(w) = words.into_iter().find(|w| lower.contains(w.as_str())) {
        return Some(w);
    }
    lower
        .match_indices("fault")
        .any(|(i, _)| !lower[..i].ends_with("de"))
        .then(|| "fault".to_owned())
}

/// A test-only scorer: 1.0 when the first root cause names the true component, else 0.
pub struct ExactScorer;

impl crate::scorer::Scorer for ExactScorer {
    fn parse(
        &self,
        value: &serde_json::Value,
    ) -> Result<(crate::report::RcaReport, Vec<String>), String> {
        serde_json::from_value(value.clone())
            .map(|r| (r, vec![]))
            .map_err(|e| e.to_string())
    }

    fn score(
        &self,
        report: &crate::report::RcaReport,
        truth: &otrashi_scenarios::GroundTruth,
        _topology: &Topology,
        _telemetry: &Telemetry,
        _stats: &crate::score::EpisodeStats,
    ) -> crate::score::Reward {
        let hit = report.root_causes.first().map(|c| c.component.as_str())
            == truth.root_causes.first().map(|c| c.component.as_str());
        let value = if hit { 1.0 } else { 0.0 };
        crate::score::Reward {
            total: value,
            components: vec![crate::score::RewardComponent {
                name: "localization".into(),
                value,
                weight: 1.0,
                reason: "exact match of the first root cause (test scorer)".into(),
            }],
        }
    }

    fn invalid_action_penalty(&self) -> f64 {
        0.01
    }
}

/// A test-only backend that "runs" an incident by returning the fixture telemetry.
#[derive(Default)]
pub struct FakeBackend {
    /// Telemetry to return instead of the fixture's.
    pub telemetry: Option<Telemetry>,
    /// Make `run` fail.
    pub fail_run: bool,
    /// Counts teardowns, to check they always happen.
    pub teardowns: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

struct FakeEnv {
    telemetry: Option<Telemetry>,
    fail_run: bool,
    teardowns: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

#[async_trait::async_trait]
impl crate::backend::Backend for FakeBackend {
    fn name(&self) -> &'static str {
        "fake"
    }

    async fn provision(
        &self,
        _incident: &otrashi_scenarios::Incident,
        _cx: &crate::context::EpisodeContext,
    ) -> Result<Box<dyn crate::backend::Env>, crate::backend::BackendError> {
        Ok(Box::new(FakeEnv {
            telemetry: self.telemetry.clone(),
            fail_run: self.fail_run,
            teardowns: self.teardowns.clone(),
        }))
    }
}

#[async_trait::async_trait]
impl crate::backend::Env for FakeEnv {
    async fn run(
        &mut self,
        _cx: &crate::context::EpisodeContext,
    ) -> Result<Telemetry, crate::backend::BackendError> {
        if self.fail_run {
            return Err(crate::backend::BackendError::Run {
                message: "load generator crashed".into(),
                source: None,
            });
        }
        Ok(self.telemetry.clone().unwrap_or_else(telemetry))
    }

    async fn teardown(
        &mut self,
        _cx: &crate::context::EpisodeContext,
    ) -> Result<(), crate::backend::BackendError> {
        self.teardowns
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

/// The same shop, but `cart`'s name stops resolving at 150 s: `checkout` fails with
/// `no such host` while `cart` itself looks healthy (and idle).
pub fn dns_telemetry() -> Telemetry {
    let mut t = telemetry();
    t.events.retain(|e| e.service != CART);
    t.deploys.retain(|d| d.service != CART);
    for m in t.metrics.iter_mut().filter(|m| m.service == CART) {
        let healthy = match m.name.as_str() {
            "http_request_duration_seconds" => Some(0.05),
            "container_memory_working_set_bytes" => Some(200e6),
            "up" => Some(1.0),
            "kube_pod_container_status_restarts_total" => Some(0.0),
            _ => None,
        };
        if let Some(v) = healthy {
            m.values.iter_mut().for_each(|x| *x = v);
        }
        if m.name == "http_requests_total" {
            // No errors and no restart: a plain climbing counter.
            let step = m.step_ms as f64 / 1000.0;
            let rate = if m.labels[0].1 == "5xx" { 0.0 } else { 50.0 };
            m.values = (0..m.values.len())
                .map(|i| (i + 1) as f64 * rate * step)
                .collect();
        }
    }
    let dns = t.log_templates.len() as u32;
    t.log_templates.push(LogTemplate {
        text: "level=error msg=\"upstream call failed\" peer={} err=\"dial tcp: lookup {} on 10.96.0.10:53: no such host\"".into(),
    });
    t.logs
        .retain(|r| !(r.service == CART && r.level >= LogLevel::Warn));
    for r in t
        .logs
        .iter_mut()
        .filter(|r| r.service == CHECKOUT && r.level == LogLevel::Error)
    {
        r.template = dns;
        r.args = vec!["cart".into(), "cart".into()];
    }
    t.spans
        .retain(|s| !(s.service == CART && s.status == SpanStatus::Error));
    for s in t
        .spans
        .iter_mut()
        .filter(|s| s.service == CHECKOUT && s.status == SpanStatus::Error)
    {
        s.error = Some("dial tcp: lookup cart on 10.96.0.10:53: no such host".into());
    }
    t
}
