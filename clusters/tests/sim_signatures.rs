//! Pins what each fault kind looks like in the simulator's telemetry: the signals a
//! person on call would use to tell it apart, per the catalog's signature.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use otrashi_clusters::simulate;
use otrashi_gym::telemetry::{EventType, LogLevel, SpanStatus, Telemetry};
use otrashi_scenarios::catalog::{FaultKind, Via};

fn run(kind: FaultKind, target: &str, params: &[(&str, f64)]) -> Telemetry {
    simulate(&incident(
        shop(),
        vec![fault(kind, target, None, params)],
        11,
    ))
}

fn run_via(kind: FaultKind, target: &str, via: Via, params: &[(&str, f64)]) -> Telemetry {
    simulate(&incident(
        shop(),
        vec![fault(kind, target, Some(via), params)],
        11,
    ))
}

/// Services of the shop that do not call cart, directly or transitively, and that cart
/// does not overload: they must look exactly as before.
const NOT_UPSTREAM_OF_CART: [&str; 3] = ["catalog", "ads", "payment"];

fn assert_unaffected(v: &View<'_>, services: &[&str]) {
    for s in services {
        let err = v.error_ratio(s, HOT.0, HOT.1);
        assert!(err < 0.01, "{s} error ratio {err}");
        let (b, h) = (v.p99(s, BASE.0, BASE.1), v.p99(s, HOT.0, HOT.1));
        assert!(h < b * 1.5 + 0.005, "{s} p99 {b} -> {h}");
    }
}

fn any_log(v: &View<'_>, services: &[&str], needles: &[&str]) -> bool {
    services
        .iter()
        .any(|s| needles.iter().any(|n| v.logs_contain(s, AT_S, END_S, n)))
}

fn reasons_after(v: &View<'_>, svc: &str, reason: &str, from_s: u64) -> usize {
    v.events(svc, reason)
        .iter()
        .filter(|e| e.t_ms >= from_s * 1000)
        .count()
}

#[test]
fn healthy_baseline_has_no_errors_and_stable_latency() {
    let t = simulate(&incident(shop(), vec![], 3));
    let v = View::new(&t);
    for s in t.services.iter() {
        let err = v.error_ratio(s, 0, END_S);
        assert!(err < 0.005, "{s} error ratio {err}");
        let p99 = v.series("http_request_duration_seconds", s, &[("quantile", "0.99")]);
        let vals: Vec<f64> = p99
            .values
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .collect();
        let (lo, hi) = vals
            .iter()
            .fold((f64::MAX, 0.0f64), |(a, b), x| (a.min(*x), b.max(*x)));
        assert!(hi < lo * 2.0 + 0.005, "{s} p99 ranges {lo}..{hi}");
        assert_eq!(
            v.max("kube_pod_container_status_restarts_total", s, &[], 0, END_S),
            0.0
        );
    }
    assert!(t.deploys.is_empty());
    assert!(!t.events.iter().any(|e| e.event_type == EventType::Warning));
    assert_eq!(t.alert.severity, "ticket");
}

#[test]
fn cpu_saturation_pins_container_cpu_while_process_cpu_stays_normal() {
    let t = run(FaultKind::CpuSaturation, "cart", &[("load_pct", 90.0)]);
    let v = View::new(&t);
    let quota = v.mean("container_spec_cpu_quota", "cart", &[], HOT.0, HOT.1);
    let container = v.rate(
        "container_cpu_usage_seconds_total",
        "cart",
        &[],
        HOT.0,
        HOT.1,
    );
    assert!(
        container > 0.9 * quota,
        "container cpu {container} of {quota}"
    );
    let proc_base = v.rate("process_cpu_seconds_total", "cart", &[], BASE.0, BASE.1);
    let proc_hot = v.rate("process_cpu_seconds_total", "cart", &[], HOT.0, HOT.1);
    assert!(
        proc_hot < proc_base * 1.5,
        "process cpu {proc_base} -> {proc_hot}"
    );
    assert!(v.p99("cart", HOT.0, HOT.1) > 3.0 * v.p99("cart", BASE.0, BASE.1));
    assert!(t.deploys.is_empty() && v.events("cart", "ConfigChanged").is_empty());
    assert_unaffected(&v, &NOT_UPSTREAM_OF_CART);
}

#[test]
fn memory_pressure_fills_the_working_set_and_stalls_in_gc() {
    let t = run(FaultKind::MemoryPressure, "cart", &[("fill_pct", 92.0)]);
    let v = View::new(&t);
    let limit = v.max(
        "container_spec_memory_limit_bytes",
        "cart",
        &[],
        AT_S + 10,
        END_S,
    );
    let ws = v.mean(
        "container_memory_working_set_bytes",
        "cart",
        &[],
        HOT.0,
        HOT.1,
    );
    assert!(ws > 0.85 * limit, "working set {ws} of {limit}");
    let rss = v.mean("process_resident_memory_bytes", "cart", &[], HOT.0, HOT.1);
    assert!(rss < 0.7 * limit, "the process itself did not grow: {rss}");
    assert!(v.logs_contain("cart", AT_S, END_S, "GC pause"));
    assert!(v.p99("cart", HOT.0, HOT.1) > 2.0 * v.p99("cart", BASE.0, BASE.1));
}

