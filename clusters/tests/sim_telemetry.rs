//! Properties of the simulator's telemetry as a whole: determinism, consistency between
//! modalities, noise and red herrings, the alert, the backend contract, and that nothing
//! gives the game away.

#![allow(clippy::unwrap_used)]

mod common;

use std::task::{Context, Poll, Waker};

use common::*;
use otrashi_clusters::{bench_incident, simulate, SimBackend};
use otrashi_gym::backend::{Backend, BackendError};
use otrashi_gym::context::EpisodeContext;
use otrashi_gym::telemetry::{MetricKind, SpanStatus, Telemetry};
use otrashi_scenarios::catalog::FaultKind;
use otrashi_scenarios::duration::Duration;
use otrashi_scenarios::incident::ConcreteRedHerring;
use otrashi_scenarios::model::{AlertSpec, NoiseLevel, RedHerringKind};

/// Runs a future that never waits on IO (the simulator's) to completion.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn noisy(kind: FaultKind, target: &str, via: Option<otrashi_scenarios::catalog::Via>) -> Telemetry {
    let mut inc = incident(shop(), vec![fault(kind, target, via, &[])], 19);
    inc.noise = NoiseLevel::High;
    inc.red_herrings = RedHerringKind::ALL
        .iter()
        .enumerate()
        .map(|(k, kind)| ConcreteRedHerring {
            kind: *kind,
            target: ["catalog", "ads", "payment", "checkout"][k].to_owned(),
            at: Duration::from_secs(150 + 40 * k as u64),
        })
        .collect();
    simulate(&inc)
}

#[test]
fn same_incident_same_bytes() {
    let inc = bench_incident(42);
    let a = serde_json::to_string(&simulate(&inc)).unwrap();
    let b = serde_json::to_string(&simulate(&inc)).unwrap();
    assert_eq!(a, b);
    let c = serde_json::to_string(&simulate(&bench_incident(43))).unwrap();
    assert_ne!(a, c, "the seed matters");
}

#[test]
fn nothing_reveals_the_injection() {
    for &kind in FaultKind::ALL {
        for &via in kind.def().vias {
            let target = if kind == FaultKind::PanicCrash {
                "payment"
            } else {
                "cart"
            };
            let t = noisy(kind, target, Some(via));
            let json = serde_json::to_string(&t).unwrap().to_lowercase();
            for word in ["fault", "inject", "chaos", "otrashi", kind.short_name()] {
                assert!(
                    !json.contains(word),
                    "{kind} via {via}: telemetry mentions `{word}`"
                );
            }
        }
    }
}

#[test]
fn every_template_gets_its_arguments_and_volume_stays_bounded() {
    for &kind in FaultKind::ALL {
        let t = noisy(kind, "cart", None);
        assert!(t.logs.len() < 5000, "{kind}: {} log records", t.logs.len());
        assert!(t.spans.len() < 20_000, "{kind}: {} spans", t.spans.len());
        for l in &t.logs {
            let tpl = &t.log_templates[l.template as usize];
            let holes = tpl.text.matches("{}").count();
            assert_eq!(holes, l.args.len(), "{kind}: template `{}`", tpl.text);
        }
    }
}

#[test]
fn records_are_sorted_and_inside_the_window() {
    let t = noisy(FaultKind::MemoryLeak, "cart", None);
    assert!(t.logs.windows(2).all(|w| w[0].t_ms <= w[1].t_ms));
    assert!(t.events.windows(2).all(|w| w[0].t_ms <= w[1].t_ms));
    assert!(t
        .spans
        .windows(2)
        .all(|w| (w[0].trace_id, w[0].start_us) <= (w[1].trace_id, w[1].start_us)));
    assert!(t.logs.iter().all(|l| l.t_ms < t.end_ms));
    assert!(t.events.iter().all(|e| e.t_ms < t.end_ms));
    for s in &t.metrics {
        assert!(
            s.labels.windows(2).all(|w| w[0].0 < w[1].0),
            "{} labels unsorted",
            s.name
        );
        assert_eq!(s.step_ms, 10_000);
        assert_eq!(s.values.len() as u64, t.end_ms / s.step_ms);
    }
    assert!(t.start_unix_ms >= 1_767_225_600_000);
}

