//! `otrashi-workload`: reads its service definition from the environment, applies the
//! failpoints its "deploy" ships, and serves until SIGTERM or Ctrl-C.

use std::process::ExitCode;

use otrashi_workload::log::{Level, Logger};
use otrashi_workload::{faults, serve, Config, Service};
use serde_json::json;

const USAGE: &str = "\
otrashi-workload: one service of an otrashi topology. Configured by environment:
  OTRASHI_CONFIG                 inline JSON config, or the path of a JSON file
  OTRASHI_SERVICE, OTRASHI_KIND  name; web|api|worker|cache|database|queue
  OTRASHI_LISTEN / OTRASHI_PORT  listen address (default 0.0.0.0:8080) / port only
  OTRASHI_DOWNSTREAMS            name[:kind]=http://host:port,... called in order by GET /
  OTRASHI_CPU_MS, OTRASHI_MEMORY_KB_PER_REQUEST, OTRASHI_LATENCY_MS
  OTRASHI_POOL_SIZE, OTRASHI_CALL_TIMEOUT_MS, OTRASHI_RETRIES, OTRASHI_CACHE_HIT_PCT
  OTRASHI_ACCESS_LOG             true|false
  OTRASHI_ADMIN_TOKEN            enables POST /admin/failpoints (Bearer token)
  OTRASHI_FAILPOINTS             name=actions;... e.g. handler_error=30%return
  OTRASHI_DATA_DIR, OTRASHI_WRITE_PCT  data volume a share of requests append records to
  OTRASHI_CONN_MAX_AGE_MS        pooled connections are re-dialled (and re-resolved) after this
  <SERVICE>_UPSTREAM_TIMEOUT     the service's own setting (e.g. 800ms), parsed per request;
                                 <SERVICE>_UPSTREAM_TIMEOUT_ROLLOUT_PCT requests use it
  OTEL_EXPORTER_OTLP_ENDPOINT    export spans over OTLP/HTTP protobuf to this base URL
                                 (+ /v1/traces); none are exported when unset
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT  the full traces URL instead
  OTEL_RESOURCE_ATTRIBUTES       key=value,... (service.instance.id defaults to HOSTNAME)
Subcommand: health   exits 0 when GET /healthz on this container's port answers 200
            (the container health check; OTRASHI_PORT or 8080)
Subcommand: redis-ping [PORT]   exits 0 when the Redis on 127.0.0.1:PORT (6379) answers
            PING with PONG (the health check of a container that runs a real Redis)
Subcommand: delay-proxy LISTEN TARGET DELAY_MS JITTER_MS SECONDS
            forward LISTEN to 127.0.0.1:TARGET adding delay (infra.network_delay without netem)
Subcommand: hog MEBIBYTES SECONDS   hold (and touch) that much memory for SECONDS
            (the Docker backend's infra.memory_pressure: another tenant's memory)