#[test]
fn disk_full_fails_writes_with_enospc() {
    let t = run(FaultKind::DiskFull, "cart", &[]);
    let v = View::new(&t);
    let base = v.mean("container_fs_usage_bytes", "cart", &[], BASE.0, BASE.1);
    let full = v.max("container_fs_usage_bytes", "cart", &[], HOT.0, HOT.1);
    assert!(full > 1.6 * base, "fs usage {base} -> {full}");
    assert!(v.logs_contain("cart", AT_S, END_S, "No space left on device"));
    let err = v.error_ratio("cart", HOT.0, HOT.1);
    assert!(err > 0.1 && err < 0.6, "only writes fail: {err}");
}

#[test]
fn disk_slow_raises_io_time_and_latency_with_idle_cpu() {
    let t = run(FaultKind::DiskSlow, "cart", &[("latency_ms", 300.0)]);
    let v = View::new(&t);
    let io_base = v.rate(
        "node_disk_io_time_seconds_total",
        "cart",
        &[],
        BASE.0,
        BASE.1,
    );
    let io_hot = v.rate("node_disk_io_time_seconds_total", "cart", &[], HOT.0, HOT.1);
    assert!(io_hot > 3.0 * io_base, "io time {io_base} -> {io_hot}");
    assert!(v.logs_contain("cart", AT_S, END_S, "slow fsync"));
    assert!(v.p99("cart", HOT.0, HOT.1) > 0.2);
    let cpu_base = v.rate("process_cpu_seconds_total", "cart", &[], BASE.0, BASE.1);
    let cpu_hot = v.rate("process_cpu_seconds_total", "cart", &[], HOT.0, HOT.1);
    assert!(
        cpu_hot < 1.3 * cpu_base,
        "cpu stays idle: {cpu_base} -> {cpu_hot}"
    );
}

#[test]
fn network_delay_slows_calls_into_the_target_not_its_handler() {
    let t = run(
        FaultKind::NetworkDelay,
        "cart",
        &[("delay_ms", 200.0), ("jitter_ms", 10.0)],
    );
    let v = View::new(&t);
    let q = [("peer", "cart"), ("quantile", "0.5")];
    let base = v.mean(
        "http_client_request_duration_seconds",
        "frontend",
        &q,
        BASE.0,
        BASE.1,
    );
    let hot = v.mean(
        "http_client_request_duration_seconds",
        "frontend",
        &q,
        HOT.0,
        HOT.1,
    );
    assert!(hot > base + 0.15, "client-side p50 {base} -> {hot}");
    let (b, h) = (v.p99("cart", BASE.0, BASE.1), v.p99("cart", HOT.0, HOT.1));
    assert!(
        h < 1.5 * b + 0.005,
        "cart's own handler time unchanged: {b} -> {h}"
    );
    assert_unaffected(&v, &NOT_UPSTREAM_OF_CART);
}

#[test]
fn network_loss_shows_retransmits_and_resets_in_callers() {
    let t = run(FaultKind::NetworkLoss, "cart", &[("loss_pct", 8.0)]);
    let v = View::new(&t);
    let base = v.rate("node_netstat_tcp_retrans_segs", "cart", &[], BASE.0, BASE.1);
    let hot = v.rate("node_netstat_tcp_retrans_segs", "cart", &[], HOT.0, HOT.1);
    assert!(hot > 10.0 * base, "retransmits {base} -> {hot}");
    assert!(any_log(&v, &["frontend", "checkout"], &["reset"]));
    let errors = v.rate(
        "http_client_requests_total",
        "frontend",
        &[("peer", "cart"), ("outcome", "error")],
        HOT.0,
        HOT.1,
    );
    assert!(errors > 0.0);
    let p50 = v.mean(
        "http_client_request_duration_seconds",
        "frontend",
        &[("peer", "cart"), ("quantile", "0.5")],
        HOT.0,
        HOT.1,
    );
    let p99 = v.mean(
        "http_client_request_duration_seconds",
        "frontend",
        &[("peer", "cart"), ("quantile", "0.99")],
        HOT.0,
        HOT.1,
    );
    assert!(p99 > 5.0 * p50, "long tail: p50 {p50} p99 {p99}");
}

#[test]
fn network_partition_times_out_callers_while_the_target_idles_healthy() {
    let t = run(FaultKind::NetworkPartition, "cart", &[]);
    let v = View::new(&t);
    assert!(v.req_rate("cart", HOT.0, HOT.1) < 0.5);
    assert_eq!(v.nans("up", "cart", &[], 0, END_S), 0);
    assert!(v.mean("up", "cart", &[], HOT.0, HOT.1) > 0.99);
    assert!(any_log(
        &v,
        &["frontend", "checkout"],
        &["connect timeout", "ETIMEDOUT"]
    ));
    let to = v.rate(
        "http_client_requests_total",
        "frontend",
        &[("peer", "cart"), ("outcome", "timeout")],
        HOT.0,
        HOT.1,
    );
    assert!(to > 10.0, "timeouts {to}");
    assert!(!v
        .logs("cart", AT_S, END_S)
        .iter()
        .any(|(l, _)| *l >= LogLevel::Error));
}