#[test]
fn counters_only_fall_on_restarts() {
    let t = simulate(&incident(
        shop(),
        vec![fault(
            FaultKind::MemoryLeak,
            "cart",
            None,
            &[("rate_mb_per_min", 150.0)],
        )],
        4,
    ));
    for s in t.metrics.iter().filter(|s| s.kind == MetricKind::Counter) {
        let vals: Vec<f64> = s.values.iter().copied().filter(|v| v.is_finite()).collect();
        for w in vals.windows(2) {
            if w[1] < w[0] {
                assert!(
                    t.services[s.service as usize] == "cart"
                        && s.name != "kube_pod_container_status_restarts_total",
                    "{} on {} fell without a restart",
                    s.name,
                    t.services[s.service as usize]
                );
            }
        }
    }
}

#[test]
fn error_spans_only_where_metrics_count_errors() {
    for kind in [
        FaultKind::ErrorInjection,
        FaultKind::ProcessFreeze,
        FaultKind::DnsFailure,
        FaultKind::MemoryLeak,
    ] {
        let t = simulate(&incident(shop(), vec![fault(kind, "cart", None, &[])], 8));
        let v = View::new(&t);
        let mut checked = 0;
        for s in t.spans.iter().filter(|s| s.status == SpanStatus::Error) {
            let svc = t.service_name(s.service).to_owned();
            let from = (s.start_us / 1_000_000 / 10) * 10;
            let (a, b) = (from.saturating_sub(10), from + 30);
            let op = &t.operations[s.operation as usize];
            if let Some(peer) = op.strip_prefix("call ") {
                let bad = v.rate(
                    "http_client_requests_total",
                    &svc,
                    &[("peer", peer), ("outcome", "error")],
                    a,
                    b,
                ) + v.rate(
                    "http_client_requests_total",
                    &svc,
                    &[("peer", peer), ("outcome", "timeout")],
                    a,
                    b,
                );
                assert!(
                    bad > 0.0,
                    "{kind}: failed call {svc}->{peer} at {}s without failed calls in metrics",
                    s.start_us / 1_000_000
                );
            } else {
                let e = v.rate("http_requests_total", &svc, &[("code", "5xx")], a, b);
                assert!(
                    e > 0.0,
                    "{kind}: error span on {svc} at {}s without 5xx",
                    s.start_us / 1_000_000
                );
            }
            checked += 1;
        }
        if kind == FaultKind::MemoryLeak {
            assert_eq!(checked, 0, "a leak below the limit fails nothing");
        } else {
            assert!(checked > 50, "{kind}: only {checked} error spans");
        }
        // Before the fault nothing fails.
        assert!(t
            .spans
            .iter()
            .filter(|s| s.start_us < AT_S * 1_000_000)
            .all(|s| s.status == SpanStatus::Ok));
    }
}

#[test]
fn traces_follow_the_call_graph() {
    let t = simulate(&incident(shop(), vec![], 1));
    let v = View::new(&t);
    let frontend = v.id("frontend");
    let topo = shop();
    let roots: Vec<_> = t.spans.iter().filter(|s| s.parent_id.is_none()).collect();
    assert!(roots.len() > 600, "{} traces", roots.len());
    assert!(roots.iter().all(|s| s.service == frontend));
    for s in t.spans.iter().filter(|s| s.parent_id.is_some()) {
        let parent = t
            .spans
            .iter()
            .find(|p| p.trace_id == s.trace_id && Some(p.span_id) == s.parent_id)
            .expect("parent span exists");
        let caller = &t.services[parent.service as usize];
        let callee = &t.services[s.service as usize];
        let calls = &topo
            .services
            .iter()
            .find(|x| &x.name == caller)
            .unwrap()
            .calls;
        assert!(calls.contains(callee), "{caller} does not call {callee}");
        assert!(s.start_us >= parent.start_us);
    }
}