Subcommand: burn THREADS PCT SECONDS   spin THREADS threads at PCT% duty for SECONDS
            (the Docker backend's infra.cpu_saturation: a stray process in the container)
Subcommand: fill DIR --leave BYTES   fill DIR's volume until ENOSPC, then free BYTES
            fill DIR --remove        delete that filler again (the Docker backend's infra.disk_full)
Endpoints: GET /  GET /healthz  GET /metrics  GET|POST /admin/failpoints
Spans: a SERVER span per request, a CLIENT span per downstream attempt; dropped spans
       count in otel_spans_dropped_total on /metrics
";

fn main() -> ExitCode {
    if let Some(arg) = std::env::args().nth(1) {
        return match arg.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                ExitCode::SUCCESS
            }
            "burn" => burn(std::env::args().skip(2).collect()),
            "health" => health(),
            "redis-ping" => redis_ping(std::env::args().nth(2)),
            "hog" => hog(std::env::args().skip(2).collect()),
            "delay-proxy" => delay_proxy(std::env::args().skip(2).collect()),
            "fill" => fill(std::env::args().skip(2).collect()),
            "-V" | "--version" => {
                println!("otrashi-workload {}", env!("CARGO_PKG_VERSION"));
                ExitCode::SUCCESS
            }
            other => {
                eprint!("unexpected argument {other:?}; configuration comes from the environment\n\n{USAGE}");
                ExitCode::from(2)
            }
        };
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => return fatal(&Logger::new("workload"), &error_chain(&e)),
    };
    let logger = Logger::new(config.service.clone());
    faults::install_panic_hook(logger.clone());
    // Logs are what the agent under test reads: they show that a new build started
    // (as a deploy would), never which failpoints it carries.
    let spec = std::env::var("OTRASHI_FAILPOINTS").unwrap_or_default();
    if let Err(e) = faults::configure(&spec) {
        return fatal(&logger, &format!("OTRASHI_FAILPOINTS: {e}"));
    }
    let build = faults::build_id(&spec);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fatal(&logger, &format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(run(config, logger, build))
}

async fn run(config: Config, logger: Logger, build: String) -> ExitCode {
    let listen = config.listen;
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => return fatal(&logger, &format!("cannot listen on {listen}: {e}")),
    };
    let kind = config.kind.as_str();
    let downstreams: Vec<String> = config.downstreams.iter().map(|d| d.name.clone()).collect();
    let svc = match Service::new(config) {
        Ok(s) => s,
        Err(e) => return fatal(&logger, &error_chain(&e)),
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    logger.log(
        Level::Info,
        &format!("listening on {addr}"),
        None,
        json!({
            "kind": kind,
            "downstreams": downstreams,
            "version": env!("CARGO_PKG_VERSION"),
            "build": build,
        }),
    );
    match serve(svc, listener, shutdown_signal()).await {
        Ok(()) => {
            logger.log(Level::Info, "shut down", None, json!({}));
            ExitCode::SUCCESS
        }
        Err(e) => fatal(&logger, &format!("server failed: {e}")),
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

fn fatal(logger: &Logger, msg: &str) -> ExitCode {
    logger.log(Level::Fatal, msg, None, json!({}));
    ExitCode::from(2)
}

/// `burn THREADS PCT SECONDS`: a stray CPU hog, each thread busy `PCT`% of every 100 ms.
fn burn(args: Vec<String>) -> ExitCode {
    let parse = |i: usize| args.get(i).and_then(|a| a.parse::<f64>().ok());
    let (Some(threads), Some(pct), Some(secs)) = (parse(0), parse(1), parse(2)) else {
        eprintln!("usage: otrashi-workload burn THREADS PCT SECONDS");
        return ExitCode::from(2);
    };
    let end = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs.max(0.0));
    let busy = std::time::Duration::from_secs_f64(0.1 * pct.clamp(1.0, 100.0) / 100.0);
    let handles: Vec<_> = (0..threads.clamp(1.0, 64.0) as usize)
        .map(|_| {
            std::thread::spawn(move || {
                while std::time::Instant::now() < end {
                    let period = std::time::Instant::now();
                    faults::burn_cpu(busy);
                    if let Some(rest) =
                        std::time::Duration::from_millis(100).checked_sub(period.elapsed())
                    {
                        std::thread::sleep(rest);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    ExitCode::SUCCESS
}

/// `health`: the container health check, for images without curl.
fn health() -> ExitCode {
    use std::io::{Read, Write};
    let port: u16 = std::env::var("OTRASHI_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let timeout = std::time::Duration::from_secs(2);
    let check = || -> std::io::Result<bool> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut s = std::net::TcpStream::connect_timeout(&addr, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head)?;
        Ok(head.ends_with(b" 200"))
    };
    match check() {
        Ok(true) => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    }
}

/// `redis-ping [PORT]`: a RESP `PING` to the local Redis; `-BUSY` (a script running past
/// its limit) or no answer is unhealthy, as a real probe would find it.
fn redis_ping(port: Option<String>) -> ExitCode {
    use std::io::{Read, Write};
    let port: u16 = port.and_then(|p| p.parse().ok()).unwrap_or(6379);
    let timeout = std::time::Duration::from_secs(2);
    let check = || -> std::io::Result<bool> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut s = std::net::TcpStream::connect_timeout(&addr, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        s.write_all(&otrashi_workload::resp::encode(&[b"PING"]))?;
        let mut head = [0u8; 7];
        s.read_exact(&mut head)?;
        Ok(&head == b"+PONG\r\n")
    };
    match check() {
        Ok(true) => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    }
}

/// `delay-proxy LISTEN TARGET DELAY_MS JITTER_MS SECONDS`.
fn delay_proxy(args: Vec<String>) -> ExitCode {
    let num = |i: usize| args.get(i).and_then(|a| a.parse::<f64>().ok());
    let (Some(listen), Some(target), Some(delay), Some(jitter), Some(secs)) =
        (num(0), num(1), num(2), num(3), num(4))
    else {
        eprintln!("usage: otrashi-workload delay-proxy LISTEN TARGET DELAY_MS JITTER_MS SECONDS");
        return ExitCode::from(2);
    };
    let ms = |v: f64| std::time::Duration::from_secs_f64(v.max(0.0) / 1000.0);
    let spec = otrashi_workload::delay::DelaySpec {
        listen: listen as u16,
        target: target as u16,
        delay: ms(delay),
        jitter: ms(jitter),
        lifetime: std::time::Duration::from_secs_f64(secs.max(0.0)),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(otrashi_workload::delay::run(spec)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("delay-proxy: {e}");
            ExitCode::from(1)
        }
    }
}

/// `hog MEBIBYTES SECONDS`: a memory-hungry neighbour in the same container.
fn hog(args: Vec<String>) -> ExitCode {
    let num = |i: usize| args.get(i).and_then(|a| a.parse::<f64>().ok());
    let (Some(mib), Some(secs)) = (num(0), num(1)) else {
        eprintln!("usage: otrashi-workload hog MEBIBYTES SECONDS");
        return ExitCode::from(2);
    };
    // Grown in steps, as a real tenant's heap grows, and touched so it is resident.
    let mut held: Vec<Vec<u8>> = Vec::new();
    for _ in 0..mib.clamp(0.0, 65_536.0) as usize {
        held.push(vec![0x5A; 1 << 20]);
    }
    std::thread::sleep(std::time::Duration::from_secs_f64(secs.max(0.0)));
    std::hint::black_box(&held);
    ExitCode::SUCCESS
}

/// `fill DIR --leave BYTES` / `fill DIR --remove`: a runaway writer on the data volume.
fn fill(args: Vec<String>) -> ExitCode {
    let usage = || {
        eprintln!("usage: otrashi-workload fill DIR --leave BYTES | fill DIR --remove");
        ExitCode::from(2)
    };
    let Some(dir) = args.first().map(std::path::PathBuf::from) else {
        return usage();
    };
    let result = match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("--remove"), None) => otrashi_workload::disk::unfill(&dir).map(|()| 0),
        (Some("--leave"), Some(n)) => match n.parse::<u64>() {
            Ok(leave) => otrashi_workload::disk::fill(&dir, leave),
            Err(_) => return usage(),
        },
        _ => return usage(),
    };
    match result {
        Ok(bytes) => {
            println!("{bytes}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fill {}: {e}", dir.display());
            ExitCode::from(1)
        }
    }
}
