//! OpenTelemetry spans, exported over OTLP/HTTP protobuf.
//!
//! Every handled request records a SERVER span and every downstream attempt a CLIENT
//! span (a retry is its own span with `http.request.resend_count`, as the HTTP
//! semantic conventions ask). Recording never waits and never fails: a span goes into
//! a bounded in-memory queue, or is counted in `otel_spans_dropped_total{reason=
//! "queue_full"}` when the queue is full. The [`Exporter`] task sends batches of at
//! most [`MAX_BATCH`] spans every [`EXPORT_INTERVAL`] (sooner when a batch is full) to
//! the configured endpoint with `POST` and `content-type: application/x-protobuf`;
//! a batch that is not accepted is dropped and counted (`export_failed`), so a slow
//! or absent receiver costs the service nothing but its spans.
//!
//! Span attributes follow the OTel semantic conventions ([`SCHEMA_URL`]): server
//! spans carry `http.request.method`, `url.path`, `url.scheme`, `http.route`,
//! `http.response.status_code`, `server.port` and, on a 5xx, `error.type` and an
//! error status whose message is what the service would log; client spans carry
//! `http.request.method`, `server.address`, `server.port`, `url.full`,
//! `peer.service`, `http.response.status_code` when an answer came, and
//! `http.request.resend_count` on retries. Like the logs, spans describe symptoms as a
//! real service would report them and never name a failpoint.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use otrashi_proto::opentelemetry::proto::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use otrashi_proto::opentelemetry::proto::common::v1::{
    any_value, AnyValue, InstrumentationScope, KeyValue,
};
use otrashi_proto::opentelemetry::proto::resource::v1::Resource;
use otrashi_proto::opentelemetry::proto::trace::v1::{ResourceSpans, ScopeSpans};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prost::Message;
use serde_json::json;
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::config::Endpoint;
use crate::log::{Level, Logger};
use crate::metrics::{DropLabels, Metrics};

pub use otrashi_proto::opentelemetry::proto::trace::v1::span::SpanKind;
pub use otrashi_proto::opentelemetry::proto::trace::v1::status::StatusCode;
pub use otrashi_proto::opentelemetry::proto::trace::v1::{Span, Status};

/// Spans waiting for export at most; more are dropped and counted.
pub const QUEUE_CAPACITY: usize = 2048;
/// Spans per export request at most.
pub const MAX_BATCH: usize = 256;
/// Time between exports when no batch fills up.
pub const EXPORT_INTERVAL: Duration = Duration::from_millis(500);
/// Deadline of one export request (connect included).
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(2);
/// The semantic conventions the attributes follow.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.26.0";
/// Largest receiver response read.
const MAX_RESPONSE: usize = 64 * 1024;

/// A string attribute.
pub fn attr(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
    }
}

/// An integer attribute.
pub fn attr_int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
    }
}

/// Unix nanoseconds of a wall-clock time.
pub fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// An error status with `message` (what the span's service would log).
pub fn error_status(message: impl Into<String>) -> Option<Status> {
    Some(Status {
        message: message.into(),
        code: StatusCode::Error as i32,
    })
}

struct Shared {
    queue: Mutex<Vec<Span>>,
    capacity: usize,
    wake: Notify,
    resource: Resource,
    exported: Counter,
    dropped: Family<DropLabels, Counter>,
}

impl Shared {
    fn drop_spans(&self, reason: &str, n: usize) {
        self.dropped
            .get_or_create(&DropLabels {
                reason: reason.to_owned(),
            })
            .inc_by(n as u64);
    }

    fn take(&self, max: usize) -> Vec<Span> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let n = queue.len().min(max);
        queue.drain(..n).collect()
    }
}

/// Where a service's spans go: a bounded queue drained by an [`Exporter`], or nowhere
/// when no endpoint is configured. Cheap to clone.
#[derive(Clone, Default)]
pub struct Tracer {
    shared: Option<Arc<Shared>>,
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracer")
            .field("enabled", &self.enabled())
            .finish()
    }
}

impl Tracer {
    /// A tracer that records nothing (no exporter configured).
    pub fn disabled() -> Tracer {
        Tracer::default()
    }

