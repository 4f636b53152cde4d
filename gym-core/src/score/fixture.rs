//! A hand-built incident for the scorer's tests: a memory leak shipped to `cart` in an
//! eight-service shop, with a red-herring deploy on `catalog`.

use std::collections::BTreeMap;

use otrashi_scenarios::catalog::{FaultKind, Via};
use otrashi_scenarios::duration::Duration;
use otrashi_scenarios::incident::{ConcreteFault, GroundTruth, Incident};
use otrashi_scenarios::model::{
    AlertSpec, Load, LoadPattern, NoiseLevel, Runtime, Service, ServiceKind, Timeline, Topology,
};

use crate::report::{Evidence, RcaReport, RootCause};
use crate::score::EpisodeStats;
use crate::telemetry::{
    Alert, Deploy, Event, EventType, LogLevel, LogRecord, LogTemplate, MetricKind, MetricSeries,
    Span, SpanStatus, Telemetry,
};

fn svc(name: &str, kind: ServiceKind, calls: &[&str]) -> Service {
    Service {
        name: name.to_owned(),
        kind,
        runtime: if kind.runs_own_code() {
            Runtime::Java
        } else {
            Runtime::Native
        },
        calls: calls.iter().map(|c| (*c).to_owned()).collect(),
        replicas: 1,
        cpu_cores: 1.0,
        memory_mb: 512.0,
        latency_ms: 5.0,
        pool_size: 10,
        engine: None,
    }
}

/// frontend → cart, catalog, checkout; checkout → cart, payment, email;
/// cart → redis; catalog, payment → postgres.
pub(crate) fn shop() -> Topology {
    use ServiceKind::{Api, Cache, Database, Web, Worker};
    Topology {
        name: "shop".to_owned(),
        description: String::new(),
        entry: "frontend".to_owned(),
        services: vec![
            svc("frontend", Web, &["cart", "catalog", "checkout"]),
            svc("cart", Api, &["redis"]),
            svc("catalog", Api, &["postgres"]),
            svc("checkout", Api, &["cart", "payment", "email"]),
            svc("payment", Api, &["postgres"]),
            svc("email", Worker, &[]),
            svc("redis", Cache, &[]),
            svc("postgres", Database, &[]),
        ],
    }
}

/// An incident with the given faults (kind, target) on the shop.
pub(crate) fn truth_of(faults: &[(FaultKind, &str)]) -> GroundTruth {
    let incident = Incident {
        scenario: "test".to_owned(),
        scenario_digest: "0".to_owned(),
        seed: 7,
        topology: shop(),
        load: Load {
            rps: 50.0,
            pattern: LoadPattern::Steady,
        },
        timeline: Timeline {
            warmup: Duration::from_secs(60),
            duration: Duration::from_secs(300),
        },
        faults: faults
            .iter()
            .enumerate()
            .map(|(i, (kind, target))| ConcreteFault {
                id: format!("f{i}"),
                kind: *kind,
                target: (*target).to_owned(),
                at: Duration::from_secs(90),
                until: Duration::from_secs(360),
                via: Via::Deploy,
                params: BTreeMap::new(),
            })
            .collect(),
        noise: NoiseLevel::Normal,
        red_herrings: Vec::new(),
        alert: AlertSpec::Auto,
    };
    GroundTruth::derive(&incident)
}

/// The memory leak on `cart`.
pub(crate) fn leak_truth() -> GroundTruth {
    truth_of(&[(FaultKind::MemoryLeak, "cart")])
}

fn series(name: &str, service: u16, values: &[f64]) -> MetricSeries {
    MetricSeries {
        name: name.to_owned(),
        service,
        labels: Vec::new(),
        kind: MetricKind::Gauge,
        unit: "bytes".to_owned(),
        start_ms: 0,
        step_ms: 15_000,
        values: values.to_vec(),
    }
}

fn span(trace_id: u64, span_id: u64, service: u16, duration_us: u64, ok: bool) -> Span {
    Span {
        trace_id,
        span_id,
        parent_id: (span_id > 1).then_some(1),
        service,
        operation: 0,
        start_us: 100_000_000,
        duration_us,
        status: if ok {
            SpanStatus::Ok
        } else {
            SpanStatus::Error
        },
        http_status: if ok { 200 } else { 503 },
        error: (!ok).then(|| "OutOfMemoryError".to_owned()),
    }
}

