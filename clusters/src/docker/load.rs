//! The open-loop load generator: requests to the entry at a fixed rate whether or not
//! earlier ones have answered (as real users arrive), so a slow service builds a
//! backlog instead of slowing the generator down.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::http;

/// What the generator saw, independent of the services' own metrics.
#[derive(Debug, Default)]
pub struct LoadStats {
    /// Requests sent.
    pub sent: AtomicU64,
    /// Answered with a 2xx–4xx.
    pub ok: AtomicU64,
    /// Answered with a 5xx.
    pub server_errors: AtomicU64,
    /// No answer (refused, reset, timed out).
    pub failed: AtomicU64,
}

impl LoadStats {
    /// `(sent, ok, 5xx, failed)` now.
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.ok.load(Ordering::Relaxed),
            self.server_errors.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

/// Sends `GET /` to the port in `port` (it changes when the entry is recreated) at
/// `rps` until `stop` is cancelled.
pub async fn run(
    port: watch::Receiver<u16>,
    rps: f64,
    stats: Arc<LoadStats>,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rps.max(0.1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let port = *port.borrow();
        let stats = stats.clone();
        stats.sent.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let counter = match http::get(port, "/", Duration::from_secs(5)).await {
                Ok(r) if r.status >= 500 => &stats.server_errors,
                Ok(_) => &stats.ok,
                Err(_) => &stats.failed,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        });
    }
}
