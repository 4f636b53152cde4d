//! The RESP client against an in-process fake server (replies cut into pieces, error
//! replies, a server that hangs or hangs up) and against a real `redis-server` started
//! on a loopback port when the binary exists; and the workload calling a real Redis as
//! its cache and its database, with `cache_bypass` and `slow_query` for real.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{get, sample, spawn_binary};
use otrashi_workload::resp::{self, RespError, RespPool, Value};
use prometheus_client::metrics::gauge::Gauge;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

/// A fake server: for each command it reads, it sends the next scripted reply in
/// `chunk`-byte pieces with a pause between them (`None`: it hangs up instead).
async fn fake(replies: Vec<Option<&'static [u8]>>, chunk: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        for reply in replies {
            // Read one whole command (the client sends one at a time).
            loop {
                if let Ok(Some((_, used))) = resp::parse(&buf) {
                    buf.drain(..used);
                    break;
                }
                let mut b = [0u8; 1024];
                let n = sock.read(&mut b).await.unwrap();
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&b[..n]);
            }
            let Some(reply) = reply else {
                return; // hang up
            };
            for piece in reply.chunks(chunk) {
                sock.write_all(piece).await.unwrap();
                sock.flush().await.unwrap();
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        // Hold the connection open without answering.
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    addr
}

fn pool(addr: SocketAddr, size: usize) -> std::sync::Arc<RespPool> {
    RespPool::new("fake", &addr.to_string(), size, Gauge::default())
}

const T: Duration = Duration::from_secs(2);

#[tokio::test]
async fn replies_cut_into_pieces_are_reassembled_on_one_connection() {
    let addr = fake(
        vec![
            Some(b"+OK\r\n"),
            Some(b"$5\r\nhello\r\n"),
            Some(b"*2\r\n:1\r\n$-1\r\n"),
        ],
        1,
    )
    .await;
    let p = pool(addr, 1);
    assert_eq!(
        p.command(&[b"SET", b"k", b"hello"], T, false)
            .await
            .unwrap(),
        Value::Simple("OK".into())
    );
    assert_eq!(
        p.command(&[b"GET", b"k"], T, false).await.unwrap(),
        Value::Bulk(Some(b"hello".to_vec()))
    );
    assert_eq!(
        p.command(&[b"X"], T, false).await.unwrap(),
        Value::Array(Some(vec![Value::Integer(1), Value::Bulk(None)]))
    );
    assert_eq!(p.in_use(), 0);
}

