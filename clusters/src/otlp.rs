//! An OTLP/HTTP trace receiver for real backends (feature `otlp`): the workload's
//! exporters `POST /v1/traces` with `content-type: application/x-protobuf`, and the
//! spans become the telemetry model's [`Span`]s for the trace tools. With feature
//! `otlp-grpc` (which `docker` turns on) the same port also serves the OTLP/gRPC
//! `TraceService/Export` over cleartext HTTP/2, for exporters of OTel SDKs that
//! default to gRPC.
//!
//! Backend-neutral: it binds where the caller says (the Docker backend binds the
//! episode network's gateway), maps `service.name` to the caller's service list, and
//! converts times with a caller-supplied [`Clock`] (Docker reports telemetry in
//! scenario time). It follows the OTLP/HTTP specification for responses: `200` with
//! an `ExportTraceServiceResponse` (with `partial_success` when spans were refused),
//! `400` for a body that does not decode, `404`/`405` for the wrong path or method,
//! `413` past the body limit, `415` for a content type or encoding it does not speak
//! (JSON, gzip); every error body is a protobuf `google.rpc.Status` whose message says
//! what was wrong. No input can make it panic: decoding is prost's, conversions are
//! checked.
//!
//! Mapping to [`Span`]: ids are the low 64 bits of the 128-bit trace id (as the log
//! records keep them) and the 64-bit span ids; the start goes through the clock, the
//! duration stays in real microseconds (latency is what it was, even when the
//! timeline is compressed); a SERVER span's operation is its name (`GET /`), a CLIENT
//! span's is `call <peer>` (`peer.service`, else `server.address`), as the simulator
//! names client spans; `http.response.status_code` gives the HTTP status; an error
//! status gives [`SpanStatus::Error`] with the status message (or `error.type`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use otrashi_gym::telemetry::{ServiceId, Span, SpanStatus};
use otrashi_proto::opentelemetry::proto::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use otrashi_proto::opentelemetry::proto::common::v1::{any_value, KeyValue};
use otrashi_proto::opentelemetry::proto::trace::v1::span::SpanKind;
use otrashi_proto::opentelemetry::proto::trace::v1::status::StatusCode as OtelStatus;
use otrashi_proto::opentelemetry::proto::trace::v1::Span as OtelSpan;
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

/// The path OTLP/HTTP exporters send traces to.
pub const TRACES_PATH: &str = "/v1/traces";
/// Default request body limit: far above a batch of the workload's 256 spans (~60 KiB).
pub const DEFAULT_MAX_BODY: usize = 4 * 1024 * 1024;

/// Maps a span's start (Unix nanoseconds) to the telemetry's time base (µs from the
/// start of the episode); `None` puts the span outside the episode, and it is refused.
pub type Clock = Arc<dyn Fn(u64) -> Option<u64> + Send + Sync>;

/// Why the receiver could not start.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    /// The listening socket could not be bound.
    #[error("cannot bind the OTLP receiver to {addr}; is that address on this host (for Docker: the episode network's gateway)?")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
}

/// Spans received so far, in the telemetry model, with their interned operations.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SpanStore {
    /// Operation names; [`Span::operation`] indexes this.
    pub operations: Vec<String>,
    /// Spans, in arrival order.
    pub spans: Vec<Span>,
    index: HashMap<String, u32>,
}

impl SpanStore {
    fn operation(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = u32::try_from(self.operations.len()).unwrap_or(u32::MAX);
        self.operations.push(name.to_owned());
        self.index.insert(name.to_owned(), i);
        i
    }

    /// Moves these spans into `operations`/`spans` of a telemetry under construction,
    /// re-indexing operations against the names already there.
    pub fn merge_into(self, operations: &mut Vec<String>, spans: &mut Vec<Span>) {
        let remap: Vec<u32> = self
            .operations
            .iter()
            .map(|name| match operations.iter().position(|o| o == name) {
                Some(i) => i as u32,
                None => {
                    operations.push(name.clone());
                    (operations.len() - 1) as u32
                }
            })
            .collect();
        spans.extend(self.spans.into_iter().map(|mut s| {
            s.operation = remap.get(s.operation as usize).copied().unwrap_or(0);
            s
        }));
    }
}

/// Counters of what the receiver saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverStats {
    /// Export requests answered 200.
    pub requests: u64,
    /// Requests refused (4xx).
    pub bad_requests: u64,
    /// Spans stored.
    pub accepted: u64,
    /// Spans refused (unknown service, invalid ids, outside the episode).
    pub rejected: u64,
}