    /// A tracer for `service` whose resource carries `attributes` besides
    /// `service.name`, counting in `metrics`, with a queue of `capacity` spans.
    pub fn new(
        service: &str,
        attributes: &[(String, String)],
        metrics: &Metrics,
        capacity: usize,
    ) -> Tracer {
        let mut attrs = vec![
            attr("service.name", service),
            attr("service.version", env!("CARGO_PKG_VERSION")),
            attr("telemetry.sdk.name", "otrashi-workload"),
            attr("telemetry.sdk.language", "rust"),
            attr("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
        ];
        for (k, v) in attributes {
            attrs.retain(|a| a.key != *k);
            attrs.push(attr(k, v.clone()));
        }
        Tracer {
            shared: Some(Arc::new(Shared {
                queue: Mutex::new(Vec::new()),
                capacity,
                wake: Notify::new(),
                resource: Resource {
                    attributes: attrs,
                    ..Default::default()
                },
                exported: metrics.spans_exported.clone(),
                dropped: metrics.spans_dropped.clone(),
            })),
        }
    }

    /// Whether spans are recorded (callers skip building them otherwise).
    pub fn enabled(&self) -> bool {
        self.shared.is_some()
    }

    /// Queues one finished span; never blocks. A full queue drops it (counted).
    pub fn record(&self, span: Span) {
        let Some(shared) = &self.shared else {
            return;
        };
        let len = {
            let mut queue = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
            if queue.len() >= shared.capacity {
                drop(queue);
                shared.drop_spans("queue_full", 1);
                return;
            }
            queue.push(span);
            queue.len()
        };
        if len >= MAX_BATCH {
            shared.wake.notify_one();
        }
    }

    /// Spans queued and not yet exported.
    pub fn queued(&self) -> usize {
        self.shared.as_ref().map_or(0, |s| {
            s.queue.lock().unwrap_or_else(PoisonError::into_inner).len()
        })
    }

    /// The task that sends this tracer's spans to `endpoint`; `None` when disabled.
    pub fn exporter(&self, endpoint: Endpoint, logger: Logger) -> Option<Exporter> {
        Some(Exporter {
            shared: self.shared.clone()?,
            endpoint,
            sender: None,
            logger,
            failing: false,
        })
    }
}

/// Sends queued spans in batches; see the module docs.
pub struct Exporter {
    shared: Arc<Shared>,
    endpoint: Endpoint,
    sender: Option<SendRequest<Full<Bytes>>>,
    logger: Logger,
    /// Whether the last export failed (a failure is logged once per streak).
    failing: bool,
}

impl fmt::Debug for Exporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exporter")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl Exporter {
    /// Exports until `stop` completes, then exports what is still queued (the final
    /// flush: a stopping service sends its last spans).
    pub async fn run(mut self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            tokio::select! {
                biased;
                () = &mut stop => break,
                () = self.shared.wake.notified() => {}
                () = tokio::time::sleep(EXPORT_INTERVAL) => {}
            }
            self.export_pending().await;
        }
        self.export_pending().await;
    }

    /// Exports everything queued now, batch by batch; returns the spans accepted.
    pub async fn export_pending(&mut self) -> usize {
        let mut accepted = 0;
        loop {
            let batch = self.shared.take(MAX_BATCH);
            if batch.is_empty() {
                return accepted;
            }
            let full = batch.len() == MAX_BATCH;
            accepted += self.export(batch).await;
            if !full {
                return accepted;
            }
        }
    }

    async fn export(&mut self, spans: Vec<Span>) -> usize {
        let n = spans.len();
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(self.shared.resource.clone()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "otrashi-workload".to_owned(),
                        version: env!("CARGO_PKG_VERSION").to_owned(),
                        ..Default::default()
                    }),
                    spans,
                    schema_url: SCHEMA_URL.to_owned(),
                }],
                schema_url: SCHEMA_URL.to_owned(),
            }],
        };
        let body = Bytes::from(request.encode_to_vec());
        let outcome = match tokio::time::timeout(EXPORT_TIMEOUT, self.post(body)).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {EXPORT_TIMEOUT:?}")),
        };
        match outcome {
            Ok(rejected) => {
                let rejected = rejected.min(n);
                if rejected > 0 {
                    self.shared.drop_spans("rejected", rejected);
                }
                self.shared.exported.inc_by((n - rejected) as u64);
                if self.failing {
                    self.failing = false;
                    self.logger.log(
                        Level::Info,
                        &format!("span export to {} recovered", self.endpoint.authority),
                        None,
                        json!({}),
                    );
                }
                n - rejected
            }
            Err(reason) => {
                self.sender = None;
                self.shared.drop_spans("export_failed", n);
                if !self.failing {
                    self.failing = true;
                    self.logger.log(
                        Level::Warn,
                        &format!(
                            "span export to {} failed: {reason}; dropping spans until it recovers",
                            self.endpoint.authority
                        ),
                        None,
                        json!({"dropped": n}),
                    );
                }
                0
            }
        }
    }

    /// One POST; `Ok(rejected spans)` on a 2xx answer.
    async fn post(&mut self, body: Bytes) -> Result<usize, String> {
        let mut sender = match self.sender.take() {
            Some(s) if !s.is_closed() => s,
            _ => self.connect().await?,
        };
        sender.ready().await.map_err(|e| e.to_string())?;
        let request = Request::post(&self.endpoint.path)
            .header("host", &self.endpoint.authority)
            .header("content-type", "application/x-protobuf")
            .header(
                "user-agent",
                concat!("otrashi-workload/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        self.sender = Some(sender);
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            return Err(format!("HTTP {}: {}", status.as_u16(), text.trim()));
        }
        let rejected = ExportTraceServiceResponse::decode(bytes)
            .ok()
            .and_then(|r| r.partial_success)
            .map_or(0, |p| usize::try_from(p.rejected_spans).unwrap_or(0));
        Ok(rejected)
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let stream = TcpStream::connect(&self.endpoint.authority)
            .await
            .map_err(|e| format!("dial tcp {}: {e}", self.endpoint.authority))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(name: &str) -> Span {
        Span {
            name: name.to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let metrics = Metrics::new();
        let tracer = Tracer::new("cart", &[], &metrics, 2);
        for _ in 0..5 {
            tracer.record(span("GET /"));
        }
        assert_eq!(tracer.queued(), 2);
        let text = metrics.encode().unwrap();
        assert!(
            text.contains("otel_spans_dropped_total{reason=\"queue_full\"} 3"),
            "{text}"
        );
        Tracer::disabled().record(span("GET /"));
        assert_eq!(Tracer::disabled().queued(), 0);
    }

    #[test]
    fn the_resource_names_the_service_and_its_instance() {
        let metrics = Metrics::new();
        let attrs = [("service.instance.id".to_owned(), "cart-1".to_owned())];
        let tracer = Tracer::new("cart", &attrs, &metrics, 8);
        let resource = &tracer.shared.as_ref().unwrap().resource;
        let get = |k: &str| {
            resource
                .attributes
                .iter()
                .find(|a| a.key == k)
                .and_then(|a| a.value.clone())
                .and_then(|v| v.value)
        };
        assert_eq!(
            get("service.name"),
            Some(any_value::Value::StringValue("cart".into()))
        );
        assert_eq!(
            get("service.instance.id"),
            Some(any_value::Value::StringValue("cart-1".into()))
        );
    }

    #[tokio::test]
    async fn an_unreachable_receiver_costs_the_batch_and_warns_once() {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let metrics = Metrics::new();
        let tracer = Tracer::new("cart", &[], &metrics, 16);
        let (logger, logs) = Logger::in_memory("cart");
        let mut exporter = tracer
            .exporter(
                Endpoint {
                    protocol: crate::config::Protocol::Http,
                    authority: closed.to_string(),
                    path: "/v1/traces".to_owned(),
                },
                logger,
            )
            .unwrap();
        tracer.record(span("GET /"));
        tracer.record(span("GET"));
        assert_eq!(exporter.export_pending().await, 0);
        tracer.record(span("GET /"));
        assert_eq!(exporter.export_pending().await, 0);
        let text = metrics.encode().unwrap();
        assert!(
            text.contains("otel_spans_dropped_total{reason=\"export_failed\"} 3"),
            "{text}"
        );
        let lines = logs.lines();
        assert_eq!(lines.len(), 1, "one warning per failure streak: {lines:?}");
        assert!(lines[0].contains("span export to"), "{lines:?}");
    }
}
