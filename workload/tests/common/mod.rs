//! Helpers shared by the workload's integration tests: in-process servers, the real
//! binary as a child process, and a minimal HTTP/1.1 client.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use otrashi_workload::log::{LogBuffer, Logger};
use otrashi_workload::{Config, Downstream, Service};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

/// A server running inside the test process, logging to memory; stops when dropped.
pub struct InProcess {
    pub addr: SocketAddr,
    pub logs: LogBuffer,
    _stop: oneshot::Sender<()>,
}

pub fn config(service: &str, downstreams: &[(&str, SocketAddr)]) -> Config {
    Config {
        service: service.to_owned(),
        downstreams: downstreams
            .iter()
            .map(|(name, addr)| Downstream {
                name: (*name).to_owned(),
                url: format!("http://{addr}"),
                kind: None,
            })
            .collect(),
        access_log: false,
        ..Config::default()
    }
}

pub async fn start(config: Config) -> InProcess {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (logger, logs) = Logger::in_memory(config.service.clone());
    let svc = Service::with_logger(config, logger).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(otrashi_workload::serve(svc, listener, async move {
        let _ = stopped.await;
    }));
    InProcess {
        addr,
        logs,
        _stop: stop,
    }
}

/// The real binary as a child process (killed when dropped), with its stdout lines.
pub struct Binary {
    pub addr: SocketAddr,
    pub child: Child,
    pub lines: Arc<Mutex<Vec<String>>>,
}

pub async fn spawn_binary(env: &[(&str, &str)]) -> Binary {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otrashi-workload"));
    cmd.env_clear()
        .env("OTRASHI_LISTEN", "127.0.0.1:0")
        .env("OTRASHI_ACCESS_LOG", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap()).lines();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let addr = loop {
        let line = reader
            .next_line()
            .await
            .unwrap()
            .expect("the workload exited before listening");
        lines.lock().unwrap().push(line.clone());
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if let Some(addr) = v["msg"]
            .as_str()
            .and_then(|m| m.strip_prefix("listening on "))
        {
            break addr.parse().unwrap();
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    let sink = lines.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = reader.next_line().await {
            sink.lock().unwrap().push(line);
        }
    });
    Binary { addr, child, lines }
}

/// A response: status code and body text.
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// One request over a fresh connection (`Connection: close`, so the body ends at EOF).
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP response: {text:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head:?}")))?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok(Reply { status, body })
}

pub async fn get(addr: SocketAddr, path: &str) -> Reply {
    request(addr, "GET", path, &[], "").await.unwrap()
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// The value of one sample line (`name{labels} value`) in exposition text.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

/// An OTLP/HTTP trace receiver for tests: accepts `POST /v1/traces` and keeps every
/// span with the `service.name` of its resource.
pub struct Collector {
    pub addr: SocketAddr,
    pub spans: Arc<Mutex<Vec<(String, otrashi_workload::otlp::Span)>>>,
    _stop: oneshot::Sender<()>,
}

impl Collector {
    pub async fn start() -> Collector {
        use otrashi_proto::opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
        use otrashi_proto::opentelemetry::proto::common::v1::any_value::Value;
        use prost::Message;
        let spans: Arc<Mutex<Vec<(String, otrashi_workload::otlp::Span)>>> = Arc::default();
        let sink = spans.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: bytes::Bytes| {
                let sink = sink.clone();
                async move {
                    let req = ExportTraceServiceRequest::decode(body).unwrap();
                    for rs in req.resource_spans {
                        let service = rs
                            .resource
                            .iter()
                            .flat_map(|r| &r.attributes)
                            .find(|a| a.key == "service.name")
                            .and_then(|a| a.value.clone()?.value)
                            .map(|v| match v {
                                Value::StringValue(s) => s,
                                other => format!("{other:?}"),
                            })
                            .unwrap_or_default();
                        for ss in rs.scope_spans {
                            for s in ss.spans {
                                sink.lock().unwrap().push((service.clone(), s));
                            }
                        }
                    }
                    (
                        [("content-type", "application/x-protobuf")],
                        Vec::<u8>::new(),
                    )
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Collector {
            addr,
            spans,
            _stop: stop,
        }
    }

    /// Waits (up to 5 s) until at least `n` spans arrived; returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<(String, otrashi_workload::otlp::Span)> {
        for _ in 0..100 {
            if self.spans.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        self.spans.lock().unwrap().clone()
    }
}

/// A span attribute as text (integers printed), if present.
pub fn attribute(span: &otrashi_workload::otlp::Span, key: &str) -> Option<String> {
    use otrashi_proto::opentelemetry::proto::common::v1::any_value::Value;
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.clone()?.value)
        .map(|v| match v {
            Value::StringValue(s) => s,
            Value::IntValue(i) => i.to_string(),
            other => format!("{other:?}"),
        })
}
