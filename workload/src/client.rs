//! Downstream calls: one attempt over the bounded pool under a deadline, and the retry
//! policy around attempts (including the `retry_storm` bug).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use serde_json::json;

use crate::log::{Level, Logger};
use crate::metrics::Metrics;
use crate::pool::{Pool, PoolError};
use crate::resp::{RespError, RespPool, Value};

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
    /// Extra headers (`traceparent`, the caller's name, slow-query hints).
    pub headers: Vec<(&'static str, String)>,
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

/// Calls `peer` under `policy`, recording every attempt in `metrics` and logging retries.
pub async fn call(
    pool: &Arc<Pool>,
    peer: &str,
    req: &CallRequest,
    policy: RetryPolicy,
    metrics: &Metrics,
    logger: &Logger,
    trace_id: &str,
) -> Result<CallResponse, CallError> {
    let (attempts, (status, body)) = with_retries(peer, policy, metrics, logger, trace_id, || {
        attempt_once(pool, peer, req, policy)
    })
    .await?;
    Ok(CallResponse {
        status,
        body,
        attempts,
    })
}

/// Sends one command to the real Redis `peer` under `policy` (retries, deadline, a
/// retry storm, a leaked connection), recording every attempt as [`call`] does.
/// Returns the attempts made and the reply.
#[allow(clippy::too_many_arguments)]
pub async fn call_redis(
    pool: &RespPool,
    peer: &str,
    args: &[&[u8]],
    policy: RetryPolicy,
    metrics: &Metrics,
    logger: &Logger,
    trace_id: &str,
) -> Result<(u32, Value), CallError> {
    with_retries(peer, policy, metrics, logger, trace_id, || async {
        pool.command(args, policy.timeout, policy.leak_connection)
            .await
            .map_err(CallError::from)
    })
    .await
}

async fn with_retries<T, F, Fut>(
    peer: &str,
    policy: RetryPolicy,
    metrics: &Metrics,
    logger: &Logger,
    trace_id: &str,
    mut attempt_once: F,
) -> Result<(u32, T), CallError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CallError>>,
{
    let max_attempts = match policy.storm {
        Some(n) => n.max(1),
        None => policy.retries + 1,
    };
    let mut backoff = policy.backoff;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let start = Instant::now();
        let result = attempt_once().await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.outcome(),
        };
        metrics.record_client(peer, outcome, start.elapsed().as_secs_f64());
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