/// What one request's conversion did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Converted {
    /// Spans stored.
    pub accepted: u64,
    /// Spans refused.
    pub rejected: u64,
    /// The first reason for a refusal, for `partial_success.error_message`.
    pub reason: Option<String>,
}

/// Converts every span of `request` into `store`: `services` maps `service.name` to
/// [`ServiceId`]s and `clock` places the starts (see the module docs). Pure.
pub fn convert(
    request: &ExportTraceServiceRequest,
    services: &[String],
    clock: &dyn Fn(u64) -> Option<u64>,
    store: &mut SpanStore,
) -> Converted {
    let mut out = Converted::default();
    for rs in &request.resource_spans {
        let name = rs
            .resource
            .as_ref()
            .and_then(|r| string_attr(&r.attributes, "service.name"));
        let service = name
            .as_deref()
            .and_then(|n| services.iter().position(|s| s == n))
            .and_then(|i| ServiceId::try_from(i).ok());
        for span in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
            let result = match service {
                Some(svc) => convert_span(span, svc, clock, store),
                None => Err(format!(
                    "resource service.name {:?} is not a service of this episode",
                    name.as_deref().unwrap_or("")
                )),
            };
            match result {
                Ok(()) => out.accepted += 1,
                Err(reason) => {
                    out.rejected += 1;
                    out.reason.get_or_insert(reason);
                }
            }
        }
    }
    out
}

fn convert_span(
    span: &OtelSpan,
    service: ServiceId,
    clock: &dyn Fn(u64) -> Option<u64>,
    store: &mut SpanStore,
) -> Result<(), String> {
    let trace_id = match <[u8; 16]>::try_from(span.trace_id.as_slice()) {
        Ok(id) if id != [0; 16] => {
            u64::from_be_bytes([id[8], id[9], id[10], id[11], id[12], id[13], id[14], id[15]])
        }
        _ => return Err("a span's trace_id is not 16 bytes, or all zero".to_owned()),
    };
    let span_id = match <[u8; 8]>::try_from(span.span_id.as_slice()) {
        Ok(id) if id != [0; 8] => u64::from_be_bytes(id),
        _ => return Err("a span's span_id is not 8 bytes, or all zero".to_owned()),
    };
    let parent_id = match span.parent_span_id.len() {
        0 => None,
        8 => Some(u64::from_be_bytes(
            <[u8; 8]>::try_from(span.parent_span_id.as_slice()).unwrap_or_default(),
        ))
        .filter(|p| *p != 0),
        _ => return Err("a span's parent_span_id is not 8 bytes".to_owned()),
    };
    let Some(duration_ns) = span
        .end_time_unix_nano
        .checked_sub(span.start_time_unix_nano)
    else {
        return Err("a span ends before it starts".to_owned());
    };
    let Some(start_us) = clock(span.start_time_unix_nano) else {
        return Err("a span starts outside the episode".to_owned());
    };
    let name = if span.name.is_empty() {
        "unknown"
    } else {
        &span.name
    };
    let operation = if span.kind == SpanKind::Client as i32 {
        match string_attr(&span.attributes, "peer.service")
            .or_else(|| string_attr(&span.attributes, "server.address"))
        {
            Some(peer) => format!("call {peer}"),
            None => name.to_owned(),
        }
    } else {
        name.to_owned()
    };
    let http_status = int_attr(&span.attributes, "http.response.status_code")
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(0);
    let failed = span
        .status
        .as_ref()
        .is_some_and(|s| s.code == OtelStatus::Error as i32);
    let error = failed.then(|| {
        span.status
            .as_ref()
            .map(|s| s.message.clone())
            .filter(|m| !m.is_empty())
            .or_else(|| string_attr(&span.attributes, "error.type"))
            .unwrap_or_else(|| match http_status {
                0 => "error".to_owned(),
                code => format!("HTTP {code}"),
            })
    });
    let operation = store.operation(&operation);
    store.spans.push(Span {
        trace_id,
        span_id,
        parent_id,
        service,
        operation,
        start_us,
        duration_us: duration_ns / 1000,
        status: if failed {
            SpanStatus::Error
        } else {
            SpanStatus::Ok
        },
        http_status,
        error,
    });
    Ok(())
}

fn attr_value<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attrs
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.as_ref())
}