#[tokio::test]
async fn error_replies_hangups_and_silence_map_to_errors() {
    let addr = fake(
        vec![Some(b"-BUSY Redis is busy running a script\r\n"), None],
        4,
    )
    .await;
    let p = pool(addr, 1);
    match p.command(&[b"GET", b"k"], T, false).await {
        Err(RespError::Server { message, .. }) => assert!(message.starts_with("BUSY")),
        other => panic!("{other:?}"),
    }
    // The error reply left the connection clean: the next command reuses it, and the
    // server hangs up mid-exchange.
    assert!(matches!(
        p.command(&[b"GET", b"k"], T, false).await,
        Err(RespError::Io { .. })
    ));

    let silent = fake(vec![Some(b"$10\r\nabc")], 64).await;
    let p = pool(silent, 1);
    let begin = Instant::now();
    match p
        .command(&[b"GET", b"k"], Duration::from_millis(200), false)
        .await
    {
        Err(e @ RespError::Timeout { .. }) => {
            assert!(e.to_string().contains("GET"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // The deadline ended the wait (a guard against hanging, not a speed check).
    assert!(begin.elapsed() < Duration::from_secs(10));

    let garbage = fake(vec![Some(b"?what\r\n")], 64).await;
    assert!(matches!(
        pool(garbage, 1).command(&[b"PING"], T, false).await,
        Err(RespError::Protocol { .. })
    ));

    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    assert!(matches!(
        pool(addr, 1).command(&[b"PING"], T, false).await,
        Err(RespError::Connect { .. })
    ));
}

#[tokio::test]
async fn a_leaked_connection_keeps_its_slot_until_the_pool_is_exhausted() {
    let addr = fake(vec![Some(b"+PONG\r\n")], 64).await;
    let p = pool(addr, 1);
    p.command(&[b"PING"], T, true).await.unwrap();
    assert_eq!(p.in_use(), 1);
    assert!(matches!(
        p.command(&[b"PING"], Duration::from_millis(100), false)
            .await,
        Err(RespError::AcquireTimeout { size: 1, .. })
    ));
}

/// A real `redis-server` on a free loopback port, killed when dropped; `None` (with a
/// message) when the binary is missing, which fails under `CI=true`.
struct Redis {
    addr: SocketAddr,
    _child: Child,
}

async fn real_redis() -> Option<Redis> {
    let Some(bin) = which("redis-server") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "redis-server is not installed (CI=true requires it: apt-get install -y redis-server)"
        );
        eprintln!("skipping: redis-server is not installed (apt-get install -y redis-server)");
        return None;
    };
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = std::env::temp_dir().join(format!("otrashi-resp-test-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let child = Command::new(bin)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            dir.to_str().unwrap(),
            "--slowlog-log-slower-than",
            "10000",
        ])
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let begin = Instant::now();
    while begin.elapsed() < Duration::from_secs(10) {
        if resp::oneshot(&addr.to_string(), &[b"PING"], T)
            .await
            .is_ok()
        {
            return Some(Redis {
                addr,
                _child: child,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("redis-server on port {port} did not answer PING within 10 s");
}

/// The strings and numbers of a reply, space-separated.
fn flatten(v: &Value) -> String {
    match v {
        Value::Array(Some(items)) => items.iter().map(flatten).collect::<Vec<_>>().join(" "),
        Value::Integer(n) => n.to_string(),
        other => other.as_text().unwrap_or_default(),
    }
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

#[tokio::test]
async fn a_real_redis_answers_set_get_info_errors_and_the_slow_script() {
    let Some(redis) = real_redis().await else {
        return;
    };
    let p = RespPool::new("redis", &redis.addr.to_string(), 2, Gauge::default());
    let big = vec![b'x'; 100_000];
    assert_eq!(
        p.command(&[b"SET", b"k", &big], T, false).await.unwrap(),
        Value::Simple("OK".into())
    );
    assert_eq!(
        p.command(&[b"GET", b"k"], T, false).await.unwrap(),
        Value::Bulk(Some(big))
    );
    assert!(p
        .command(&[b"GET", b"missing"], T, false)
        .await
        .unwrap()
        .is_nil());
    match p.command(&[b"INCR", b"k"], T, false).await {
        Err(RespError::Server { message, .. }) => assert!(message.starts_with("ERR"), "{message}"),
        other => panic!("{other:?}"),
    }
    let info = p
        .command(&[b"INFO", b"stats"], T, false)
        .await
        .unwrap()
        .as_text()
        .unwrap();
    let fields = resp::info_fields(&info);
    assert!(fields.iter().any(|(k, _)| k == "keyspace_misses"), "{info}");

    // The busy loop really takes the time, blocks other clients, and is slow-logged.
    let begin = Instant::now();
    let other = {
        let addr = redis.addr.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            let t = Instant::now();
            resp::oneshot(&addr, &[b"PING"], T).await.unwrap();
            t.elapsed()
        })
    };
    let loops = p
        .command(
            &[b"EVAL", resp::SLOW_SCRIPT.as_bytes(), b"0", b"250"],
            T,
            false,
        )
        .await
        .unwrap();
    // The script reads the server's clock in whole milliseconds: allow that rounding.
    assert!(
        begin.elapsed() >= Duration::from_millis(245),
        "{loops:?} after {:?}",
        begin.elapsed()
    );
    let waited = other.await.unwrap();
    assert!(
        waited >= Duration::from_millis(150),
        "a PING during the script waited only {waited:?}"
    );
    let slowlog = p
        .command(&[b"SLOWLOG", b"GET", b"10"], T, false)
        .await
        .unwrap();
    let text = flatten(&slowlog);
    assert!(text.contains("EVAL local ms"), "{text}");
}

#[tokio::test]
async fn the_workload_uses_a_real_redis_as_cache_and_database() {
    let Some(redis) = real_redis().await else {
        return;
    };
    let url = format!("redis://{}", redis.addr);
    let caller = spawn_binary(&[
        ("OTRASHI_SERVICE", "catalog"),
        (
            "OTRASHI_DOWNSTREAMS",
            &format!("cache:cache={url},db:database={url}"),
        ),
        ("OTRASHI_KEYSPACE", "2"),
        ("OTRASHI_FAILPOINTS", "slow_query=return(120)"),
    ])
    .await;
    for _ in 0..6 {
        assert_eq!(get(caller.addr, "/").await.status, 200);
    }
    let text = get(caller.addr, "/metrics").await.body;
    // Two keys: the first lookup of each misses (and fills), the rest hit.
    assert_eq!(
        sample(&text, "cache_requests_total{result=\"miss\"}"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "cache_requests_total{result=\"hit\"}"),
        Some(4.0),
        "{text}"
    );
    assert_eq!(sample(&text, "db_queries_total"), Some(2.0), "{text}");
    assert!(
        sample(&text, "db_query_duration_seconds_sum").unwrap() >= 0.24,
        "{text}"
    );
    let stats = resp::oneshot(&redis.addr.to_string(), &[b"INFO", b"stats"], T)
        .await
        .unwrap()
        .as_text()
        .unwrap();
    let f = resp::info_fields(&stats);
    let get_field = |k: &str| {
        f.iter()
            .find(|(n, _)| n == k)
            .unwrap()
            .1
            .parse::<u64>()
            .unwrap()
    };
    // Cache: 2 misses + 4 hits; database: 2 reads of rows never written before.
    assert_eq!(get_field("keyspace_hits"), 4, "{stats}");
    assert_eq!(get_field("keyspace_misses"), 4, "{stats}");
    // The slow log may also hold an ordinary command that a loaded machine made slow;
    // the EVALs are what the slow query sent.
    let slowlog = resp::oneshot(&redis.addr.to_string(), &[b"SLOWLOG", b"GET", b"100"], T)
        .await
        .unwrap();
    let Value::Array(Some(entries)) = slowlog else {
        panic!("SLOWLOG GET answered {slowlog:?}")
    };
    let evals = entries
        .iter()
        .filter(|e| {
            matches!(e, Value::Array(Some(fields)) if fields.iter().any(|f| matches!(
                f,
                Value::Array(Some(args)) if args.first() == Some(&Value::Bulk(Some(b"EVAL".to_vec())))
            )))
        })
        .count();
    assert_eq!(
        evals, 2,
        "two slow EVALs, one per database call: {entries:?}"
    );
}
