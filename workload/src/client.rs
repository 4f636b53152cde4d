//! Downstream calls: one attempt over the bounded pool under a deadline, and the retry
//! policy around attempts (including the `retry_storm` bug). Each attempt is its own
//! CLIENT span and the callee's parent (its `traceparent` names the attempt's span).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use serde_json::json;

use crate::log::{Level, Logger};
use crate::metrics::Metrics;
use crate::otlp::{self, SpanKind, Tracer};
use crate::pool::{Pool, PoolError};
use crate::resp::{RespError, RespPool, Value};
use crate::trace::{self, TraceContext, TRACEPARENT};

/// Largest downstream response body read; the workload's own bodies are tiny.
const MAX_BODY: usize = 1 << 20;

/// Why one downstream attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No pool slot, or no connection could be made.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// The attempt ran past its deadline.
    #[error("upstream timeout: {peer} did not answer within {timeout_ms} ms")]
    Timeout {
        /// The downstream.
        peer: String,
        /// The deadline.
        timeout_ms: u64,
    },
    /// The exchange broke (reset, malformed response, body too large).
    #[error("connection reset by {peer}: {reason}")]
    Transport {
        /// The downstream.
        peer: String,
        /// What broke.
        reason: String,
    },
    /// The downstream answered with a 5xx status.
    #[error("upstream {peer} returned {status}")]
    Status {
        /// The downstream.
        peer: String,
        /// Its status code.
        status: u16,
    },
    /// A command to a real Redis failed.
    #[error(transparent)]
    Resp(#[from] RespError),
}

impl CallError {
    /// The `outcome` label in `http_client_requests_total`.
    pub fn outcome(&self) -> &'static str {
        match self {
            CallError::Pool(PoolError::AcquireTimeout { .. }) => "pool_timeout",
            CallError::Pool(PoolError::ConnectTimeout { .. }) => "timeout",
            CallError::Pool(_) | CallError::Transport { .. } => "connect_error",
            CallError::Timeout { .. } => "timeout",
            CallError::Status { .. } => "error",
            CallError::Resp(e) => match e {
                RespError::AcquireTimeout { .. } => "pool_timeout",
                RespError::ConnectTimeout { .. } | RespError::Timeout { .. } => "timeout",
                RespError::Server { .. } => "error",
                RespError::NoSuchHost { .. }
                | RespError::Connect { .. }
                | RespError::Io { .. }
                | RespError::Protocol { .. } => "connect_error",
            },
        }
    }
}

/// One downstream request as the handler wants it sent.
#[derive(Debug, Clone)]
pub struct CallRequest {
    /// Request path on the peer.
    pub path: String,
    /// Extra headers (the caller's name, slow-query hints); `traceparent` is added per
    /// attempt.
    pub headers: Vec<(&'static str, String)>,
}

/// Where a call reports what happened: metrics, logs, and spans under the caller's
/// server span.
#[derive(Debug, Clone, Copy)]
pub struct Observe<'a> {
    /// Attempt counters and durations.
    pub metrics: &'a Metrics,
    /// Retry warnings.
    pub logger: &'a Logger,
    /// One CLIENT span per attempt.
    pub tracer: &'a Tracer,
    /// The caller's span: the trace, and the parent of the attempts' spans.
    pub trace: &'a TraceContext,
}

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after a failed attempt.
    pub retries: u32,
    /// Deadline of each attempt.
    pub timeout: Duration,
    /// First backoff; doubled per retry.
    pub backoff: Duration,
    /// `retry_storm`: every call is sent this many times back to back, with no backoff,
    /// whatever the answer.
    pub storm: Option<u32>,
    /// `connection_leak`: the connection of each successful attempt is never returned.
    pub leak_connection: bool,
}

/// The answer of a downstream call that eventually succeeded.
#[derive(Debug, Clone)]
pub struct CallResponse {
    /// Status code (2xx-4xx).
    pub status: u16,
    /// Body bytes.
    pub body: Bytes,
    /// Attempts made.
    pub attempts: u32,
}