/// What the agent could see in the leak incident.
pub(crate) fn leak_telemetry() -> Telemetry {
    let services: Vec<String> = shop().names().map(str::to_owned).collect();
    let id = |n: &str| services.iter().position(|s| s == n).unwrap_or(0) as u16;
    let (frontend, cart, catalog, checkout) =
        (id("frontend"), id("cart"), id("catalog"), id("checkout"));
    // 25 scrapes, every 15 s; the leak starts at 90 s (scrape 6).
    let flat: Vec<f64> = (0..25).map(|i| 0.05 + 0.001 * f64::from(i % 3)).collect();
    let growing: Vec<f64> = (0..25)
        .map(|i| 2e8 + 2e7 * f64::from(i.max(6) - 6) + 1e5 * f64::from(i % 2))
        .collect();
    let mut metrics: Vec<MetricSeries> = (0..services.len() as u16)
        .map(|s| series("http_request_duration_seconds", s, &flat))
        .collect();
    metrics.push(series("container_memory_working_set_bytes", cart, &growing));
    metrics.push(series("process_resident_memory_bytes", cart, &growing));
    metrics.push(series("jvm_threads_live", cart, &flat));
    let log = |t_ms, service, level, template, args: &[&str]| LogRecord {
        t_ms,
        service,
        level,
        template,
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        trace_id: None,
    };
    Telemetry {
        start_unix_ms: 1_700_000_000_000,
        end_ms: 360_000,
        services: services.clone(),
        metrics,
        log_templates: vec![
            LogTemplate {
                text: "java.lang.OutOfMemoryError: Java heap space".to_owned(),
            },
            LogTemplate {
                text: "GET {} -> {} in {} ms".to_owned(),
            },
            LogTemplate {
                text: "upstream {} returned {}".to_owned(),
            },
        ],
        logs: vec![
            log(
                100_000,
                frontend,
                LogLevel::Info,
                1,
                &["/api/cart", "200", "12"],
            ),
            log(200_000, cart, LogLevel::Error, 0, &[]),
            log(201_000, checkout, LogLevel::Warn, 2, &["cart", "503"]),
        ],
        operations: vec!["GET /api/cart".to_owned()],
        spans: vec![
            span(0xabc, 1, frontend, 900_000, false),
            span(0xabc, 2, cart, 850_000, false),
            span(0xdef, 1, frontend, 20_000, true),
            span(0xdef, 2, catalog, 10_000, true),
        ],
        events: vec![
            Event {
                t_ms: 250_000,
                service: cart,
                event_type: EventType::Warning,
                reason: "OOMKilled".to_owned(),
                message: "container cart was OOM killed".to_owned(),
            },
            Event {
                t_ms: 120_000,
                service: catalog,
                event_type: EventType::Normal,
                reason: "ScalingReplicaSet".to_owned(),
                message: "scaled up replica set catalog to 2".to_owned(),
            },
        ],
        deploys: vec![
            Deploy {
                id: "deploy-7f3a9c1".to_owned(),
                t_ms: 90_000,
                service: cart,
                from_version: "1.4.0".to_owned(),
                to_version: "1.5.0".to_owned(),
                commit: "7f3a9c1d2e".to_owned(),
                author: "dev".to_owned(),
                title: "cache cart sessions in memory".to_owned(),
                diff: "+ sessions.put(id, cart)".to_owned(),
            },
            Deploy {
                id: "deploy-1b2c3d4".to_owned(),
                t_ms: 95_000,
                service: catalog,
                from_version: "2.0.0".to_owned(),
                to_version: "2.0.1".to_owned(),
                commit: "1b2c3d4e5f".to_owned(),
                author: "dev".to_owned(),
                title: "bump logging library".to_owned(),
                diff: "- log4j 2.17\n+ log4j 2.18".to_owned(),
            },
        ],
        alert: Alert {
            t_ms: 260_000,
            name: "HighErrorRate".to_owned(),
            service: "frontend".to_owned(),
            severity: "page".to_owned(),
            summary: "5xx ratio above 5% on frontend".to_owned(),
        },
    }
}

/// An efficient episode: 6 steps of 30, 60 s of 600.
pub(crate) fn quick() -> EpisodeStats {
    EpisodeStats {
        steps: 6,
        max_steps: 30,
        elapsed_s: 60.0,
        time_budget_s: 600.0,
        invalid_actions: 0,
    }
}

/// A citation.
pub(crate) fn ev(kind: &str, service: &str, signal: &str) -> Evidence {
    Evidence {
        kind: kind.to_owned(),
        service: Some(service.to_owned()),
        signal: signal.to_owned(),
        note: String::new(),
    }
}

/// A root cause with a kind and a confidence.
pub(crate) fn cause(component: &str, fault: &str, confidence: f64) -> RootCause {
    RootCause {
        component: component.to_owned(),
        fault: Some(fault.to_owned()),
        level: None,
        confidence: Some(confidence),
        evidence: Vec::new(),
        explanation: String::new(),
    }
}

/// The right answer, confidently, with evidence that exists and points at the truth.
pub(crate) fn perfect() -> RcaReport {
    let mut rc = cause("cart", "code.memory_leak", 1.0);
    rc.level = Some("code".to_owned());
    rc.evidence = vec![
        ev("deploy", "cart", "deploy-7f3a9c1"),
        ev("metric", "cart", "process_resident_memory_bytes"),
        ev("event", "cart", "OOMKilled"),
    ];
    RcaReport {
        root_causes: vec![rc],
        affected: vec!["frontend".to_owned(), "checkout".to_owned()],
        remediation: vec!["roll back deploy-7f3a9c1".to_owned()],
        summary: "a leak shipped in cart 1.5.0".to_owned(),
    }
}
