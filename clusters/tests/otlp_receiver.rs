//! The OTLP/HTTP receiver in-process: the workload's real exporter posting to it, and
//! requests it must refuse without falling over.
#![cfg(feature = "otlp")]
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use otrashi_clusters::otlp::{Clock, Receiver, DEFAULT_MAX_BODY, TRACES_PATH};
use otrashi_gym::telemetry::SpanStatus;
use otrashi_proto::opentelemetry::proto::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use otrashi_workload::log::Logger;
use otrashi_workload::{Config, Downstream, Service};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// µs since `t0`; spans before it are outside the episode.
fn clock_from(t0: u64) -> Clock {
    Arc::new(move |ns: u64| ns.checked_sub(t0).map(|d| d / 1000))
}

/// One request over a fresh connection; status and body bytes.
async fn send(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{head}\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, raw[split + 4..].to_vec())
}

async fn start_workload(config: Config) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (logger, _) = Logger::in_memory(config.service.clone());
    let svc = Service::with_logger(config, logger).unwrap();
    tokio::spawn(otrashi_workload::serve(
        svc,
        listener,
        std::future::pending(),
    ));
    addr
}

#[tokio::test]
async fn the_workload_exporter_posts_linked_spans_to_the_receiver() {
    let services = vec!["frontend".to_owned(), "inventory".to_owned()];
    let mut receiver = Receiver::bind(
        "127.0.0.1:0".parse().unwrap(),
        services,
        clock_from(now_ns()),
        DEFAULT_MAX_BODY,
    )
    .await
    .unwrap();
    let endpoint = Some(format!("{}{TRACES_PATH}", receiver.endpoint()));
    let inventory = start_workload(Config {
        service: "inventory".into(),
        access_log: false,
        otlp_traces_endpoint: endpoint.clone(),
        ..Config::default()
    })
    .await;
    let frontend = start_workload(Config {
        service: "frontend".into(),
        access_log: false,
        otlp_traces_endpoint: endpoint,
        downstreams: vec![Downstream {
            name: "inventory".into(),
            url: format!("http://{inventory}"),
            kind: None,
        }],
        ..Config::default()
    })
    .await;
    const REQUESTS: usize = 5;
    for _ in 0..REQUESTS {
        let (status, _) = send(frontend, "GET / HTTP/1.1", b"").await;
        assert_eq!(status, 200);
    }
    // Three spans per request: frontend SERVER and CLIENT, inventory SERVER.
    for _ in 0..60 {
        if receiver.stats().accepted >= 3 * REQUESTS as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = receiver.stats();
    assert_eq!(stats.accepted, 3 * REQUESTS as u64, "{stats:?}");
    assert_eq!(stats.rejected, 0);
    let store = receiver.take();
    let mut traces: HashMap<u64, Vec<_>> = HashMap::new();
    for s in &store.spans {
        traces.entry(s.trace_id).or_default().push(s.clone());
    }
    assert_eq!(traces.len(), REQUESTS);
    let op = |s: &otrashi_gym::telemetry::Span| store.operations[s.operation as usize].clone();
    for spans in traces.values() {
        let root = spans.iter().find(|s| s.parent_id.is_none()).unwrap();
        assert_eq!((root.service, op(root).as_str()), (0, "GET /"));
        let call = spans
            .iter()
            .find(|s| s.parent_id == Some(root.span_id))
            .unwrap();
        assert_eq!((call.service, op(call).as_str()), (0, "call inventory"));
        let served = spans
            .iter()
            .find(|s| s.parent_id == Some(call.span_id))
            .unwrap();
        assert_eq!((served.service, op(served).as_str()), (1, "GET /"));
        for s in spans {
            assert_eq!(s.status, SpanStatus::Ok);
            assert_eq!(s.http_status, 200);
        }
        assert!(call.start_us >= root.start_us);
        assert!(served.start_us >= call.start_us);
        assert!(served.duration_us <= call.duration_us);
    }
    receiver.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_are_refused_with_a_message_and_the_receiver_keeps_serving() {
    let mut receiver = Receiver::bind(
        "127.0.0.1:0".parse().unwrap(),
        vec!["cart".to_owned()],
        clock_from(0),
        1024,
    )
    .await
    .unwrap();
    let addr = receiver.local_addr();
    let post = "POST /v1/traces HTTP/1.1\r\ncontent-type: application/x-protobuf";
    let message = |body: &[u8]| String::from_utf8_lossy(body).to_string();

    let (status, body) = send(addr, post, b"\xff\xff\xff\xff garbage").await;
    assert_eq!(status, 400);
    assert!(
        message(&body).contains("not an OTLP ExportTraceServiceRequest"),
        "{}",
        message(&body)
    );
    let (status, _) = send(addr, "GET /v1/traces HTTP/1.1", b"").await;
    assert_eq!(status, 405);
    let (status, body) = send(addr, "POST /v1/metrics HTTP/1.1", b"").await;
    assert_eq!(status, 404);
    assert!(message(&body).contains("/v1/traces"));
    let (status, body) = send(
        addr,
        "POST /v1/traces HTTP/1.1\r\ncontent-type: application/json",
        b"{}",
    )
    .await;
    assert_eq!(status, 415);
    assert!(message(&body).contains("application/x-protobuf"));
    let (status, _) = send(
        addr,
        &format!("{post}\r\ncontent-encoding: gzip"),
        b"\x1f\x8b",
    )
    .await;
    assert_eq!(status, 415);
    let (status, body) = send(addr, post, &[0x0a; 2048]).await;
    assert_eq!(status, 413);
    assert!(message(&body).contains("1024 bytes"));

    // Random bytes: every answer is a 200 or a 400, and the receiver survives them.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for n in 0..200 {
        let body: Vec<u8> = (0..(n % 97))
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let (status, _) = send(addr, post, &body).await;
        assert!(status == 200 || status == 400, "{status} for {body:?}");
    }

    // An empty request is valid; a span of an unknown service is a partial success.
    let (status, body) = send(addr, post, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        ExportTraceServiceResponse::decode(body.as_slice()).unwrap(),
        ExportTraceServiceResponse::default()
    );
    let ghost = ExportTraceServiceRequest {
        resource_spans: vec![Default::default()],
    };
    let mut ghost = ghost;
    ghost.resource_spans[0].scope_spans = vec![Default::default()];
    ghost.resource_spans[0].scope_spans[0].spans = vec![Default::default()];
    let (status, body) = send(addr, post, &ghost.encode_to_vec()).await;
    assert_eq!(status, 200);
    let partial = ExportTraceServiceResponse::decode(body.as_slice())
        .unwrap()
        .partial_success
        .unwrap();
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("service.name"));
    assert!(receiver.stats().bad_requests >= 6);

    receiver.shutdown().await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the port is closed after shutdown"
    );
}