/// Calls `peer` under `policy`, recording every attempt (metrics, a span) and logging
/// retries.
pub async fn call(
    pool: &Arc<Pool>,
    peer: &str,
    req: &CallRequest,
    policy: RetryPolicy,
    obs: Observe<'_>,
) -> Result<CallResponse, CallError> {
    let target = Target::Http {
        authority: pool.authority(),
        path: &req.path,
    };
    let trace = obs.trace;
    let (attempts, (status, body)) = with_retries(
        peer,
        policy,
        obs,
        target,
        |span_id| {
            let mut sent = req.clone();
            sent.headers
                .push((TRACEPARENT, trace.header_with_parent(span_id)));
            async move { attempt_once(pool, peer, &sent, policy).await }
        },
        |(status, _)| Some(*status),
    )
    .await?;
    Ok(CallResponse {
        status,
        body,
        attempts,
    })
}

/// Sends one command to the real Redis `peer` under `policy` (retries, deadline, a
/// retry storm, a leaked connection), recording every attempt as [`call`] does (a
/// CLIENT span with the database conventions). Returns the attempts made and the reply.
pub async fn call_redis(
    pool: &RespPool,
    peer: &str,
    args: &[&[u8]],
    policy: RetryPolicy,
    obs: Observe<'_>,
) -> Result<(u32, Value), CallError> {
    let command = args
        .first()
        .map(|c| String::from_utf8_lossy(c).to_uppercase())
        .unwrap_or_default();
    let target = Target::Redis {
        authority: pool.authority(),
        command: &command,
    };
    with_retries(
        peer,
        policy,
        obs,
        target,
        |_| async {
            pool.command(args, policy.timeout, policy.leak_connection)
                .await
                .map_err(CallError::from)
        },
        |_| None,
    )
    .await
}

/// The attempts of one call under `policy`: `attempt_once` gets the attempt's span id
/// (an HTTP call names it as the callee's parent); `status_of` reads a reply's status
/// code for the span, when the protocol has one.
async fn with_retries<T, F, Fut>(
    peer: &str,
    policy: RetryPolicy,
    obs: Observe<'_>,
    target: Target<'_>,
    mut attempt_once: F,
    status_of: impl Fn(&T) -> Option<u16>,
) -> Result<(u32, T), CallError>
where
    F: FnMut(&str) -> Fut,
    Fut: std::future::Future<Output = Result<T, CallError>>,
{
    let Observe {
        metrics,
        logger,
        tracer,
        trace,
    } = obs;
    let trace_id = trace.trace_id.as_str();
    let max_attempts = match policy.storm {
        Some(n) => n.max(1),
        None => policy.retries + 1,
    };
    let mut backoff = policy.backoff;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let span_id = trace::new_span_id();
        let (wall, start) = (SystemTime::now(), Instant::now());
        let result = attempt_once(&span_id).await;
        let elapsed = start.elapsed();
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.outcome(),
        };
        metrics.record_client(peer, outcome, elapsed.as_secs_f64());
        if tracer.enabled() && trace.sampled() {
            let end = wall + elapsed;
            tracer.record(client_span(
                ClientAttempt {
                    target,
                    peer,
                    trace,
                    span_id: &span_id,
                    resend: attempt - 1,
                },
                (wall, end),
                result.as_ref().map(&status_of),
            ));
        }
        let retry = attempt < max_attempts && (policy.storm.is_some() || result.is_err());
        if !retry {
            return result.map(|v| (attempt, v));
        }
        let reason = match &result {
            Ok(_) => "a reply".to_owned(),
            Err(e) => e.to_string(),
        };
        logger.log(
            Level::Warn,
            &format!(
                "retrying call to {peer} after {reason} (attempt {attempt} of {max_attempts})"
            ),
            Some(trace_id),
            json!({"peer": peer, "attempt": attempt, "outcome": outcome}),
        );
        if policy.storm.is_none() {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
}

/// What a call is sent to, as its CLIENT spans describe it.
#[derive(Debug, Clone, Copy)]
enum Target<'a> {
    /// An HTTP request to `authority` for `path`.
    Http { authority: &'a str, path: &'a str },
    /// A Redis command to `authority`.
    Redis {
        authority: &'a str,
        command: &'a str,
    },
}

/// What a CLIENT span names.
struct ClientAttempt<'a> {
    target: Target<'a>,
    peer: &'a str,
    trace: &'a TraceContext,
    span_id: &'a str,
    /// Attempts before this one.
    resend: u32,
}