#[test]
fn bandwidth_limit_flattens_transmit_at_the_cap() {
    let t = run(FaultKind::BandwidthLimit, "cart", &[("rate_kbit", 512.0)]);
    let v = View::new(&t);
    let cap = 512.0 * 125.0;
    let hot = v.rate(
        "container_network_transmit_bytes_total",
        "cart",
        &[],
        HOT.0,
        HOT.1,
    );
    let base = v.rate(
        "container_network_transmit_bytes_total",
        "cart",
        &[],
        BASE.0,
        BASE.1,
    );
    assert!(hot <= cap * 1.05, "tx {hot} over cap {cap}");
    assert!(base > 2.0 * cap, "baseline {base} was above the cap");
    assert!(v.p99("frontend", HOT.0, HOT.1) > 1.0);
}

#[test]
fn dns_failure_shows_resolution_errors_in_callers_and_starves_the_target() {
    let t = run(FaultKind::DnsFailure, "cart", &[]);
    let v = View::new(&t);
    assert!(v.logs_contain("frontend", AT_S, END_S, "getaddrinfo ENOTFOUND cart"));
    assert!(v.logs_contain("checkout", AT_S, END_S, "no such host"));
    let (b, h) = (
        v.req_rate("cart", BASE.0, BASE.1),
        v.req_rate("cart", HOT.0, HOT.1),
    );
    assert!(h < 0.1 * b, "cart traffic {b} -> {h}");
    assert!(
        v.mean("up", "cart", &[], HOT.0, HOT.1) > 0.99,
        "cart stays healthy"
    );
    assert!(!v
        .logs("cart", AT_S, END_S)
        .iter()
        .any(|(l, _)| *l >= LogLevel::Error));
    assert!(
        v.events("cart", "ConfigChanged").is_empty(),
        "direct: no config event"
    );
}

#[test]
fn process_freeze_loses_scrapes_without_restarts_or_own_errors() {
    let t = run(FaultKind::ProcessFreeze, "cart", &[]);
    let v = View::new(&t);
    assert!(
        v.nans(
            "http_requests_total",
            "cart",
            &[("code", "2xx")],
            HOT.0,
            HOT.1
        ) > 30
    );
    assert_eq!(v.max("up", "cart", &[], HOT.0, HOT.1), 0.0);
    assert_eq!(reasons_after(&v, "cart", "Started", AT_S), 0);
    assert_eq!(reasons_after(&v, "cart", "Killing", AT_S), 0);
    assert_eq!(
        v.max(
            "kube_pod_container_status_restarts_total",
            "cart",
            &[],
            0,
            END_S
        ),
        0.0
    );
    assert!(
        v.logs("cart", AT_S + 1, END_S).is_empty(),
        "a frozen process writes nothing"
    );
    assert!(any_log(
        &v,
        &["frontend", "checkout"],
        &["upstream timeout"]
    ));
}

#[test]
fn crash_loop_restarts_with_back_off_and_a_fatal_line_each_start() {
    let t = run(FaultKind::CrashLoop, "cart", &[("backoff_s", 10.0)]);
    let v = View::new(&t);
    assert!(reasons_after(&v, "cart", "BackOff", AT_S) >= 3);
    assert!(
        v.max(
            "kube_pod_container_status_restarts_total",
            "cart",
            &[],
            0,
            END_S
        ) >= 4.0
    );
    assert!(v
        .logs("cart", AT_S, END_S)
        .iter()
        .any(|(l, s)| *l == LogLevel::Fatal && s.to_lowercase().contains("fatal")));
    assert!(v.events("cart", "BackOff")[0]
        .message
        .contains("Back-off restarting failed container"));
    assert!(any_log(&v, &["frontend"], &["ECONNREFUSED"]));
}

#[test]
fn pod_kill_deletes_pods_one_at_a_time_with_nothing_changed_before() {
    let t = run(FaultKind::PodKill, "checkout", &[("every_s", 30.0)]);
    let v = View::new(&t);
    let kills = v.events("checkout", "Killing");
    // One deletion every 30 s while the fault is active, each naming its pod.
    assert!(kills.len() >= 3, "{} kills", kills.len());
    assert!(kills.iter().all(|e| e
        .message
        .starts_with("Stopping container checkout in pod checkout-")));
    // Nothing was deployed or reconfigured: the kills are the only clue.
    assert!(v.events("checkout", "ConfigChanged").is_empty());
    assert!(v.deploys_of("checkout").is_empty());
    // A deleted pod is replaced, not restarted: the restart count stays flat.
    assert_eq!(
        v.max(
            "kube_pod_container_status_restarts_total",
            "checkout",
            &[],
            AT_S,
            END_S
        ),
        v.max(
            "kube_pod_container_status_restarts_total",
            "checkout",
            &[],
            0,
            AT_S
        )
    );
    // Requests in flight on the killed pod reset, in the callers' spans and logs.
    assert!(t.spans.iter().any(|s| s
        .error
        .as_deref()
        .is_some_and(|e| e.contains("checkout:8080: connection reset by peer"))));
    assert!(any_log(
        &v,
        &["frontend"],
        &["ECONNRESET", "connection reset", "Connection reset"]
    ));
    // Each deleted pod is replaced by a fresh one.
    assert!(reasons_after(&v, "checkout", "Started", AT_S) >= kills.len() - 1);
}

