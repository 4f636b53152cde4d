//! Two workload servers, one calling the other, on 127.0.0.1. Failpoints are
//! process-wide, so every test that sets one runs that service as the real binary (a
//! child process) and keeps the test process itself fault-free.

#![allow(clippy::unwrap_used)]

mod common;

use common::{attribute, get, request, sample, spawn_binary, start, Collector};
use otrashi_workload::otlp::{SpanKind, StatusCode};
use otrashi_workload::Config;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test]
async fn caller_reaches_callee_propagates_the_trace_and_exports_metrics() {
    let callee = start(common::config("inventory", &[])).await;
    let caller = start(common::config("frontend", &[("inventory", callee.addr)])).await;

    let reply = request(caller.addr, "GET", "/", &[("traceparent", TRACEPARENT)], "")
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(body["calls"][0]["peer"], "inventory");
    assert_eq!(body["calls"][0]["status"], 200);
    assert_eq!(
        body["calls"][0]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736",
        "the callee continues the caller's trace"
    );
    // A second request reuses the pooled connection.
    assert_eq!(get(caller.addr, "/").await.status, 200);

    assert_eq!(get(caller.addr, "/healthz").await.json()["status"], "ok");
    let text = get(caller.addr, "/metrics").await.body;
    assert_eq!(
        sample(&text, "http_requests_total{code=\"200\"}"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "http_client_requests_total{peer=\"inventory\",outcome=\"ok\"}"
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, "http_request_duration_seconds_count"),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, "db_pool_connections_max{peer=\"inventory\"}"),
        Some(16.0)
    );
    assert_eq!(
        sample(&text, "db_pool_connections_in_use{peer=\"inventory\"}"),
        Some(0.0)
    );
    assert!(sample(&text, "process_resident_memory_bytes").unwrap() > 1e6);
    assert!(sample(&text, "process_cpu_seconds_total").is_some());
    let callee_text = get(callee.addr, "/metrics").await.body;
    assert_eq!(
        sample(&callee_text, "http_requests_total{code=\"200\"}"),
        Some(2.0)
    );
}

#[tokio::test]
async fn a_500_from_the_callee_propagates_to_the_caller() {
    let callee = spawn_binary(&[
        ("OTRASHI_SERVICE", "payments"),
        ("OTRASHI_FAILPOINTS", "handler_error=100%return"),
    ])
    .await;
    let caller = start(Config {
        retries: 1,
        ..common::config("checkout", &[("payments", callee.addr)])
    })
    .await;

    let reply = get(caller.addr, "/").await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["peer"], "payments");
    let text = get(caller.addr, "/metrics").await.body;
    assert_eq!(
        sample(&text, "http_requests_total{code=\"500\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "http_client_requests_total{peer=\"payments\",outcome=\"error\"}"
        ),
        Some(2.0),
        "one attempt and one retry"
    );
    let callee_text = get(callee.addr, "/metrics").await.body;
    assert_eq!(
        sample(&callee_text, "http_requests_total{code=\"500\"}"),
        Some(2.0)
    );
    let lines = callee.lines.lock().unwrap().join("\n");
    assert!(lines.contains("Unhandled Exception"), "{lines}");
    assert!(
        lines.contains("\"build\":\""),
        "start-up names the build: {lines}"
    );
    assert!(
        !lines.contains("handler_error"),
        "logs are the agent's evidence and must not name the failpoint: {lines}"
    );
}

#[tokio::test]
async fn leak_memory_switched_on_at_runtime_grows_rss() {
    let svc = spawn_binary(&[
        ("OTRASHI_SERVICE", "cart"),
        ("OTRASHI_ADMIN_TOKEN", "s3cret"),
    ])
    .await;
    let rss = |text: &str| sample(text, "process_resident_memory_bytes").unwrap();
    let before = rss(&get(svc.addr, "/metrics").await.body);

    let update = r#"{"name":"leak_memory","actions":"return(4194304)"}"#;
    let denied = request(
        svc.addr,
        "POST",
        "/admin/failpoints",
        &[
            ("content-type", "application/json"),
            ("authorization", "Bearer wrong"),
        ],
        update,
    )
    .await
    .unwrap();
    assert_eq!(denied.status, 401);
    let ok = request(
        svc.addr,
        "POST",
        "/admin/failpoints",
        &[
            ("content-type", "application/json"),
            ("authorization", "Bearer s3cret"),
        ],
        update,
    )
    .await
    .unwrap();
    assert_eq!(ok.status, 200, "{}", ok.body);

    for _ in 0..10 {
        assert_eq!(get(svc.addr, "/").await.status, 200);
    }
    let after = rss(&get(svc.addr, "/metrics").await.body);
    assert!(
        after - before >= 30.0 * 1024.0 * 1024.0,
        "10 requests leaking 4 MiB each should add ~40 MiB: before {before}, after {after}"
    );
}