#[test]
fn red_herrings_do_not_move_their_services_metrics() {
    let t = noisy(FaultKind::ErrorInjection, "cart", None);
    let v = View::new(&t);
    // The unrelated deploy on catalog at 150 s: a real diff, no change in its health.
    let d = &v.deploys_of("catalog")[0];
    assert!(d.diff.contains("\n-") || d.diff.contains("\n+"));
    assert!(v.error_ratio("catalog", 160, END_S) < 0.01);
    assert!(v.p99("catalog", 160, END_S) < 1.5 * v.p99("catalog", BASE.0, 150) + 0.005);
    // The noisy neighbour on ads at 190 s: container CPU up, process CPU and latency not.
    let c0 = v.rate("container_cpu_usage_seconds_total", "ads", &[], 30, 180);
    let c1 = v.rate("container_cpu_usage_seconds_total", "ads", &[], 200, 330);
    let p0 = v.rate("process_cpu_seconds_total", "ads", &[], 30, 180);
    let p1 = v.rate("process_cpu_seconds_total", "ads", &[], 200, 330);
    assert!(c1 > c0 + 0.2, "neighbour cpu {c0} -> {c1}");
    assert!(p1 < 1.3 * p0);
    assert!(
        v.rate(
            "container_cpu_cfs_throttled_periods_total",
            "ads",
            &[],
            200,
            330
        ) < 0.5
    );
    // The flapping alert on payment: warnings that fire and clear, no restarts.
    assert!(v.events("payment", "Unhealthy").len() >= 2);
    assert!(v.logs_contain("payment", 230, 400, "back to normal"));
    assert_eq!(
        v.max(
            "kube_pod_container_status_restarts_total",
            "payment",
            &[],
            0,
            END_S
        ),
        0.0
    );
    // Benign errors on checkout: 4xx and scary lines, no 5xx of its own making.
    let c4 = v.rate(
        "http_requests_total",
        "checkout",
        &[("code", "4xx")],
        270,
        420,
    );
    assert!(c4 > 1.0, "4xx rate {c4}");
    assert!(v.logs_contain("checkout", 270, 420, "ValidationError"));
}

#[test]
fn periodic_job_and_benign_warnings_appear_without_faults() {
    let mut inc = incident(shop(), vec![], 6);
    inc.noise = NoiseLevel::Normal;
    let t = simulate(&inc);
    let cron = t
        .logs
        .iter()
        .filter(|l| {
            t.log_templates[l.template as usize]
                .text
                .starts_with("cron: job")
        })
        .count();
    assert!(cron >= 2, "cron lines {cron}");
    let warns = t
        .logs
        .iter()
        .filter(|l| l.level == otrashi_gym::telemetry::LogLevel::Warn)
        .count();
    assert!(warns > 10, "benign warnings {warns}");
}

#[test]
fn auto_alert_pages_on_the_entry_without_naming_the_cause() {
    let t = simulate(&incident(
        shop(),
        vec![fault(FaultKind::ErrorInjection, "cart", None, &[])],
        9,
    ));
    assert_eq!(t.alert.name, "HighErrorRate");
    assert_eq!(t.alert.service, "frontend");
    assert_eq!(t.alert.severity, "page");
    assert!(
        t.alert.t_ms >= (AT_S + 30) * 1000 && t.alert.t_ms <= (AT_S + 90) * 1000,
        "{}",
        t.alert.t_ms
    );
    assert!(!t.alert.summary.contains("cart"));
    let t = simulate(&incident(
        shop(),
        vec![fault(
            FaultKind::SlowHandler,
            "cart",
            None,
            &[("delay_ms", 900.0)],
        )],
        9,
    ));
    assert_eq!(t.alert.name, "HighLatencyP99");
}