#[test]
fn oom_kill_follows_a_memory_limit_change() {
    let t = run(FaultKind::OomKill, "cart", &[("limit_mb", 128.0)]);
    let v = View::new(&t);
    let change = &v.events("cart", "ConfigChanged")[0];
    assert!(
        change.message.contains("memory limit 512Mi -> 128Mi"),
        "{}",
        change.message
    );
    assert!(v.events("cart", "OOMKilled").len() >= 2);
    let limit = v.max(
        "container_spec_memory_limit_bytes",
        "cart",
        &[],
        AT_S + 10,
        END_S,
    );
    assert!((limit - 128.0 * 1_048_576.0).abs() < 1.0);
    assert!(
        v.max(
            "kube_pod_container_status_restarts_total",
            "cart",
            &[],
            0,
            END_S
        ) >= 2.0
    );
}

#[test]
fn scale_to_zero_leaves_no_replicas_and_refused_connections() {
    let t = run(FaultKind::ScaleToZero, "cart", &[]);
    let v = View::new(&t);
    assert!(v
        .events("cart", "ScalingReplicaSet")
        .iter()
        .any(|e| e.message.contains("to 0")));
    assert_eq!(
        v.max(
            "kube_deployment_status_replicas_available",
            "cart",
            &[],
            HOT.0,
            HOT.1
        ),
        0.0
    );
    assert!(any_log(&v, &["checkout"], &["connection refused"]));
    assert!(
        v.nans(
            "http_requests_total",
            "cart",
            &[("code", "2xx")],
            HOT.0,
            HOT.1
        ) > 30
    );
}

#[test]
fn misrouted_port_refuses_callers_while_the_target_is_healthy_and_idle() {
    let t = run(FaultKind::MisroutedPort, "cart", &[("port", 8081.0)]);
    let v = View::new(&t);
    assert!(v.events("cart", "ConfigChanged")[0]
        .message
        .contains("targetPort 8080 -> 8081"));
    assert!(any_log(&v, &["frontend"], &["ECONNREFUSED"]));
    assert!(v.mean("up", "cart", &[], HOT.0, HOT.1) > 0.99);
    assert!(v.req_rate("cart", HOT.0, HOT.1) < 0.5);
    assert_eq!(
        v.max(
            "kube_pod_container_status_restarts_total",
            "cart",
            &[],
            0,
            END_S
        ),
        0.0
    );
}

#[test]
fn bad_env_config_errors_name_the_setting_after_a_config_change() {
    let t = run(FaultKind::BadEnvConfig, "cart", &[("error_pct", 60.0)]);
    let v = View::new(&t);
    assert!(!v.events("cart", "ConfigChanged").is_empty());
    assert!(v.logs_contain("cart", AT_S, END_S, "invalid configuration"));
    let err = v.error_ratio("cart", HOT.0, HOT.1);
    assert!((0.45..0.75).contains(&err), "error ratio {err}");
    assert!(t.deploys.is_empty());
}

#[test]
fn failed_deploy_never_gets_ready_and_shrinks_capacity() {
    let t = run(
        FaultKind::FailedDeploy,
        "cart",
        &[("unavailable_pct", 50.0)],
    );
    let v = View::new(&t);
    assert_eq!(v.deploys_of("cart").len(), 1);
    assert!(v
        .events("cart", "Unhealthy")
        .iter()
        .any(|e| e.message.starts_with("Readiness probe failed")));
    let base = v.mean(
        "kube_deployment_status_replicas_available",
        "cart",
        &[],
        BASE.0,
        BASE.1,
    );
    let hot = v.mean(
        "kube_deployment_status_replicas_available",
        "cart",
        &[],
        HOT.0,
        HOT.1,
    );
    assert!(hot < base, "available {base} -> {hot}");
    assert!(
        v.max(
            "kube_pod_container_status_restarts_total",
            "cart",
            &[],
            0,
            END_S
        ) >= 2.0
    );
}

#[test]
fn liveness_probe_misconfig_kills_a_process_that_logged_no_error() {
    let t = run(
        FaultKind::LivenessProbeMisconfig,
        "cart",
        &[("period_s", 30.0)],
    );
    let v = View::new(&t);
    assert!(v
        .events("cart", "Unhealthy")
        .iter()
        .any(|e| e.message.starts_with("Liveness probe failed")));
    assert!(v.events("cart", "Killing").len() >= 3);
    assert!(
        v.max(
            "kube_pod_container_status_restarts_total",
            "cart",
            &[],
            0,
            END_S
        ) >= 3.0
    );
    assert!(!v
        .logs("cart", AT_S, END_S)
        .iter()
        .any(|(l, _)| *l >= LogLevel::Error));
    assert!(v.events("cart", "OOMKilled").is_empty() && v.events("cart", "BackOff").is_empty());
}