fn string_attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    match attr_value(attrs, key)? {
        any_value::Value::StringValue(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn int_attr(attrs: &[KeyValue], key: &str) -> Option<i64> {
    match attr_value(attrs, key)? {
        any_value::Value::IntValue(i) => Some(*i),
        any_value::Value::StringValue(s) => s.parse().ok(),
        _ => None,
    }
}

/// `google.rpc.Status`, the body of every OTLP/HTTP error response.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

struct Shared {
    services: Vec<String>,
    clock: Clock,
    max_body: usize,
    state: Mutex<(SpanStore, ReceiverStats)>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, (SpanStore, ReceiverStats)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running receiver; stops on [`Receiver::shutdown`] or when dropped (its accept loop
/// and every open connection end with it).
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("addr", &self.addr)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Receiver {
    /// Binds `addr` (port 0 picks a free port) and starts serving; `services` are the
    /// episode's service names (the [`ServiceId`] is the index), `max_body` the largest
    /// request body accepted, in bytes.
    pub async fn bind(
        addr: SocketAddr,
        services: Vec<String>,
        clock: Clock,
        max_body: usize,
    ) -> Result<Receiver, OtlpError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| OtlpError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| OtlpError::Bind { addr, source })?;
        let shared = Arc::new(Shared {
            services,
            clock,
            max_body,
            state: Mutex::default(),
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, shared.clone(), stopped));
        Ok(Receiver {
            addr: local,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL for `OTEL_EXPORTER_OTLP_ENDPOINT` (`http://ip:port`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What it has seen so far.
    pub fn stats(&self) -> ReceiverStats {
        self.shared.lock().1
    }

    /// Takes the spans stored so far (later ones keep arriving into an empty store).
    pub fn take(&self) -> SpanStore {
        std::mem::take(&mut self.shared.lock().0)
    }

    /// Stops accepting, closes every connection and waits for the tasks to end.
    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    // Connections live in the set, so stopping (or aborting) this task ends them all.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, shared.clone()));
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
    }
    connections.shutdown().await;
}

fn protobuf(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/x-protobuf"),
    );
    response
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response<Full<Bytes>> {
    let body = RpcStatus {
        // google.rpc.Code: INVALID_ARGUMENT, NOT_FOUND, UNIMPLEMENTED.
        code: match status {
            StatusCode::NOT_FOUND => 5,
            StatusCode::METHOD_NOT_ALLOWED | StatusCode::UNSUPPORTED_MEDIA_TYPE => 12,
            _ => 3,
        },
        message: message.into(),
    };
    protobuf(status, body.encode_to_vec())
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let response = respond(shared, req).await;
    if response.status().is_client_error() {
        shared.lock().1.bad_requests += 1;
    }
    response
}

async fn respond(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.uri().path() != TRACES_PATH {
        return refuse(
            StatusCode::NOT_FOUND,
            format!(
                "{} is not an OTLP endpoint here; send traces to {TRACES_PATH}",
                req.uri().path()
            ),
        );
    }
    if req.method() != Method::POST {
        let mut r = refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{TRACES_PATH} takes POST"),
        );
        r.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("POST"),
        );
        return r;
    }
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_lowercase())
    };
    let content_type = header(hyper::header::CONTENT_TYPE).unwrap_or_default();
    if content_type.split(';').next().map(str::trim) != Some("application/x-protobuf") {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("content-type {content_type:?} is not supported; send OTLP protobuf as application/x-protobuf"),
        );
    }
    if let Some(encoding) = header(hyper::header::CONTENT_ENCODING) {
        if encoding != "identity" && !encoding.is_empty() {
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "content-encoding {encoding:?} is not supported; send the body uncompressed"
                ),
            );
        }
    }
    let too_large = || {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than {} bytes; export smaller batches",
                shared.max_body
            ),
        )
    };
    let declared = header(hyper::header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > shared.max_body as u64) {
        return too_large();
    }
    let body = match Limited::new(req.into_body(), shared.max_body)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return too_large(),
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("reading the request body failed: {e}"),
            )
        }
    };
    let request = match ExportTraceServiceRequest::decode(body) {
        Ok(r) => r,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("the body is not an OTLP ExportTraceServiceRequest: {e}"),
            )
        }
    };
    protobuf(StatusCode::OK, shared.accept(&request).encode_to_vec())
}

impl Shared {
    /// Stores the spans of one decoded request; the answer for the exporter.
    fn accept(&self, request: &ExportTraceServiceRequest) -> ExportTraceServiceResponse {
        let converted = {
            let mut state = self.lock();
            let (store, stats) = &mut *state;
            let c = convert(request, &self.services, &*self.clock, store);
            stats.requests += 1;
            stats.accepted += c.accepted;
            stats.rejected += c.rejected;
            c
        };
        ExportTraceServiceResponse {
            partial_success: (converted.rejected > 0).then(|| ExportTracePartialSuccess {
                rejected_spans: i64::try_from(converted.rejected).unwrap_or(i64::MAX),
                error_message: converted.reason.unwrap_or_default(),
            }),
        }
    }
}

