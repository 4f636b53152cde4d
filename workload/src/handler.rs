//! `GET /`: the service's main handler. Order of work: failpoints that change the
//! handler itself, the configured CPU, memory and latency, the role's own behaviour
//! (cache answer, database query), then the downstream calls in order.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::client::{self, CallRequest, Observe, RetryPolicy};
use crate::config::Kind;
use crate::faults;
use crate::log::Level;
use crate::metrics::CodeLabels;
use crate::otlp::{self, SpanKind};
use crate::service::{Peer, Service};
use crate::trace::{self, TraceContext, TRACEPARENT};

/// Header a caller sets to make a database peer run a slow query (`slow_query`).
pub const SLOW_QUERY_HEADER: &str = "x-otrashi-slow-query-ms";
/// Header naming the calling service.
pub const CALLER_HEADER: &str = "x-otrashi-caller";

/// How a request failed, for its span: the error type (`error.type`) and message.
type Failure = Option<(String, String)>;

/// Serves `GET /` and records its status, duration and SERVER span.
pub async fn root(State(svc): State<Arc<Service>>, uri: Uri, headers: HeaderMap) -> Response {
    let (wall, start) = (SystemTime::now(), Instant::now());
    let trace = TraceContext::from_header(headers.get(TRACEPARENT).and_then(|v| v.to_str().ok()));
    let (status, body, failure) = handle(&svc, &headers, &trace).await;
    let elapsed = start.elapsed();
    if svc.tracer.enabled() && trace.sampled() {
        svc.tracer.record(server_span(
            &svc,
            &trace,
            uri.path(),
            (wall, wall + elapsed),
            status,
            failure,
        ));
    }
    svc.metrics
        .requests
        .get_or_create(&CodeLabels {
            code: status.as_u16().to_string(),
        })
        .inc();
    svc.metrics.request_duration.observe(elapsed.as_secs_f64());
    if svc.config.access_log {
        let level = if status.is_server_error() {
            Level::Error
        } else {
            Level::Info
        };
        svc.logger.log(
            level,
            &format!("GET / {}", status.as_u16()),
            Some(&trace.trace_id),
            json!({
                "status": status.as_u16(),
                "duration_ms": elapsed.as_secs_f64() * 1000.0,
                "span_id": trace.span_id,
                "parent_span_id": trace.parent_span_id,
            }),
        );
    }
    (status, Json(body)).into_response()
}

/// The SERVER span of one request. Only a 5xx is an error on the server side (HTTP
/// conventions); its message is what the service logs for it.
fn server_span(
    svc: &Service,
    trace: &TraceContext,
    path: &str,
    (start, end): (SystemTime, SystemTime),
    status: StatusCode,
    failure: Failure,
) -> otlp::Span {
    let mut attributes = vec![
        otlp::attr("http.request.method", "GET"),
        otlp::attr("url.path", path),
        otlp::attr("url.scheme", "http"),
        otlp::attr("http.route", "/"),
        otlp::attr_int("http.response.status_code", i64::from(status.as_u16())),
        otlp::attr_int("server.port", i64::from(svc.config.listen.port())),
        otlp::attr("network.protocol.version", "1.1"),
    ];
    let span_status = if status.is_server_error() {
        let (kind, message) = failure.unwrap_or_else(|| {
            (
                status.as_u16().to_string(),
                format!("GET / {}", status.as_u16()),
            )
        });
        attributes.push(otlp::attr("error.type", kind));
        otlp::error_status(message)
    } else {
        None
    };
    otlp::Span {
        trace_id: trace::id_bytes(&trace.trace_id),
        span_id: trace::id_bytes(&trace.span_id),
        parent_span_id: trace
            .parent_span_id
            .as_deref()
            .map(trace::id_bytes)
            .unwrap_or_default(),
        flags: u32::from(trace.sampled()),
        name: "GET /".to_owned(),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: otlp::unix_nanos(start),
        end_time_unix_nano: otlp::unix_nanos(end),
        attributes,
        status: span_status,
        ..Default::default()
    }
}