#[test]
fn cpu_throttle_climbs_throttled_periods_with_cpu_at_the_low_limit() {
    let t = run(FaultKind::CpuThrottle, "cart", &[("limit_cores", 0.15)]);
    let v = View::new(&t);
    let base = v.rate(
        "container_cpu_cfs_throttled_periods_total",
        "cart",
        &[],
        BASE.0,
        BASE.1,
    );
    let hot = v.rate(
        "container_cpu_cfs_throttled_periods_total",
        "cart",
        &[],
        HOT.0,
        HOT.1,
    );
    assert!(base < 0.1 && hot > 3.0, "throttled {base} -> {hot}");
    let cpu = v.rate(
        "container_cpu_usage_seconds_total",
        "cart",
        &[],
        HOT.0,
        HOT.1,
    );
    assert!(cpu <= 0.15 * 1.06, "cpu {cpu} stays under the new limit");
    assert!(v.events("cart", "ConfigChanged")[0]
        .message
        .contains("cpu limit 1000m -> 150m"));
    assert!(v.p99("cart", HOT.0, HOT.1) > 2.0 * v.p99("cart", BASE.0, BASE.1));
}

#[test]
fn dependency_removed_deletes_the_service_and_its_metrics() {
    let t = run(FaultKind::DependencyRemoved, "cart", &[]);
    let v = View::new(&t);
    assert!(v
        .events("cart", "Deleted")
        .iter()
        .any(|e| e.message == "Deleted deployment cart"));
    for name in [
        "up",
        "kube_pod_container_status_restarts_total",
        "container_memory_working_set_bytes",
    ] {
        assert!(
            v.nans(name, "cart", &[], HOT.0, HOT.1) >= 35,
            "{name} still reported"
        );
    }
    assert!(any_log(&v, &["checkout"], &["no such host"]));
}

#[test]
fn error_injection_fails_a_share_with_stack_traces_after_a_deploy() {
    let t = run(FaultKind::ErrorInjection, "cart", &[("error_pct", 30.0)]);
    let v = View::new(&t);
    let err = v.error_ratio("cart", HOT.0, HOT.1);
    assert!((0.22..0.4).contains(&err), "error ratio {err}");
    assert!(v.logs_contain("cart", AT_S, END_S, "Traceback (most recent call last)"));
    assert!(v.logs_contain("cart", AT_S, END_S, "Exception"));
    let d = &v.deploys_of("cart")[0];
    assert!(d.diff.contains("+++ b/cart/pricing.py") && d.diff.contains("\n+"));
    let id = v.id("cart");
    assert!(t
        .spans
        .iter()
        .any(|s| s.service == id && s.status == SpanStatus::Error && s.http_status == 500));
    assert!(
        v.error_ratio("frontend", HOT.0, HOT.1) > 0.2,
        "errors propagate to callers"
    );
    assert_unaffected(&v, &NOT_UPSTREAM_OF_CART);
}

#[test]
fn slow_handler_slows_the_targets_own_spans() {
    let t = run(FaultKind::SlowHandler, "cart", &[("delay_ms", 600.0)]);
    let v = View::new(&t);
    assert!(v.p99("cart", HOT.0, HOT.1) > 0.5);
    let id = v.id("cart");
    let slow = t
        .spans
        .iter()
        .filter(|s| s.service == id && s.start_us > (AT_S + 10) * 1_000_000)
        .filter(|s| s.duration_us > 500_000)
        .count();
    assert!(slow > 50, "slow cart spans {slow}");
    assert!(!v.deploys_of("cart").is_empty());
    assert!(v.p99("frontend", HOT.0, HOT.1) > 0.5, "callers follow");
}

#[test]
fn memory_leak_climbs_to_oom_kills_and_restarts_after_a_deploy() {
    let t = run(FaultKind::MemoryLeak, "cart", &[("rate_mb_per_min", 120.0)]);
    let v = View::new(&t);
    let base = v.mean("process_resident_memory_bytes", "cart", &[], BASE.0, BASE.1);
    let peak = v.max("process_resident_memory_bytes", "cart", &[], AT_S, END_S);
    assert!(peak > 1.5 * base, "rss {base} -> {peak}");
    let ooms = v.events("cart", "OOMKilled");
    assert!(ooms.len() >= 2 && ooms[0].message.contains("cart"));
    let deploy = &v.deploys_of("cart")[0];
    assert!(deploy.id.starts_with("deploy-") && deploy.id.len() == 14);
    assert!(
        deploy.diff.contains("_FRAGMENTS["),
        "the diff carries the leak"
    );
    assert!(v
        .events("cart", "ScalingReplicaSet")
        .iter()
        .any(|e| e.t_ms == AT_S * 1000));
    assert!(v.logs_contain("cart", AT_S, END_S, "MemoryError"));
    assert!(
        v.max(
            "kube_pod_container_status_restarts_total",
            "cart",
            &[],
            0,
            END_S
        ) >= 2.0
    );
    assert_unaffected(&v, &NOT_UPSTREAM_OF_CART);
}

#[test]
fn connection_leak_fills_the_pool_then_times_out_callers() {
    let t = run(FaultKind::ConnectionLeak, "cart", &[("leak_per_min", 30.0)]);
    let v = View::new(&t);
    let max = v.mean("db_pool_connections_max", "cart", &[], 0, END_S);
    assert!(v.mean("db_pool_connections_in_use", "cart", &[], BASE.0, BASE.1) < 0.3 * max);
    assert_eq!(
        v.max("db_pool_connections_in_use", "cart", &[], HOT.0, END_S),
        max
    );
    assert!(v.logs_contain(
        "cart",
        AT_S,
        END_S,
        "timeout acquiring connection from pool"
    ));
    let to = v.rate(
        "http_client_requests_total",
        "frontend",
        &[("peer", "cart"), ("outcome", "timeout")],
        HOT.0,
        HOT.1,
    );
    assert!(to > 5.0, "callers time out: {to}");
    assert!(d_has(&v, "cart", "pool.putconn(conn)"));
}