#[test]
fn fixed_alert_is_passed_through() {
    let mut inc = incident(
        chain(),
        vec![fault(FaultKind::HotLoop, "orders", None, &[])],
        2,
    );
    inc.alert = AlertSpec::Fixed {
        service: "gateway".into(),
        summary: "checkout is slow for customers".into(),
    };
    let t = simulate(&inc);
    assert_eq!(t.alert.service, "gateway");
    assert_eq!(t.alert.summary, "checkout is slow for customers");
}

#[test]
fn backend_runs_checks_and_tears_down_idempotently() {
    let backend = SimBackend::new();
    assert_eq!(backend.name(), "sim");
    let inc = bench_incident(5);
    backend.check(&inc).unwrap();
    let cx = EpisodeContext::new("ep-test", 5);
    let mut env = block_on(backend.provision(&inc, &cx)).unwrap();
    let t = block_on(env.run(&cx)).unwrap();
    assert_eq!(t, simulate(&inc));
    block_on(env.teardown(&cx)).unwrap();
    block_on(env.teardown(&cx)).unwrap();
    assert!(matches!(
        block_on(env.run(&cx)),
        Err(BackendError::Run { .. })
    ));
    let cancelled = EpisodeContext::new("ep-cancelled", 5);
    cancelled.cancel.cancel();
    let mut env = block_on(backend.provision(&inc, &cx)).unwrap();
    assert!(matches!(
        block_on(env.run(&cancelled)),
        Err(BackendError::Cancelled)
    ));
    assert!(matches!(
        block_on(backend.provision(&inc, &cancelled)),
        Err(BackendError::Cancelled)
    ));
}

#[test]
fn backend_rejects_a_call_cycle() {
    let mut topo = chain();
    topo.services[2].calls.push("gateway".into());
    let inc = incident(topo, vec![], 1);
    let cx = EpisodeContext::new("ep-cycle", 1);
    let err = block_on(SimBackend.provision(&inc, &cx))
        .err()
        .expect("a cycle is refused");
    assert!(err.to_string().contains("cycle"));
}

#[test]
fn bench_incident_is_ten_services_over_ten_minutes() {
    let inc = bench_incident(1);
    assert_eq!(inc.topology.services.len(), 10);
    assert_eq!(inc.timeline.end(), Duration::from_secs(600));
    let t = simulate(&inc);
    assert_eq!(t.services.len(), 10);
    assert_eq!(t.end_ms, 600_000);
    assert!(!t.deploys.is_empty() && !t.spans.is_empty() && !t.logs.is_empty());
}

#[test]
fn every_kind_runs_on_every_kind_of_service() {
    for &kind in FaultKind::ALL {
        for target in ["frontend", "checkout", "postgres", "redis", "ads"] {
            let t = simulate(&incident(shop(), vec![fault(kind, target, None, &[])], 23));
            for s in &t.metrics {
                assert!(
                    s.values
                        .iter()
                        .all(|v| v.is_nan() || (v.is_finite() && *v >= 0.0)),
                    "{kind} on {target}: {} on {} has {:?}",
                    s.name,
                    t.services[s.service as usize],
                    s.values
                        .iter()
                        .find(|v| !v.is_nan() && (!v.is_finite() || **v < 0.0))
                );
            }
            for l in &t.logs {
                let tpl = &t.log_templates[l.template as usize];
                assert_eq!(tpl.text.matches("{}").count(), l.args.len(), "{}", tpl.text);
            }
            assert!(!t.alert.summary.is_empty());
            assert!(t.spans.iter().all(|s| s.duration_us > 0));
        }
    }
}

#[test]
fn an_empty_topology_gives_empty_telemetry() {
    let mut topo = chain();
    topo.services.clear();
    let t = simulate(&incident(topo, vec![], 1));
    assert!(t.metrics.is_empty() && t.logs.is_empty() && t.services.is_empty());
    assert_eq!(t.end_ms, END_S * 1000);
}

