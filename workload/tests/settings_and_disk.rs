//! The service's own settings and its data volume: a bad timeout setting fails the
//! requests that use it, a full volume fails the requests that write, each with the
//! message real software logs.
#![allow(clippy::unwrap_used)]

mod common;

use common::{get, sample, start};
use otrashi_workload::{Config, Kind};

#[tokio::test]
async fn a_timeout_setting_without_unit_fails_its_rollout_share() {
    let svc = start(Config {
        upstream_timeout: Some("5".to_owned()),
        upstream_timeout_rollout_pct: 40.0,
        ..common::config("cart-api", &[])
    })
    .await;
    let mut failed = 0;
    for _ in 0..60 {
        let r = get(svc.addr, "/").await;
        if r.status == 500 {
            assert_eq!(r.json()["error"], "invalid configuration");
            failed += 1;
        } else {
            assert_eq!(r.status, 200);
        }
    }
    // Each request's trace decides its side of the rollout: about 40 %.
    assert!((10..=40).contains(&failed), "{failed} of 60 failed");
    let lines = svc.logs.lines();
    let bad: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("invalid configuration: CART_API_UPSTREAM_TIMEOUT=\\\"5\\\""))
        .collect();
    assert_eq!(bad.len(), failed, "{lines:#?}");
    assert!(bad[0].contains("missing unit"), "{}", bad[0]);

    let good = start(Config {
        upstream_timeout: Some("800ms".to_owned()),
        ..common::config("cart-api", &[])
    })
    .await;
    for _ in 0..5 {
        assert_eq!(get(good.addr, "/").await.status, 200);
    }
}

/// `/dev/full` answers every write with ENOSPC, as a full volume does.
#[tokio::test]
async fn a_full_data_volume_fails_the_writing_share_with_enospc() {
    let dir = tempfile_dir("full");
    std::os::unix::fs::symlink("/dev/full", dir.join("orders-db.wal")).unwrap();
    let svc = start(Config {
        kind: Kind::Database,
        data_dir: Some(dir.display().to_string()),
        write_pct: Some(50.0),
        ..common::config("orders-db", &[])
    })
    .await;
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..40 {
            v.push(get(svc.addr, "/").await.status);
        }
        v
    };
    // The writing half fails, the reading half does not.
    let failed = statuses.iter().filter(|s| **s == 500).count();
    assert!((8..=32).contains(&failed), "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 40 - failed);
    let lines = svc.logs.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("write failed: write ") && l.contains("No space left on device")),
        "{lines:#?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn writes_land_on_the_data_volume_and_its_usage_is_exported() {
    let dir = tempfile_dir("usage");
    let svc = start(Config {
        kind: Kind::Queue,
        data_dir: Some(dir.display().to_string()),
        ..common::config("events", &[])
    })
    .await;
    for _ in 0..20 {
        assert_eq!(get(svc.addr, "/").await.status, 200);
    }
    let wal = std::fs::read(dir.join("events.wal")).unwrap();
    // A queue writes on about 80 % of its requests, a block each.
    let blocks = wal.len() / otrashi_workload::disk::BLOCK_BYTES;
    assert_eq!(wal.len() % otrashi_workload::disk::BLOCK_BYTES, 0);
    assert!(
        (10..=20).contains(&blocks),
        "{blocks} writes of 20 requests"
    );
    let text = get(svc.addr, "/metrics").await.body;
    let used = sample(&text, "container_fs_usage_bytes").unwrap();
    assert_eq!(used, wal.len() as f64);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempfile_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "otrashi-workload-{tag}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Connections the pool dialled to `target`, counted by a forwarder in front of it.
async fn counting_forwarder(
    target: std::net::SocketAddr,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::spawn(async move {
                let mut outbound = tokio::net::TcpStream::connect(target).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (addr, count)
}

/// A pooled connection past its age is re-dialled (so the peer's name is resolved
/// again, and a DNS failure shows); a young one is reused.
#[tokio::test]
async fn pooled_connections_are_redialled_after_their_max_age() {
    let callee = start(common::config("db", &[])).await;
    for (max_age_ms, dials) in [(60_000, 1), (50, 3)] {
        let (front, count) = counting_forwarder(callee.addr).await;
        let caller = start(Config {
            conn_max_age_ms: max_age_ms,
            ..common::config("api", &[("db", front)])
        })
        .await;
        for _ in 0..3 {
            assert_eq!(get(caller.addr, "/").await.status, 200);
            tokio::time::sleep(std::time::Duration::from_millis(120)).await;
        }
        assert_eq!(
            count.load(std::sync::atomic::Ordering::Relaxed),
            dials,
            "max age {max_age_ms} ms"
        );
    }
}