fn d_has(v: &View<'_>, svc: &str, needle: &str) -> bool {
    v.deploys_of(svc).iter().any(|d| d.diff.contains(needle))
}

#[test]
fn retry_storm_multiplies_calls_into_the_targets_dependencies() {
    let t = run(FaultKind::RetryStorm, "cart", &[("multiplier", 6.0)]);
    let v = View::new(&t);
    let (b, h) = (
        v.client_rate("cart", "redis", BASE.0, BASE.1),
        v.client_rate("cart", "redis", HOT.0, HOT.1),
    );
    assert!(h > 4.0 * b, "cart->redis calls {b} -> {h}");
    let (rb, rh) = (
        v.req_rate("redis", BASE.0, BASE.1),
        v.req_rate("redis", HOT.0, HOT.1),
    );
    assert!(rh > 2.0 * rb, "redis traffic {rb} -> {rh}");
    assert!(v.logs_contain("cart", AT_S, END_S, "retrying request to"));
    assert!(d_has(&v, "cart", "total=10"));
}

#[test]
fn cache_bypass_drops_the_hit_ratio_and_loads_the_database() {
    let t = run(FaultKind::CacheBypass, "cart", &[("bypass_pct", 100.0)]);
    let v = View::new(&t);
    assert!(v.mean("cache_hit_ratio", "cart", &[], BASE.0, BASE.1) > 0.8);
    assert!(v.mean("cache_hit_ratio", "cart", &[], HOT.0, HOT.1) < 0.05);
    let (b, h) = (
        v.rate("db_queries_total", "postgres", &[], BASE.0, BASE.1),
        v.rate("db_queries_total", "postgres", &[], HOT.0, HOT.1),
    );
    assert!(h > 3.0 * b, "db queries {b} -> {h}");
    let (cb, ch) = (
        v.client_rate("cart", "redis", BASE.0, BASE.1),
        v.client_rate("cart", "redis", HOT.0, HOT.1),
    );
    assert!(ch < 0.05 * cb, "cart stops calling redis: {cb} -> {ch}");
}

#[test]
fn hot_loop_raises_the_apps_own_process_cpu_after_a_deploy() {
    let t = run(FaultKind::HotLoop, "cart", &[("cpu_cores", 0.8)]);
    let v = View::new(&t);
    let (b, h) = (
        v.rate("process_cpu_seconds_total", "cart", &[], BASE.0, BASE.1),
        v.rate("process_cpu_seconds_total", "cart", &[], HOT.0, HOT.1),
    );
    assert!(h > 3.0 * b, "process cpu {b} -> {h}");
    let container = v.rate(
        "container_cpu_usage_seconds_total",
        "cart",
        &[],
        HOT.0,
        HOT.1,
    );
    assert!(
        (container - h).abs() < 0.1 * h,
        "all container cpu is the app's own"
    );
    assert!(!v.deploys_of("cart").is_empty());
    assert!(v.p99("cart", HOT.0, HOT.1) > 2.0 * v.p99("cart", BASE.0, BASE.1));
}

#[test]
fn panic_crash_logs_rust_panics_and_backs_off() {
    let t = run(FaultKind::PanicCrash, "payment", &[("panic_pct", 2.0)]);
    let v = View::new(&t);
    assert!(v.logs_contain(
        "payment",
        AT_S,
        END_S,
        "thread 'tokio-runtime-worker' panicked at src/handlers/payment.rs"
    ));
    assert!(v.logs_contain("payment", AT_S, END_S, "exited with code 101"));
    assert!(!v.events("payment", "BackOff").is_empty());
    assert!(!v.deploys_of("payment").is_empty());
    assert!(any_log(&v, &["checkout"], &["connection refused", "reset"]));
}

#[test]
fn slow_query_logs_the_targets_statement_on_the_database() {
    let t = run(FaultKind::SlowQuery, "cart", &[("query_ms", 900.0)]);
    let v = View::new(&t);
    let lines = v.logs("postgres", AT_S, END_S);
    assert!(lines
        .iter()
        .any(|(_, l)| l.starts_with("LOG:  duration: ") && l.contains("FROM cart_items")));
    let p99 = v.mean(
        "db_query_duration_seconds",
        "cart",
        &[("quantile", "0.99")],
        HOT.0,
        HOT.1,
    );
    assert!(p99 > 0.5, "cart's query p99 {p99}");
    let (b, h) = (
        v.rate(
            "container_cpu_usage_seconds_total",
            "postgres",
            &[],
            BASE.0,
            BASE.1,
        ),
        v.rate(
            "container_cpu_usage_seconds_total",
            "postgres",
            &[],
            HOT.0,
            HOT.1,
        ),
    );
    assert!(h > 3.0 * b, "database cpu {b} -> {h}");
    assert!(v.p99("cart", HOT.0, HOT.1) > 0.5);
}