/// Every response body: the protobuf answers of OTLP/HTTP, or tonic's gRPC frames.
type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves one connection: OTLP/HTTP on HTTP/1.1, and with `otlp-grpc` also the
/// OTLP/gRPC `TraceService` (HTTP/2, `content-type: application/grpc`) on the same port.
async fn serve_connection(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    #[cfg(feature = "otlp-grpc")]
    let grpc = grpc::server(&shared);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let shared = shared.clone();
        #[cfg(feature = "otlp-grpc")]
        let grpc = grpc.clone();
        async move {
            #[cfg(feature = "otlp-grpc")]
            if grpc::is_grpc(&req) {
                return Ok::<_, Infallible>(grpc::call(grpc, req).await);
            }
            let response = handle(&shared, req).await;
            let body = |b: Full<Bytes>| -> Body {
                b.map_err(|never| -> BoxError { match never {} })
                    .boxed_unsync()
            };
            Ok::<_, Infallible>(response.map(body))
        }
    });
    #[cfg(feature = "otlp-grpc")]
    let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
        .serve_connection(TokioIo::new(stream), service)
        .await;
    #[cfg(not(feature = "otlp-grpc"))]
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// OTLP/gRPC: tonic's generated `TraceService` server over the same [`Shared`] state.
#[cfg(feature = "otlp-grpc")]
mod grpc {
    use super::{Body, Shared};
    use http_body_util::BodyExt;
    use hyper::body::Incoming;
    use hyper::Request;
    use otrashi_proto::opentelemetry::proto::collector::trace::v1::trace_service_server::{
        TraceService, TraceServiceServer,
    };
    use otrashi_proto::opentelemetry::proto::collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    };
    use std::sync::Arc;
    use tonic::codegen::Service;

    pub(super) struct Export(Arc<Shared>);

    #[tonic::async_trait]
    impl TraceService for Export {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            Ok(tonic::Response::new(self.0.accept(request.get_ref())))
        }
    }

    pub(super) fn server(shared: &Arc<Shared>) -> TraceServiceServer<Export> {
        TraceServiceServer::new(Export(shared.clone())).max_decoding_message_size(shared.max_body)
    }

    pub(super) fn is_grpc(req: &Request<Incoming>) -> bool {
        req.headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/grpc"))
    }

    pub(super) async fn call(
        mut server: TraceServiceServer<Export>,
        req: Request<Incoming>,
    ) -> hyper::Response<Body> {
        match server.call(req).await {
            Ok(response) => response.map(|b| b.map_err(Into::into).boxed_unsync()),
            Err(never) => match never {},
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otrashi_proto::opentelemetry::proto::common::v1::AnyValue;
    use otrashi_proto::opentelemetry::proto::resource::v1::Resource;
    use otrashi_proto::opentelemetry::proto::trace::v1::{ResourceSpans, ScopeSpans, Status};

    fn kv(key: &str, v: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(v) }),
        }
    }

    fn request(service: &str, spans: Vec<OtelSpan>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv(
                        "service.name",
                        any_value::Value::StringValue(service.to_owned()),
                    )],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    const T0: u64 = 1_767_225_600_000_000_000;

    /// Scenario µs at 8x compression: a wall second is 8 scenario seconds.
    fn clock(ns: u64) -> Option<u64> {
        ns.checked_sub(T0).map(|d| d / 1000 * 8)
    }

    fn services() -> Vec<String> {
        vec!["frontend".into(), "cart".into()]
    }

    #[test]
    fn ids_parents_times_status_and_names_convert() {
        let trace = [
            0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e,
            0x47, 0x36,
        ];
        let server = OtelSpan {
            trace_id: trace.to_vec(),
            span_id: vec![0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7],
            name: "GET /".into(),
            kind: SpanKind::Server as i32,
            start_time_unix_nano: T0 + 1_000_000_000,
            end_time_unix_nano: T0 + 1_012_500_000,
            attributes: vec![kv(
                "http.response.status_code",
                any_value::Value::IntValue(500),
            )],
            status: Some(Status {
                message: "call to cart failed: upstream cart returned 500".into(),
                code: OtelStatus::Error as i32,
            }),
            ..Default::default()
        };
        let client = OtelSpan {
            span_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
            parent_span_id: server.span_id.clone(),
            name: "GET".into(),
            kind: SpanKind::Client as i32,
            start_time_unix_nano: T0 + 1_001_000_000,
            end_time_unix_nano: T0 + 1_011_000_000,
            attributes: vec![
                kv("peer.service", any_value::Value::StringValue("cart".into())),
                kv(
                    "error.type",
                    any_value::Value::StringValue("timeout".into()),
                ),
            ],
            status: Some(Status {
                message: String::new(),
                code: OtelStatus::Error as i32,
            }),
            ..server.clone()
        };
        let ok = OtelSpan {
            span_id: vec![9; 8],
            parent_span_id: client.span_id.clone(),
            name: "GET /".into(),
            attributes: vec![kv(
                "http.response.status_code",
                any_value::Value::StringValue("200".into()),
            )],
            status: None,
            ..server.clone()
        };
        let mut store = SpanStore::default();
        let mut req = request("frontend", vec![server, client]);
        req.resource_spans
            .extend(request("cart", vec![ok]).resource_spans);
        let c = convert(&req, &services(), &clock, &mut store);
        assert_eq!(
            c,
            Converted {
                accepted: 3,
                rejected: 0,
                reason: None
            }
        );
        let [root, call, child] = store.spans.as_slice() else {
            panic!("{:?}", store.spans);
        };
        assert_eq!(root.trace_id, 0xa3ce_929d_0e0e_4736, "low 64 bits");
        assert_eq!(root.span_id, 0x00f0_67aa_0ba9_02b7);
        assert_eq!(root.parent_id, None);
        assert_eq!(root.service, 0);
        assert_eq!(
            root.start_us, 8_000_000,
            "1 s of wall time is 8 s of scenario"
        );
        assert_eq!(root.duration_us, 12_500, "durations stay real");
        assert_eq!(root.status, SpanStatus::Error);
        assert_eq!(root.http_status, 500);
        assert_eq!(
            root.error.as_deref(),
            Some("call to cart failed: upstream cart returned 500")
        );
        assert_eq!(call.parent_id, Some(root.span_id));
        assert_eq!(store.operations[call.operation as usize], "call cart");
        assert_eq!(
            call.error.as_deref(),
            Some("timeout"),
            "error.type without a message"
        );
        assert_eq!(call.http_status, 0);
        assert_eq!(child.service, 1);
        assert_eq!(child.parent_id, Some(0x0102_0304_0506_0708));
        assert_eq!(child.status, SpanStatus::Ok);
        assert_eq!(child.http_status, 200);
        assert_eq!(child.error, None);
        assert_eq!(store.operations, ["GET /", "call cart"]);
    }

    #[test]
    fn bad_spans_are_refused_one_by_one() {
        let good = OtelSpan {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "GET /".into(),
            start_time_unix_nano: T0,
            end_time_unix_nano: T0 + 1,
            ..Default::default()
        };
        let bad = [
            OtelSpan {
                trace_id: vec![0; 16],
                ..good.clone()
            },
            OtelSpan {
                span_id: vec![2; 7],
                ..good.clone()
            },
            OtelSpan {
                parent_span_id: vec![1; 3],
                ..good.clone()
            },
            OtelSpan {
                end_time_unix_nano: T0 - 1,
                ..good.clone()
            },
            OtelSpan {
                start_time_unix_nano: 5,
                end_time_unix_nano: 6,
                ..good.clone()
            },
        ];
        let mut spans = vec![good.clone()];
        spans.extend(bad);
        let mut store = SpanStore::default();
        let c = convert(&request("cart", spans), &services(), &clock, &mut store);
        assert_eq!((c.accepted, c.rejected), (1, 5));
        assert!(c.reason.unwrap().contains("trace_id"));
        let c = convert(
            &request("ghost", vec![good]),
            &services(),
            &clock,
            &mut store,
        );
        assert_eq!((c.accepted, c.rejected), (0, 1));
        assert!(c.reason.unwrap().contains("\"ghost\""));
        assert_eq!(store.spans.len(), 1);
    }

    #[test]
    fn merging_reindexes_operations() {
        let mut store = SpanStore::default();
        let op = store.operation("call db");
        store.spans.push(Span {
            trace_id: 1,
            span_id: 1,
            parent_id: None,
            service: 0,
            operation: op,
            start_us: 0,
            duration_us: 1,
            status: SpanStatus::Ok,
            http_status: 200,
            error: None,
        });
        let mut ops = vec!["GET /".to_owned(), "call db".to_owned()];
        let mut spans = Vec::new();
        store.merge_into(&mut ops, &mut spans);
        assert_eq!(spans[0].operation, 1);
        assert_eq!(ops.len(), 2);
    }
}