#[test]
fn logs_point_at_traces_through_their_service() {
    let t = simulate(&incident(
        shop(),
        vec![fault(FaultKind::ErrorInjection, "cart", None, &[])],
        12,
    ));
    let traced: Vec<_> = t.logs.iter().filter(|l| l.trace_id.is_some()).collect();
    assert!(traced.len() > 200, "{} traced lines", traced.len());
    let mut failed_links = 0;
    for l in traced {
        let spans: Vec<_> = t
            .spans
            .iter()
            .filter(|s| Some(s.trace_id) == l.trace_id && s.service == l.service)
            .collect();
        assert!(
            !spans.is_empty(),
            "log line points at a trace that never reached its service"
        );
        if l.level >= otrashi_gym::telemetry::LogLevel::Error {
            assert!(spans.iter().any(|s| s.status == SpanStatus::Error));
            failed_links += 1;
        } else {
            assert!(spans.iter().any(|s| s.status == SpanStatus::Ok));
        }
    }
    assert!(
        failed_links > 50,
        "{failed_links} error lines linked to failed traces"
    );
}

/// A random acyclic topology: service `k` may only call services after it.
fn random_incident(seed: u64) -> otrashi_scenarios::incident::Incident {
    use otrashi_scenarios::model::{Runtime, ServiceKind};
    use otrashi_scenarios::rng::Rng;
    let mut r = Rng::new(seed);
    let n = 2 + r.below(10);
    let mut services = Vec::new();
    for k in 0..n {
        let kind = if k == 0 {
            ServiceKind::Web
        } else {
            *r.pick(&ServiceKind::ALL)
        };
        let runtime = if kind.runs_own_code() {
            *r.pick(&Runtime::ALL[..5])
        } else {
            Runtime::Native
        };
        let calls: Vec<String> = if kind.runs_own_code() {
            (k + 1..n)
                .filter(|_| r.chance(0.4))
                .map(|c| format!("s{c}"))
                .collect()
        } else {
            vec![]
        };
        let calls: Vec<&str> = calls.iter().map(String::as_str).collect();
        let mut s = svc(
            &format!("s{k}"),
            kind,
            runtime,
            &calls,
            1 + r.below(3) as u32,
        );
        s.cpu_cores = r.uniform(0.1, 4.0);
        s.memory_mb = r.uniform(64.0, 4096.0);
        s.latency_ms = r.uniform(0.5, 80.0);
        s.pool_size = 1 + r.below(50) as u32;
        services.push(s);
    }
    let topo = otrashi_scenarios::model::Topology {
        name: "random".into(),
        description: String::new(),
        entry: "s0".into(),
        services,
    };
    let kind = *r.pick(FaultKind::ALL);
    let target = format!("s{}", r.below(n));
    let mut f = fault(kind, &target, None, &[]);
    f.at = Duration::from_secs(120 + r.below(300) as u64);
    f.until = Duration::from_secs((f.at.as_secs() + 30 + r.below(400) as u64).min(END_S));
    let mut inc = incident(topo, vec![f], seed);
    inc.load.rps = r.uniform(0.5, 400.0);
    inc.load.pattern = *r.pick(&otrashi_scenarios::model::LoadPattern::ALL);
    inc
}

#[test]
fn random_topologies_and_faults_give_well_formed_telemetry() {
    for seed in 0..60 {
        let inc = random_incident(seed);
        let t = simulate(&inc);
        for s in &t.metrics {
            assert!(
                s.values
                    .iter()
                    .all(|v| v.is_nan() || (v.is_finite() && *v >= 0.0)),
                "seed {seed}: {} has a bad value",
                s.name
            );
        }
        assert!(t.logs.len() < 8000, "seed {seed}: {} logs", t.logs.len());
        assert!(t
            .spans
            .iter()
            .all(|s| s.duration_us > 0 && (s.service as usize) < t.services.len()));
        assert!(t.events.iter().all(|e| e.t_ms < t.end_ms));
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            serde_json::to_string(&simulate(&inc)).unwrap()
        );
    }
}
