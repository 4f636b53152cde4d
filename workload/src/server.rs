//! The HTTP surface: `GET /`, `GET /healthz`, `GET /metrics`, and the failpoint admin
//! endpoint `GET|POST /admin/failpoints` (bearer token from the config).

use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;

use crate::faults;
use crate::handler;
use crate::log::Level;
use crate::service::Service;

/// The router for one service.
pub fn router(svc: Arc<Service>) -> Router {
    Router::new()
        .route("/", get(handler::root))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route(
            "/admin/failpoints",
            get(list_failpoints).post(set_failpoint),
        )
        .with_state(svc)
}

/// How long a stopping service waits for its last spans to be exported.
const FINAL_FLUSH: std::time::Duration = std::time::Duration::from_secs(2);

/// Serves on `listener` until `shutdown` completes, then drains in-flight requests.
/// With an OTLP endpoint configured, the span exporter runs beside the server and
/// sends what is left once the server has stopped (for at most 2 s).
pub async fn serve(
    svc: Arc<Service>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let endpoint = svc.config.otlp_endpoint().ok().flatten();
    let exporter = endpoint.and_then(|e| svc.tracer.exporter(e, svc.logger.clone()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let export = exporter.map(|e| {
        tokio::spawn(e.run(async move {
            let _ = stopped.await;
        }))
    });
    let served = axum::serve(listener, router(svc))
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop.send(());
    if let Some(task) = export {
        let _ = tokio::time::timeout(FINAL_FLUSH, task).await;
    }
    served
}

/// A health check above this is logged as slow (and one below it after a slow one as
/// recovered), as services that time their own checks do.
const HEALTH_THRESHOLD: std::time::Duration = std::time::Duration::from_millis(200);

async fn healthz(State(svc): State<Arc<Service>>) -> Json<serde_json::Value> {
    let start = std::time::Instant::now();
    if let Some(ms) = crate::faults::fires_with(crate::faults::HEALTHZ_SLOW, 300) {
        // The dependency check behind the health endpoint is slow.
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    let took = start.elapsed();
    let ms = took.as_millis();
    let slow = took > HEALTH_THRESHOLD;
    let was_slow = svc
        .health_slow
        .swap(slow, std::sync::atomic::Ordering::Relaxed);
    if slow {
        svc.logger.log(
            crate::log::Level::Warn,
            &format!("health check latency above threshold: {ms}ms (threshold 200ms)"),
            None,
            json!({"duration_ms": ms}),
        );
    } else if was_slow {
        svc.logger.log(
            crate::log::Level::Info,
            &format!("health check latency back to normal: {ms}ms"),
            None,
            json!({"duration_ms": ms}),
        );
    }
    Json(json!({"status": "ok", "service": svc.config.service}))
}

async fn metrics(State(svc): State<Arc<Service>>) -> Response {
    match svc.metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "metrics encoding failed").into_response(),
    }
}

/// Body of `POST /admin/failpoints`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailpointUpdate {
    name: String,
    /// fail's action syntax (`30%return(5)`), or `off`.
    actions: String,
}

/// `Some(response)` when the request must be refused.
fn refuse(svc: &Service, headers: &HeaderMap) -> Option<Response> {
    let Some(token) = svc.config.admin_token.as_deref() else {
        return Some(
            (
                StatusCode::FORBIDDEN,
                Json(json!({"error": "admin endpoint disabled: no OTRASHI_ADMIN_TOKEN"})),
            )
                .into_response(),
        );
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if given != Some(token) {
        return Some(
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({"error": "bad token"})),
            )
                .into_response(),
        );
    }
    None
}

async fn list_failpoints(State(svc): State<Arc<Service>>, headers: HeaderMap) -> Response {
    if let Some(denied) = refuse(&svc, &headers) {
        return denied;
    }
    let list: Vec<_> = faults::active()
        .into_iter()
        .map(|(name, actions)| json!({"name": name, "actions": actions}))
        .collect();
    Json(json!({"failpoints": list})).into_response()
}

async fn set_failpoint(
    State(svc): State<Arc<Service>>,
    headers: HeaderMap,
    Json(update): Json<FailpointUpdate>,
) -> Response {
    if let Some(denied) = refuse(&svc, &headers) {
        return denied;
    }
    match faults::set(&update.name, &update.actions) {
        Ok(()) => {
            // Like a config push: visible as a change, silent about what changed.
            let state: Vec<String> = faults::active()
                .into_iter()
                .map(|(name, actions)| format!("{name}={actions}"))
                .collect();
            svc.logger.log(
                Level::Info,
                "runtime configuration reloaded",
                None,
                json!({"build": faults::build_id(&state.join(";"))}),
            );
            Json(json!({"name": update.name, "actions": update.actions})).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}