/// The CLIENT span of one attempt; `result` is the status code (when the protocol has
/// one) or the error.
fn client_span(
    a: ClientAttempt<'_>,
    (start, end): (SystemTime, SystemTime),
    result: Result<Option<u16>, &CallError>,
) -> otlp::Span {
    let authority = match a.target {
        Target::Http { authority, .. } | Target::Redis { authority, .. } => authority,
    };
    let (host, port) = authority.rsplit_once(':').unwrap_or((authority, "80"));
    let (name, mut attributes) = match a.target {
        Target::Http { path, .. } => (
            "GET".to_owned(),
            vec![
                otlp::attr("http.request.method", "GET"),
                otlp::attr("url.full", format!("http://{authority}{path}")),
            ],
        ),
        // OTel's database conventions: the span is named after the operation.
        Target::Redis { command, .. } => (
            command.to_owned(),
            vec![
                otlp::attr("db.system.name", "redis"),
                otlp::attr("db.operation.name", command),
            ],
        ),
    };
    attributes.extend([
        otlp::attr("server.address", host),
        otlp::attr_int("server.port", port.parse().unwrap_or(80)),
        otlp::attr("peer.service", a.peer),
    ]);
    if a.resend > 0 {
        attributes.push(otlp::attr_int(
            "http.request.resend_count",
            i64::from(a.resend),
        ));
    }
    let code = match result {
        Ok(code) => code,
        Err(CallError::Status { status, .. }) => Some(*status),
        Err(_) => None,
    };
    if let Some(code) = code {
        attributes.push(otlp::attr_int("http.response.status_code", i64::from(code)));
    }
    // A client span fails on any 4xx/5xx and on transport errors (HTTP conventions).
    let status = match (result, code) {
        (Err(e), Some(code)) => {
            attributes.push(otlp::attr("error.type", code.to_string()));
            otlp::error_status(e.to_string())
        }
        (Err(e), None) => {
            attributes.push(otlp::attr("error.type", e.outcome()));
            otlp::error_status(e.to_string())
        }
        (Ok(_), Some(code)) if code >= 400 => {
            attributes.push(otlp::attr("error.type", code.to_string()));
            otlp::error_status(format!("{} returned {code}", a.peer))
        }
        (Ok(_), _) => None,
    };
    otlp::Span {
        trace_id: trace::id_bytes(&a.trace.trace_id),
        span_id: trace::id_bytes(a.span_id),
        parent_span_id: trace::id_bytes(&a.trace.span_id),
        flags: u32::from(a.trace.sampled()),
        name,
        kind: SpanKind::Client as i32,
        start_time_unix_nano: otlp::unix_nanos(start),
        end_time_unix_nano: otlp::unix_nanos(end),
        attributes,
        status,
        ..Default::default()
    }
}

async fn attempt_once(
    pool: &Arc<Pool>,
    peer: &str,
    req: &CallRequest,
    policy: RetryPolicy,
) -> Result<(u16, Bytes), CallError> {
    let deadline = Instant::now() + policy.timeout;
    let mut conn = pool.acquire(deadline).await?;
    let exchange = async {
        let sender = conn.sender().ok_or_else(|| CallError::Transport {
            peer: peer.to_owned(),
            reason: "connection missing".to_owned(),
        })?;
        let broken = |e: &dyn std::fmt::Display| CallError::Transport {
            peer: peer.to_owned(),
            reason: e.to_string(),
        };
        sender.ready().await.map_err(|e| broken(&e))?;
        let mut builder = Request::get(&req.path).header("host", pool.authority());
        for (name, value) in &req.headers {
            builder = builder.header(*name, value);
        }
        let request = builder
            .body(Full::new(Bytes::new()))
            .map_err(|e| broken(&e))?;
        let response = sender.send_request(request).await.map_err(|e| broken(&e))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| broken(&*e))?
            .to_bytes();
        Ok((status, body))
    };
    let result = match tokio::time::timeout_at(deadline.into(), exchange).await {
        Ok(r) => r,
        Err(_) => Err(CallError::Timeout {
            peer: peer.to_owned(),
            timeout_ms: policy.timeout.as_millis() as u64,
        }),
    };
    match result {
        Ok((status, body)) => {
            conn.reusable();
            if policy.leak_connection {
                conn.leak();
            }
            if status >= 500 {
                Err(CallError::Status {
                    peer: peer.to_owned(),
                    status,
                })
            } else {
                Ok((status, body))
            }
        }
        Err(e) => Err(e),
    }
}