#[test]
fn slow_query_on_a_three_service_chain() {
    let inc = incident(
        chain(),
        vec![fault(FaultKind::SlowQuery, "orders", None, &[])],
        5,
    );
    let t = simulate(&inc);
    let v = View::new(&t);
    assert!(v.logs_contain("orders-db", AT_S, END_S, "FROM orders"));
    assert!(v.logs_contain("orders", AT_S, END_S, "slow query on orders-db"));
    assert!(v.p99("gateway", HOT.0, HOT.1) > 2.0 * v.p99("gateway", BASE.0, BASE.1));
    assert!(d_has(&v, "orders", "jdbc.query"));
}

#[test]
fn every_kind_is_visible_on_the_target_or_its_callers() {
    for &kind in FaultKind::ALL {
        let target = if kind == FaultKind::PanicCrash {
            "payment"
        } else {
            "cart"
        };
        let t = run(kind, target, &[]);
        let v = View::new(&t);
        let moved = t.deploys.iter().any(|d| d.t_ms == AT_S * 1000)
            || t.events.iter().any(|e| e.t_ms >= AT_S * 1000)
            || v.error_ratio("frontend", HOT.0, HOT.1) > 0.01
            || v.p99("frontend", HOT.0, HOT.1) > 2.0 * v.p99("frontend", BASE.0, BASE.1);
        assert!(moved, "{kind} left no trace");
    }
}