async fn handle(
    svc: &Service,
    headers: &HeaderMap,
    trace: &TraceContext,
) -> (StatusCode, Value, Failure) {
    let tid = Some(trace.trace_id.as_str());
    if faults::fires(faults::PANIC).is_some() {
        // The message a real bug would print; nothing in the logs may say "injected".
        panic!("called `Option::unwrap()` on a `None` value");
    }
    if faults::fires(faults::HANDLER_ERROR).is_some() {
        svc.logger.log(
            Level::Error,
            "Unhandled Exception in GET /: NullReferenceError: cannot read field 'sku' of null",
            tid,
            json!({
                "exception": "NullReferenceError",
                "stack": ["pricing::apply_discount", "handler::handle", "handler::root"],
            }),
        );
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": "internal error", "service": svc.config.service}),
            Some((
                "NullReferenceError".to_owned(),
                "NullReferenceError: cannot read field 'sku' of null".to_owned(),
            )),
        );
    }
    if let Some(ms) = faults::fires_with(faults::HANDLER_SLOW, 500) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(ms) = faults::fires_with(faults::HOT_LOOP, 50) {
        faults::burn_cpu(Duration::from_millis(ms));
    }
    if let Some(bytes) = faults::fires_with(faults::LEAK_MEMORY, 1 << 20) {
        faults::leak_memory(usize::try_from(bytes).unwrap_or(usize::MAX));
    }

    // Memory held for the request's lifetime; filled so the pages are really resident.
    let held = vec![0x5Au8; usize::try_from(svc.config.memory_kb_per_request).unwrap_or(0) * 1024];
    if svc.config.cpu_ms > 0.0 {
        faults::burn_cpu(Duration::from_secs_f64(svc.config.cpu_ms / 1000.0));
    }
    if svc.config.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(svc.config.latency_ms)).await;
    }

    let mut body = json!({
        "service": svc.config.service,
        "kind": svc.config.kind.as_str(),
        "trace_id": trace.trace_id,
    });
    match svc.config.kind {
        Kind::Cache => body["hit"] = json!(cache_hit(svc)),
        Kind::Database => slow_query(svc, headers, trace).await,
        _ => {}
    }

    let mut calls = Vec::new();
    let mut cache_hit = false;
    for peer in &svc.peers {
        let mut extra = Vec::new();
        match peer.kind {
            Some(Kind::Cache) if faults::fires(faults::CACHE_BYPASS).is_some() => {
                svc.metrics.record_cache("bypass");
                continue;
            }
            Some(Kind::Database) if cache_hit => continue,
            Some(Kind::Database) => {
                if let Some(ms) = faults::fires_with(faults::SLOW_QUERY, 800) {
                    extra.push((SLOW_QUERY_HEADER, ms.to_string()));
                }
            }
            _ => {}
        }
        let start = Instant::now();
        match call_peer(svc, peer, trace, extra).await {
            Ok((status, attempts, reply)) => {
                if peer.kind == Some(Kind::Cache) {
                    cache_hit = reply["hit"].as_bool().unwrap_or(false);
                    svc.metrics
                        .record_cache(if cache_hit { "hit" } else { "miss" });
                }
                if peer.kind == Some(Kind::Database) {
                    svc.metrics.db_queries.inc();
                    svc.metrics
                        .db_query_duration
                        .observe(start.elapsed().as_secs_f64());
                }
                calls.push(json!({
                    "peer": peer.name,
                    "status": status,
                    "attempts": attempts,
                    "trace_id": reply["trace_id"],
                }));
            }
            Err(e) => {
                svc.logger.log(
                    Level::Error,
                    &format!("request failed: call to {} failed: {e}", peer.name),
                    tid,
                    json!({"peer": peer.name, "outcome": e.outcome()}),
                );
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": e.to_string(), "service": svc.config.service, "peer": peer.name}),
                    Some((
                        match e {
                            // The service answers 500 because its downstream did.
                            client::CallError::Status { .. } => "500".to_owned(),
                            _ => e.outcome().to_owned(),
                        },
                        format!("call to {} failed: {e}", peer.name),
                    )),
                );
            }
        }
    }
    std::hint::black_box(&held);
    body["calls"] = Value::Array(calls);
    (StatusCode::OK, body, None)
}

async fn call_peer(
    svc: &Service,
    peer: &Peer,
    trace: &TraceContext,
    mut headers: Vec<(&'static str, String)>,
) -> Result<(u16, u32, Value), client::CallError> {
    headers.push((CALLER_HEADER, svc.config.service.clone()));
    let request = CallRequest {
        path: peer.path.clone(),
        headers,
    };
    let policy = RetryPolicy {
        retries: svc.config.retries,
        timeout: svc.config.call_timeout(),
        backoff: Duration::from_millis(20),
        storm: faults::fires_with(faults::RETRY_STORM, 5)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        leak_connection: faults::fires(faults::LEAK_CONNECTION).is_some(),
    };
    let observe = Observe {
        metrics: &svc.metrics,
        logger: &svc.logger,
        tracer: &svc.tracer,
        trace,
    };
    let reply = client::call(&peer.pool, &peer.name, &request, policy, observe).await?;
    let json = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    Ok((reply.status, reply.attempts, json))
}

/// Spreads hits evenly at `cache_hit_pct` (deterministic, so tests and replays agree).
fn cache_hit(svc: &Service) -> bool {
    let n = svc.cache_lookups.fetch_add(1, Ordering::Relaxed) as f64;
    let share = svc.config.cache_hit_pct / 100.0;
    ((n + 1.0) * share).floor() > (n * share).floor()
}

/// A database peer runs the slow query its caller asked for: mostly waiting, partly
/// scanning (CPU), and logs it as databases do.
async fn slow_query(svc: &Service, headers: &HeaderMap, trace: &TraceContext) {
    let Some(ms) = headers
        .get(SLOW_QUERY_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return;
    };
    let caller = headers
        .get(CALLER_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown")
        .to_owned();
    faults::burn_cpu(Duration::from_millis(ms / 5));
    tokio::time::sleep(Duration::from_millis(ms - ms / 5)).await;
    svc.logger.log(
        Level::Warn,
        &format!("slow query: {ms} ms for SELECT * FROM orders WHERE note LIKE '%…%' (sequential scan) from {caller}"),
        Some(&trace.trace_id),
        json!({"duration_ms": ms, "caller": caller}),
    );
}