#[tokio::test]
async fn leaked_connections_exhaust_the_pool() {
    let callee = start(common::config("db", &[])).await;
    let caller = spawn_binary(&[
        ("OTRASHI_SERVICE", "orders"),
        (
            "OTRASHI_DOWNSTREAMS",
            &format!("db:database=http://{}", callee.addr),
        ),
        ("OTRASHI_POOL_SIZE", "2"),
        ("OTRASHI_CALL_TIMEOUT_MS", "200"),
        ("OTRASHI_RETRIES", "0"),
        ("OTRASHI_FAILPOINTS", "leak_connection=return"),
    ])
    .await;
    assert_eq!(get(caller.addr, "/").await.status, 200);
    assert_eq!(get(caller.addr, "/").await.status, 200);
    let third = get(caller.addr, "/").await;
    assert_eq!(third.status, 500);
    assert!(
        third.body.contains("timeout acquiring connection"),
        "{}",
        third.body
    );
    let text = get(caller.addr, "/metrics").await.body;
    assert_eq!(
        sample(&text, "db_pool_connections_in_use{peer=\"db\"}"),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &text,
            "http_client_requests_total{peer=\"db\",outcome=\"pool_timeout\"}"
        ),
        Some(1.0)
    );
    assert_eq!(sample(&text, "db_queries_total"), Some(2.0));
}

#[tokio::test]
async fn panic_logs_and_exits_with_101() {
    let mut svc = spawn_binary(&[
        ("OTRASHI_SERVICE", "search"),
        ("OTRASHI_FAILPOINTS", "panic=return"),
    ])
    .await;
    // The process dies mid-request, so the connection closes without a response.
    let _ = request(svc.addr, "GET", "/", &[], "").await;
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), svc.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(101));
    // Give the drain task a moment to collect the last line.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let lines = svc.lines.lock().unwrap().join("\n");
    assert!(lines.contains("panicked at"), "{lines}");
}

#[tokio::test]
async fn cache_hits_skip_the_database_and_bypass_does_not() {
    let db = start(common::config("db", &[])).await;
    let cache = start(Config {
        kind: otrashi_workload::Kind::Cache,
        cache_hit_pct: 50.0,
        ..common::config("redis", &[])
    })
    .await;
    let env_downstreams = format!(
        "redis:cache=http://{},db:database=http://{}",
        cache.addr, db.addr
    );
    let api = spawn_binary(&[
        ("OTRASHI_SERVICE", "catalog"),
        ("OTRASHI_DOWNSTREAMS", &env_downstreams),
    ])
    .await;
    for _ in 0..4 {
        assert_eq!(get(api.addr, "/").await.status, 200);
    }
    let text = get(api.addr, "/metrics").await.body;
    assert_eq!(sample(&text, "cache_hit_ratio"), Some(0.5), "{text}");
    assert_eq!(sample(&text, "db_queries_total"), Some(2.0));

    let bypass = spawn_binary(&[
        ("OTRASHI_SERVICE", "catalog"),
        ("OTRASHI_DOWNSTREAMS", &env_downstreams),
        ("OTRASHI_FAILPOINTS", "cache_bypass=return"),
    ])
    .await;
    for _ in 0..4 {
        assert_eq!(get(bypass.addr, "/").await.status, 200);
    }
    let text = get(bypass.addr, "/metrics").await.body;
    assert_eq!(sample(&text, "cache_hit_ratio"), Some(0.0));
    assert_eq!(sample(&text, "db_queries_total"), Some(4.0));
    assert_eq!(
        sample(&text, "cache_requests_total{result=\"bypass\"}"),
        Some(4.0)
    );
}