#[test]
fn arrival_clues_follow_via() {
    let t = run_via(FaultKind::ErrorInjection, "cart", Via::Direct, &[]);
    assert!(t.deploys.is_empty(), "direct: no deploy");
    assert!(View::new(&t).events("cart", "ConfigChanged").is_empty());
    let t = run_via(FaultKind::RetryStorm, "cart", Via::Config, &[]);
    let v = View::new(&t);
    assert!(t.deploys.is_empty());
    assert!(v.events("cart", "ConfigChanged")[0]
        .message
        .contains("HTTP_CLIENT_MAX_RETRIES 2 -> 10"));
    let t = run_via(FaultKind::SlowHandler, "cart", Via::Deploy, &[]);
    let v = View::new(&t);
    let d = &v.deploys_of("cart")[0];
    assert!(d.id[7..].chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(d.commit.len(), 40);
    assert_ne!(d.from_version, d.to_version);
    assert!(d.diff.starts_with("diff --git a/cart/handlers.py"));
}

#[test]
fn faults_revert_after_until() {
    let mut f = fault(
        FaultKind::ConnectionLeak,
        "cart",
        None,
        &[("leak_per_min", 60.0)],
    );
    f.until = otrashi_scenarios::duration::Duration::from_secs(360);
    let t = simulate(&incident(shop(), vec![f], 2));
    let v = View::new(&t);
    assert!(v.error_ratio("cart", 300, 360) > 0.5);
    assert!(v.error_ratio("cart", 480, END_S) < 0.01, "recovered");
    let rollback = v.deploys_of("cart");
    assert_eq!(rollback.len(), 2);
    assert!(rollback[1].title.starts_with("Revert \""));
    let pool = v.mean("db_pool_connections_in_use", "cart", &[], 480, END_S);
    assert!(pool < 5.0, "pool drained: {pool}");
}

#[test]
fn crash_loops_and_oom_kills_stop_when_the_change_is_reverted() {
    for kind in [FaultKind::CrashLoop, FaultKind::OomKill] {
        let mut f = fault(kind, "cart", None, &[]);
        f.until = otrashi_scenarios::duration::Duration::from_secs(330);
        let t = simulate(&incident(shop(), vec![f], 3));
        let v = View::new(&t);
        assert!(v.error_ratio("frontend", 200, 330) > 0.5, "{kind} hurt");
        assert!(
            v.error_ratio("frontend", 420, END_S) < 0.01,
            "{kind} recovered"
        );
        let restarts = v.series("kube_pod_container_status_restarts_total", "cart", &[]);
        let late = v.window(restarts, 420, END_S);
        assert!(
            late.windows(2).all(|w| w[0] == w[1]),
            "{kind}: restarts stopped"
        );
        assert_eq!(
            v.events("cart", "ConfigChanged").len(),
            2,
            "{kind}: change and revert"
        );
    }
}

#[test]
fn code_changes_are_written_in_the_services_language() {
    use otrashi_scenarios::catalog::Level;
    use otrashi_scenarios::model::{Runtime, ServiceKind};
    let exts = [
        (Runtime::Go, &[".go"][..]),
        (Runtime::Java, &[".java", ".yml"][..]),
        (Runtime::Python, &[".py"][..]),
        (Runtime::Node, &[".js"][..]),
        (Runtime::Rust, &[".rs"][..]),
    ];
    for (rt, allowed) in exts {
        let mut topo = chain();
        topo.services[1] = svc(
            "orders",
            ServiceKind::Api,
            rt,
            &["orders-cache", "orders-db"],
            2,
        );
        topo.services.push(svc(
            "orders-cache",
            ServiceKind::Cache,
            Runtime::Native,
            &[],
            1,
        ));
        for &kind in FaultKind::ALL.iter().filter(|k| k.level() == Level::Code) {
            let inc = incident(
                topo.clone(),
                vec![fault(kind, "orders", Some(Via::Deploy), &[])],
                1,
            );
            let t = simulate(&inc);
            let d = &View::new(&t).deploys_of("orders")[0];
            let first = d.diff.lines().next().unwrap();
            assert!(
                allowed.iter().any(|e| first.ends_with(e)),
                "{kind} on {rt:?}: {first}"
            );
        }
    }
}

#[test]
fn services_outside_the_ground_truth_blast_radius_stay_healthy() {
    use otrashi_scenarios::incident::GroundTruth;
    for &kind in FaultKind::ALL {
        let target = if kind == FaultKind::PanicCrash {
            "payment"
        } else {
            "cart"
        };
        let inc = incident(shop(), vec![fault(kind, target, None, &[])], 13);
        let truth = GroundTruth::derive(&inc);
        let t = simulate(&inc);
        let v = View::new(&t);
        // A fault that loads the target's dependencies also slows the other users of
        // those dependencies (and their callers); the ground truth does not list them.
        let topo = shop();
        let loaded: Vec<String> = if kind.def().propagation
            == otrashi_scenarios::catalog::Propagation::UpstreamAndDownstream
        {
            let deps = &topo.service(target).unwrap().calls;
            let mut users: Vec<String> = topo
                .services
                .iter()
                .filter(|s| s.calls.iter().any(|c| deps.contains(c)))
                .map(|s| s.name.clone())
                .collect();
            for u in users.clone() {
                users.extend(topo.upstream_of(&u));
            }
            users
        } else {
            vec![]
        };
        for s in t
            .services
            .iter()
            .filter(|s| !truth.affected.contains(s) && !loaded.contains(s))
        {
            let err = v.error_ratio(s, HOT.0, HOT.1);
            assert!(
                err < 0.01,
                "{kind}: {s} (outside {:?}) error ratio {err}",
                truth.affected
            );
            let (b, h) = (v.p99(s, BASE.0, BASE.1), v.p99(s, HOT.0, HOT.1));
            assert!(
                h.is_nan() || h < b * 1.5 + 0.005,
                "{kind}: {s} p99 {b} -> {h}"
            );
        }
    }
}

#[test]
fn two_faults_show_both_signatures() {
    let mut dns = fault(FaultKind::DnsFailure, "ads", None, &[]);
    dns.id = "f2".into();
    let inc = incident(
        shop(),
        vec![
            fault(
                FaultKind::MemoryLeak,
                "cart",
                None,
                &[("rate_mb_per_min", 150.0)],
            ),
            dns,
        ],
        21,
    );
    let t = simulate(&inc);
    let v = View::new(&t);
    assert!(!v.events("cart", "OOMKilled").is_empty());
    assert!(v.logs_contain("frontend", AT_S, END_S, "ENOTFOUND ads"));
}

/// Parameters strong enough for every catalog signal to show inside the test window.
fn strong_params(kind: FaultKind) -> Vec<(&'static str, f64)> {
    match kind {
        FaultKind::MemoryLeak => vec![("rate_mb_per_min", 150.0)],
        FaultKind::NetworkDelay => vec![("delay_ms", 3500.0)],
        FaultKind::MemoryPressure => vec![("fill_pct", 97.0)],
        _ => vec![],
    }
}

#[test]
fn every_catalog_signal_is_observable_on_its_target() {
    for &kind in FaultKind::ALL {
        // Rust, so that `panicked at` is the runtime's own phrase.
        let target = if kind == FaultKind::PanicCrash {
            "payment"
        } else {
            "cart"
        };
        let params = strong_params(kind);
        let t = simulate(&incident(
            shop(),
            vec![fault(kind, target, None, &params)],
            17,
        ));
        let v = View::new(&t);
        let id = v.id(target);
        let topo = shop();
        let callers: Vec<&str> = topo.callers_of(target).map(|s| s.name.as_str()).collect();
        for signal in kind.def().signals {
            let (modality, name) = signal.split_once(':').unwrap_or((signal, ""));
            let seen = match modality {
                "deploy" => !v.deploys_of(target).is_empty(),
                "event" => !v.events(target, name).is_empty(),
                "metric" => t.metrics.iter().any(|s| {
                    s.name == name
                        && (s.service == id
                            || s.labels.iter().any(|(k, p)| k == "peer" && p == target))
                }),
                "log" => {
                    let mut who = callers.clone();
                    who.push(target);
                    any_log(&v, &who, &[name])
                }
                "trace" => {
                    // Slow shows on the target's spans or, for the network, on the
                    // spans of the callers that wait for it.
                    let watched: Vec<u16> = callers.iter().map(|c| v.id(c)).chain([id]).collect();
                    let base = |svc: u16| {
                        t.spans
                            .iter()
                            .filter(|s| s.service == svc && s.start_us < AT_S * 1_000_000)
                            .map(|s| s.duration_us)
                            .max()
                            .unwrap_or(0)
                    };
                    t.spans
                        .iter()
                        .filter(|s| s.start_us >= AT_S * 1_000_000)
                        .any(|s| {
                            let op = &t.operations[s.operation as usize];
                            match name {
                                "error" => {
                                    s.status == SpanStatus::Error
                                        && (s.service == id || op == &format!("call {target}"))
                                }
                                _ => {
                                    watched.contains(&s.service)
                                        && s.duration_us > 2 * base(s.service)
                                }
                            }
                        })
                }
                _ => false,
            };
            assert!(seen, "{kind}: signal `{signal}` not observable on {target}");
        }
    }
}