/// OTLP/gRPC on the same port, as an OTel SDK exporter sends it (cleartext HTTP/2,
/// `TraceService/Export`, protobuf frames).
#[cfg(feature = "otlp-grpc")]
#[tokio::test]
async fn the_same_port_speaks_otlp_grpc() {
    use otrashi_proto::opentelemetry::proto::common::v1::{any_value, AnyValue, KeyValue};
    use otrashi_proto::opentelemetry::proto::resource::v1::Resource;
    use otrashi_proto::opentelemetry::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};

    let t0 = now_ns();
    let mut receiver = Receiver::bind(
        "127.0.0.1:0".parse().unwrap(),
        vec!["cart".to_owned()],
        clock_from(t0),
        DEFAULT_MAX_BODY,
    )
    .await
    .unwrap();
    let span = |id: u8| Span {
        trace_id: vec![7; 16],
        span_id: vec![id; 8],
        name: "GET /cart".into(),
        start_time_unix_nano: t0 + 1_000_000,
        end_time_unix_nano: t0 + 3_000_000,
        ..Default::default()
    };
    let request = |service: &str, spans| ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(service.into())),
                    }),
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let channel = tonic::transport::Endpoint::from_shared(receiver.endpoint())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = tonic::client::Grpc::new(channel);
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    );
    client.ready().await.unwrap();
    let reply: tonic::Response<ExportTraceServiceResponse> = client
        .unary(
            tonic::Request::new(request("cart", vec![span(1), span(2)])),
            path.clone(),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap();
    assert_eq!(reply.into_inner(), ExportTraceServiceResponse::default());
    client.ready().await.unwrap();
    let reply: tonic::Response<ExportTraceServiceResponse> = client
        .unary(
            tonic::Request::new(request("ghost", vec![span(3)])),
            path,
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        reply.into_inner().partial_success.unwrap().rejected_spans,
        1
    );
    let store = receiver.take();
    assert_eq!(store.spans.len(), 2);
    assert_eq!(store.spans[0].start_us, 1000);
    assert_eq!(store.spans[0].duration_us, 2000);
    // OTLP/HTTP still works on the same port.
    let (status, _) = send(
        receiver.local_addr(),
        "POST /v1/traces HTTP/1.1\r\ncontent-type: application/x-protobuf",
        &request("cart", vec![span(4)]).encode_to_vec(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(receiver.stats().accepted, 3);
    receiver.shutdown().await;
}
