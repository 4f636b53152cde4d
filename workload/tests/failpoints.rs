//! The effect of each remaining failpoint, shipped through `OTRASHI_FAILPOINTS` to the
//! real binary (failpoints are process-wide, so never set in the test process).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{get, sample, spawn_binary, start};

#[tokio::test]
async fn retry_storm_multiplies_downstream_calls() {
    let callee = start(common::config("inventory", &[])).await;
    let caller = spawn_binary(&[
        ("OTRASHI_SERVICE", "cart"),
        (
            "OTRASHI_DOWNSTREAMS",
            &format!("inventory=http://{}", callee.addr),
        ),
        ("OTRASHI_FAILPOINTS", "retry_storm=return(4)"),
    ])
    .await;
    assert_eq!(get(caller.addr, "/").await.status, 200);
    let text = get(caller.addr, "/metrics").await.body;
    assert_eq!(
        sample(
            &text,
            "http_client_requests_total{peer=\"inventory\",outcome=\"ok\"}"
        ),
        Some(4.0)
    );
    let callee_text = get(callee.addr, "/metrics").await.body;
    assert_eq!(
        sample(&callee_text, "http_requests_total{code=\"200\"}"),
        Some(4.0)
    );
    let lines = caller.lines.lock().unwrap().join("\n");
    assert_eq!(
        lines.matches("retrying call to inventory").count(),
        3,
        "{lines}"
    );
}

#[tokio::test]
async fn slow_query_slows_the_database_peer() {
    let db = spawn_binary(&[
        ("OTRASHI_SERVICE", "postgres"),
        ("OTRASHI_KIND", "database"),
    ])
    .await;
    let caller = spawn_binary(&[
        ("OTRASHI_SERVICE", "orders"),
        (
            "OTRASHI_DOWNSTREAMS",
            &format!("postgres:database=http://{}", db.addr),
        ),
        ("OTRASHI_FAILPOINTS", "slow_query=return(300)"),
    ])
    .await;
    let begin = Instant::now();
    assert_eq!(get(caller.addr, "/").await.status, 200);
    assert!(begin.elapsed() >= Duration::from_millis(300));
    let text = get(caller.addr, "/metrics").await.body;
    assert!(
        sample(&text, "db_query_duration_seconds_sum").unwrap() >= 0.3,
        "{text}"
    );
    assert_eq!(sample(&text, "db_queries_total"), Some(1.0));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let db_lines = db.lines.lock().unwrap().join("\n");
    assert!(db_lines.contains("slow query: 300 ms"), "{db_lines}");
    assert!(db_lines.contains("\"caller\":\"orders\""), "{db_lines}");
}

#[tokio::test]
async fn handler_slow_delays_the_response() {
    let svc = spawn_binary(&[("OTRASHI_FAILPOINTS", "handler_slow=return(250)")]).await;
    let begin = Instant::now();
    assert_eq!(get(svc.addr, "/").await.status, 200);
    assert!(begin.elapsed() >= Duration::from_millis(250));
    let text = get(svc.addr, "/metrics").await.body;
    assert!(sample(&text, "http_request_duration_seconds_sum").unwrap() >= 0.25);
    assert_eq!(
        sample(&text, "http_request_duration_seconds_bucket{le=\"0.1\"}"),
        Some(0.0)
    );
}

#[tokio::test]
async fn hot_loop_burns_process_cpu() {
    let svc = spawn_binary(&[
        ("OTRASHI_FAILPOINTS", "hot_loop=return(400)"),
        ("OTRASHI_CPU_MS", "0"),
    ])
    .await;
    let cpu = |text: &str| sample(text, "process_cpu_seconds_total").unwrap();
    let before = cpu(&get(svc.addr, "/metrics").await.body);
    assert_eq!(get(svc.addr, "/").await.status, 200);
    let after = cpu(&get(svc.addr, "/metrics").await.body);
    assert!(
        after - before >= 0.3,
        "400 ms of spinning: cpu {before} -> {after}"
    );
}
