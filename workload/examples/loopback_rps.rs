//! Requests per second of one workload on loopback: a bounded loop (not a timed
//! benchmark) of `N` requests over `C` keep-alive connections.
//!
//! `cargo run --release -p otrashi-workload --example loopback_rps -- [N] [C] [cpu_ms] [ADDR]`
//! starts a service in-process with `cpu_ms` of CPU per request, or drives `ADDR`
//! (a running workload, e.g. a container's published port) when given.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use otrashi_workload::{Config, Service};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let total: usize = args.first().map_or(Ok(5000), |s| s.parse())?;
    let conns: usize = args.get(1).map_or(Ok(4), |s| s.parse())?;
    let cpu_ms: f64 = args.get(2).map_or(Ok(0.0), |s| s.parse())?;
    let addr: SocketAddr = match args.get(3) {
        Some(a) => a.parse()?,
        None => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let svc = Service::new(Config {
                cpu_ms,
                access_log: false,
                ..Config::default()
            })?;
            tokio::spawn(otrashi_workload::serve(
                svc,
                listener,
                std::future::pending(),
            ));
            addr
        }
    };

    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..conns {
        let share = total / conns + usize::from(i < total % conns);
        tasks.push(tokio::spawn(drive(addr, share)));
    }
    let mut latencies = Vec::with_capacity(total);
    for t in tasks {
        latencies.extend(t.await??);
    }
    let elapsed = start.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize];
    println!(
        "{} requests over {conns} connections in {elapsed:.2?}: {:.0} req/s, p50 {:.2?}, p99 {:.2?} (cpu_ms {cpu_ms})",
        latencies.len(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.5),
        pct(0.99),
    );
    Ok(())
}

async fn drive(
    addr: SocketAddr,
    n: usize,
) -> Result<Vec<Duration>, Box<dyn std::error::Error + Send + Sync>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let req = hyper::Request::get("/")
            .header("host", addr.to_string())
            .body(Empty::<Bytes>::new())?;
        let resp = sender.send_request(req).await?;
        if !resp.status().is_success() {
            return Err(format!("status {}", resp.status()).into());
        }
        resp.into_body().collect().await?;
        out.push(t.elapsed());
    }
    Ok(out)
}
