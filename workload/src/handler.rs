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
use crate::pool::Pool;
use crate::resp::RespPool;
use crate::service::{Peer, Service, Transport};
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

/// Whether an `Authorization` value is a bearer token shaped like a JWT (three
/// base64url segments).
fn well_formed_token(value: &str) -> bool {
    let Some(token) = value.strip_prefix("Bearer ") else {
        return false;
    };
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
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
    if let Some(auth) = headers.get(axum::http::header::AUTHORIZATION) {
        if !auth.to_str().is_ok_and(well_formed_token) {
            // A client's fault, answered with a 4xx: loud in the logs, harmless.
            let client = headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("unknown")
                .to_owned();
            svc.logger.log(
                Level::Error,
                &format!(
                    "authentication failed for client {client}: malformed JWT; rejecting with 401"
                ),
                tid,
                json!({"client": client}),
            );
            // A 4xx is not an error of the server's span (HTTP conventions).
            return (
                StatusCode::UNAUTHORIZED,
                json!({"error": "unauthorized", "service": svc.config.service}),
                None,
            );
        }
    }
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

    // The service's own settings, read per request as a config library does: a bad
    // value fails the requests that use it, not the start.
    let mut call_timeout = svc.config.call_timeout();
    if let Some(raw) = &svc.config.upstream_timeout {
        if in_share(
            &trace.trace_id,
            "setting",
            svc.config.upstream_timeout_rollout_pct,
        ) {
            match crate::config::parse_duration(raw) {
                Ok(d) => call_timeout = d,
                Err(reason) => {
                    let key = crate::config::setting_key(&svc.config.service);
                    svc.logger.log(
                        Level::Error,
                        &format!("invalid configuration: {key}={raw:?}: {reason}"),
                        tid,
                        json!({"key": key, "value": raw}),
                    );
                    return (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        json!({"error": "invalid configuration", "service": svc.config.service}),
                        Some((
                            "invalid_configuration".to_owned(),
                            format!("invalid configuration: {key}: {reason}"),
                        )),
                    );
                }
            }
        }
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
    // One key per request, shared by its cache and database commands (a cache miss reads
    // the same row the cache then holds).
    let key = svc.key_counter.fetch_add(1, Ordering::Relaxed);
    for peer in &svc.peers {
        let mut extra = Vec::new();
        let mut slow_ms = None;
        match peer.kind {
            Some(Kind::Cache) if faults::fires(faults::CACHE_BYPASS).is_some() => {
                svc.metrics.record_cache("bypass");
                continue;
            }
            Some(Kind::Database) if cache_hit => continue,
            Some(Kind::Database) => {
                if let Some(ms) = faults::fires_with(faults::SLOW_QUERY, 800) {
                    extra.push((SLOW_QUERY_HEADER, ms.to_string()));
                    slow_ms = Some(ms);
                }
            }
            _ => {}
        }
        let start = Instant::now();
        let result = match &peer.transport {
            Transport::Http(pool) => call_peer(svc, peer, pool, trace, extra, call_timeout)
                .await
                .map(|(status, attempts, reply)| {
                    (
                        status,
                        attempts,
                        reply["hit"].as_bool(),
                        reply["trace_id"].clone(),
                    )
                }),
            Transport::Redis(pool) => {
                redis_peer(svc, peer, pool, trace, key, slow_ms, call_timeout)
                    .await
                    .map(|(attempts, hit)| (200, attempts, hit, Value::Null))
            }
        };
        match result {
            Ok((status, attempts, hit, trace_id)) => {
                if peer.kind == Some(Kind::Cache) {
                    cache_hit = hit.unwrap_or(false);
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
                    "trace_id": trace_id,
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
    if let Some(data) = svc.data.as_ref() {
        if in_share(&trace.trace_id, "write", svc.config.write_share()) {
            let record = format!("{} {}\n", trace.trace_id, body);
            if let Err(e) = data.append(record.as_bytes()) {
                svc.logger.log(
                    Level::Error,
                    &format!("write failed: write {}: {e}", data.path().display()),
                    tid,
                    json!({"path": data.path().display().to_string()}),
                );
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": "write failed", "service": svc.config.service}),
                    Some((
                        "io_error".to_owned(),
                        format!("write {}: {e}", data.path().display()),
                    )),
                );
            }
        }
    }
    body["calls"] = Value::Array(calls);
    (StatusCode::OK, body, None)
}

/// Whether the request of trace `trace_id` is among the `pct` percent that `what`
/// applies to. Keyed by the trace, as a write is a write on every hop and on every
/// retry, and a staged rollout keeps a request on one side.
fn in_share(trace_id: &str, what: &str, pct: f64) -> bool {
    // FNV-1a: stable across processes and versions.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in what.bytes().chain(trace_id.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    ((h % 10_000) as f64) < pct.clamp(0.0, 100.0) * 100.0
}

/// Whether request number `n` is among the `pct` percent picked, spread evenly
/// (deterministic, so tests and replays agree).
fn spread(n: u64, pct: f64) -> bool {
    let share = pct.clamp(0.0, 100.0) / 100.0;
    let n = n as f64;
    ((n + 1.0) * share).floor() > (n * share).floor()
}

/// The retry policy of one downstream call, with the failpoints that bend it.
fn policy(svc: &Service, timeout: Duration) -> RetryPolicy {
    RetryPolicy {
        retries: svc.config.retries,
        timeout,
        backoff: Duration::from_millis(20),
        storm: faults::fires_with(faults::RETRY_STORM, 5)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        leak_connection: faults::fires(faults::LEAK_CONNECTION).is_some(),
    }
}

/// One request's work on a real Redis: a cache is read with `GET` and filled with
/// `SET … EX` on a miss; a database row is read with `GET` and written with `SET` when
/// missing; a slow query runs first as an `EVAL` busy loop (see
/// [`crate::resp::SLOW_SCRIPT`]). Returns the commands sent and, for a cache, whether
/// it hit.
async fn redis_peer(
    svc: &Service,
    peer: &Peer,
    pool: &RespPool,
    trace: &TraceContext,
    n: u64,
    slow_ms: Option<u64>,
    timeout: Duration,
) -> Result<(u32, Option<bool>), client::CallError> {
    // A multiplicative hash spreads consecutive requests over the keyspace.
    let k = (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % svc.config.keyspace;
    let cache = peer.kind == Some(Kind::Cache);
    let key = if cache {
        format!("item:{k}")
    } else {
        format!("row:{k}")
    };
    let send = |args: Vec<Vec<u8>>| async move {
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        client::call_redis(
            pool,
            &peer.name,
            &refs,
            policy(svc, timeout),
            Observe {
                metrics: &svc.metrics,
                logger: &svc.logger,
                tracer: &svc.tracer,
                trace,
            },
        )
        .await
    };
    let mut commands = 0;
    if let Some(ms) = slow_ms {
        let (a, _) = send(vec![
            b"EVAL".to_vec(),
            crate::resp::SLOW_SCRIPT.as_bytes().to_vec(),
            b"0".to_vec(),
            ms.to_string().into_bytes(),
        ])
        .await?;
        commands += a;
    }
    let (a, got) = send(vec![b"GET".to_vec(), key.clone().into_bytes()]).await?;
    commands += a;
    let hit = !got.is_nil();
    if !hit {
        let mut set = vec![
            b"SET".to_vec(),
            key.into_bytes(),
            vec![b'v'; svc.config.value_bytes],
        ];
        if cache {
            set.push(b"EX".to_vec());
            set.push(svc.config.cache_ttl_s.to_string().into_bytes());
        }
        let (a, _) = send(set).await?;
        commands += a;
    }
    Ok((commands, cache.then_some(hit)))
}

async fn call_peer(
    svc: &Service,
    peer: &Peer,
    pool: &Arc<Pool>,
    trace: &TraceContext,
    mut headers: Vec<(&'static str, String)>,
    timeout: Duration,
) -> Result<(u16, u32, Value), client::CallError> {
    headers.push((CALLER_HEADER, svc.config.service.clone()));
    let request = CallRequest {
        path: peer.path.clone(),
        headers,
    };
    let observe = Observe {
        metrics: &svc.metrics,
        logger: &svc.logger,
        tracer: &svc.tracer,
        trace,
    };
    let reply = client::call(pool, &peer.name, &request, policy(svc, timeout), observe).await?;
    let json = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    Ok((reply.status, reply.attempts, json))
}

/// Spreads hits evenly at `cache_hit_pct`.
fn cache_hit(svc: &Service) -> bool {
    spread(
        svc.cache_lookups.fetch_add(1, Ordering::Relaxed),
        svc.config.cache_hit_pct,
    )
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

#[cfg(test)]
mod tests {
    use super::{in_share, spread, well_formed_token};

    #[test]
    fn only_jwt_shaped_bearer_tokens_pass() {
        assert!(well_formed_token("Bearer eyJh.eyJz.c2ln"));
        assert!(!well_formed_token("Bearer not-a-token"));
        assert!(!well_formed_token("Basic dXNlcjpwdw=="));
        assert!(!well_formed_token("Bearer a..c"));
    }

    #[test]
    fn shares_are_per_trace_and_near_their_percentage() {
        let ids: Vec<String> = (0..2000).map(|n| format!("{n:032x}")).collect();
        let picked = |pct| ids.iter().filter(|t| in_share(t, "write", pct)).count();
        assert_eq!(picked(0.0), 0);
        assert_eq!(picked(100.0), 2000);
        let quarter = picked(25.0);
        assert!((400..600).contains(&quarter), "{quarter}");
        // The same trace gets the same answer on every hop and retry.
        assert!(ids
            .iter()
            .all(|t| in_share(t, "write", 25.0) == in_share(t, "write", 25.0)));
    }

    #[test]
    fn spread_picks_the_share_evenly() {
        let picked = |pct| (0..1000).filter(|n| spread(*n, pct)).count();
        assert_eq!(picked(0.0), 0);
        assert_eq!(picked(25.0), 250);
        assert_eq!(picked(100.0), 1000);
        // Evenly: every window of 4 requests holds one at 25 %.
        assert_eq!((0..4).filter(|n| spread(*n, 25.0)).count(), 1);
    }
}
