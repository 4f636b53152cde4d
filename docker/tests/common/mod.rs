//! Shared helpers of the `docker_*` tests: engine-or-skip, the freshly built workload
//! binary, and a cleanup guard that removes what a test created even when it fails.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use otrashi_docker::{remove_images, sweep, Engine, SweepFilter};

/// The engine, or `None` (after saying so) when none answers. Under `CI=true` a missing
/// engine fails the test: CI is supposed to have one.
pub async fn engine_or_skip(test: &str) -> Option<Engine> {
    match Engine::connect().await {
        Ok(engine) => Some(engine),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{test}: CI=true but no Docker engine answers: {e}")
        }
        Err(e) => {
            eprintln!("{test}: skipped, no Docker engine answers: {e}");
            None
        }
    }
}

/// The `otrashi-workload` binary, built by the cargo running the tests. The command
/// selects what `cargo test --workspace` / `cargo nextest run --workspace` select, so
/// features unify the same way and, in CI, the build is already fresh: nothing is
/// compiled twice. (Run alone, `cargo test -p otrashi-docker` builds the workspace's
/// tests once.)
pub fn workload_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = std::process::Command::new(cargo)
        .args(["build", "--workspace", "--tests", "--message-format=json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"]["name"] == "otrashi-workload" && v["profile"]["test"] == false)
        .find_map(|v| v["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported no otrashi-workload executable")
}

/// Sweeps the episode's containers and networks and removes the image repositories
/// registered with [`Cleanup::repo`] when dropped, panicking test or not. Each test
/// builds its own repository, so parallel tests never remove each other's images.
pub struct Cleanup {
    pub episode: String,
    repos: Mutex<Vec<String>>,
}

impl Cleanup {
    pub fn new(test: &str) -> Cleanup {
        Cleanup {
            episode: format!("{test}-{}", std::process::id()),
            repos: Mutex::new(Vec::new()),
        }
    }

    pub fn repo(&self, repo: &str) {
        self.repos.lock().unwrap().push(repo.to_owned());
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let episode = self.episode.clone();
        let repos = std::mem::take(&mut *self.repos.lock().unwrap_or_else(|p| p.into_inner()));
        // Drop cannot await, and may run inside the test's runtime: clean up from a
        // thread with its own runtime.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let Ok(engine) = Engine::connect().await else {
                    return;
                };
                if let Err(e) = sweep(&engine, &SweepFilter::Episode(episode.clone())).await {
                    eprintln!("cleanup of {episode} failed: {e}");
                }
                for repo in repos {
                    if let Err(e) = remove_images(&engine, Some(&repo)).await {
                        eprintln!("removing images of {repo} failed: {e}");
                    }
                }
            });
        });
        let _ = done.join();
    }
}

/// GET over a fresh connection to 127.0.0.1:port; status and body.
pub async fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP response: {text:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    Ok((status, body.to_owned()))
}

/// Polls `GET /healthz` until it answers 200; returns the time it took.
pub async fn wait_healthy(port: u16, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if let Ok((200, _)) = http_get(port, "/healthz").await {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "port {port} not healthy within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