#[tokio::test]
async fn a_slow_callee_times_out_and_a_closed_port_is_refused() {
    let slow = start(Config {
        latency_ms: 500,
        ..common::config("ledger", &[])
    })
    .await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let caller = start(Config {
        call_timeout_ms: 100,
        retries: 0,
        ..common::config("billing", &[("ledger", slow.addr)])
    })
    .await;
    let reply = get(caller.addr, "/").await;
    assert_eq!(reply.status, 500);
    assert!(reply.body.contains("upstream timeout"), "{}", reply.body);

    let refused = start(Config {
        retries: 0,
        ..common::config("billing", &[("ledger", closed)])
    })
    .await;
    let reply = get(refused.addr, "/").await;
    assert_eq!(reply.status, 500);
    assert!(reply.body.contains("dial tcp"), "{}", reply.body);

    let logs = caller.logs.lines().join("\n");
    assert!(
        logs.contains("upstream timeout: ledger did not answer within 100 ms"),
        "{logs}"
    );
    let text = get(caller.addr, "/metrics").await.body;
    assert_eq!(
        sample(
            &text,
            "http_client_requests_total{peer=\"ledger\",outcome=\"timeout\"}"
        ),
        Some(1.0)
    );
    let text = get(refused.addr, "/metrics").await.body;
    assert_eq!(
        sample(
            &text,
            "http_client_requests_total{peer=\"ledger\",outcome=\"connect_error\"}"
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn spans_link_across_services_show_retries_and_never_name_failpoints() {
    let collector = Collector::start().await;
    let endpoint = format!("http://{}", collector.addr);
    let callee = spawn_binary(&[
        ("OTRASHI_SERVICE", "payments"),
        ("OTRASHI_FAILPOINTS", "handler_error=100%return"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=payments-0"),
    ])
    .await;
    let caller = start(Config {
        retries: 1,
        otlp_traces_endpoint: Some(format!("{endpoint}/v1/traces")),
        ..common::config("checkout", &[("payments", callee.addr)])
    })
    .await;
    let reply = request(caller.addr, "GET", "/", &[("traceparent", TRACEPARENT)], "")
        .await
        .unwrap();
    assert_eq!(reply.status, 500);

    // checkout: 1 server span and 2 client spans (attempt and retry); payments: 2
    // server spans, one per attempt.
    let spans = collector.wait_for(5).await;
    assert_eq!(spans.len(), 5, "{spans:#?}");
    let of = |svc: &str, kind: SpanKind| -> Vec<_> {
        spans
            .iter()
            .filter(|(s, sp)| s == svc && sp.kind == kind as i32)
            .map(|(_, sp)| sp.clone())
            .collect()
    };
    let trace_id = otrashi_workload::trace::id_bytes("4bf92f3577b34da6a3ce929d0e0e4736");
    assert!(spans.iter().all(|(_, s)| s.trace_id == trace_id));
    let root = &of("checkout", SpanKind::Server)[0];
    assert_eq!(
        root.parent_span_id,
        otrashi_workload::trace::id_bytes("00f067aa0ba902b7")
    );
    assert_eq!(root.name, "GET /");
    assert_eq!(
        attribute(root, "http.response.status_code").as_deref(),
        Some("500")
    );
    assert_eq!(attribute(root, "http.route").as_deref(), Some("/"));
    assert_eq!(root.status.as_ref().unwrap().code, StatusCode::Error as i32);
    let mut attempts = of("checkout", SpanKind::Client);
    attempts.sort_by_key(|s| s.start_time_unix_nano);
    assert_eq!(attempts.len(), 2);
    for a in &attempts {
        assert_eq!(
            a.parent_span_id, root.span_id,
            "an attempt is a child of its server span"
        );
        assert_eq!(attribute(a, "peer.service").as_deref(), Some("payments"));
        assert_eq!(attribute(a, "server.address").as_deref(), Some("127.0.0.1"));
        assert_eq!(
            attribute(a, "http.response.status_code").as_deref(),
            Some("500")
        );
        assert_eq!(a.status.as_ref().unwrap().code, StatusCode::Error as i32);
        assert!(a.start_time_unix_nano >= root.start_time_unix_nano);
        assert!(a.end_time_unix_nano <= root.end_time_unix_nano);
    }
    assert_eq!(attribute(&attempts[0], "http.request.resend_count"), None);
    assert_eq!(
        attribute(&attempts[1], "http.request.resend_count").as_deref(),
        Some("1")
    );
    let served = of("payments", SpanKind::Server);
    assert_eq!(served.len(), 2);
    for s in &served {
        assert!(
            attempts.iter().any(|a| a.span_id == s.parent_span_id),
            "the callee's span is a child of one attempt"
        );
        let status = s.status.as_ref().unwrap();
        assert_eq!(status.code, StatusCode::Error as i32);
        assert!(status.message.contains("NullReferenceError"), "{status:?}");
    }
    assert_ne!(served[0].parent_span_id, served[1].parent_span_id);
    // Spans are the agent's evidence, like logs: nothing may name the failpoint.
    let text = format!("{spans:?}").to_lowercase();
    for word in ["handler_error", "failpoint", "inject", "fault", "otrashi_"] {
        assert!(!text.contains(word), "a span names {word:?}: {text}");
    }
    // The counter moves when the receiver's answer is read, just after it stored them.
    let mut exported = None;
    for _ in 0..40 {
        let metrics = get(caller.addr, "/metrics").await.body;
        exported = sample(&metrics, "otel_spans_exported_total");
        if exported == Some(3.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(exported, Some(3.0));
}
