//! The open-loop load generator: requests to the entry at a fixed rate whether or not
//! earlier ones have answered (as real users arrive), so a slow service builds a
//! backlog instead of slowing the generator down.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use otrashi_scenarios::model::LoadPattern;

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

/// The scenario's load shape at scenario second `t` of `end_s` (the simulator's
/// patterns, without its random jitter: bursts come every 90 s and last 10 s).
pub fn shape(pattern: LoadPattern, t: f64, end_s: f64) -> f64 {
    match pattern {
        LoadPattern::Steady => 1.0,
        LoadPattern::Diurnal => 1.0 + 0.3 * (2.0 * std::f64::consts::PI * t / end_s.max(1.0)).sin(),
        LoadPattern::Bursty => {
            if t % 90.0 >= 80.0 {
                2.5
            } else {
                1.0
            }
        }
        LoadPattern::Ramp => 0.5 + 0.5 * (t / end_s.max(1.0)).min(1.0),
    }
}

/// Sends `GET /` to the entry's replicas in turn (as a load balancer in front of them
/// would; their ports are in `ports`, which changes when one is recreated) at `rps`
/// times `rate(elapsed)` until `stop` is cancelled.
pub async fn run(
    ports: watch::Receiver<Vec<u16>>,
    rps: f64,
    rate: impl Fn(Duration) -> f64 + Send + 'static,
    stats: Arc<LoadStats>,
    stop: CancellationToken,
) {
    let start = tokio::time::Instant::now();
    let mut next = start;
    loop {
        let now_rps = (rps * rate(next - start)).max(0.1);
        next += Duration::from_secs_f64(1.0 / now_rps);
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep_until(next) => {}
        }
        let n = stats.sent.fetch_add(1, Ordering::Relaxed);
        let port = {
            let ports = ports.borrow();
            if ports.is_empty() {
                0
            } else {
                ports[(n % ports.len() as u64) as usize]
            }
        };
        let stats = stats.clone();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_the_simulator_patterns() {
        assert_eq!(shape(LoadPattern::Steady, 10.0, 100.0), 1.0);
        assert_eq!(shape(LoadPattern::Ramp, 0.0, 100.0), 0.5);
        assert_eq!(shape(LoadPattern::Ramp, 100.0, 100.0), 1.0);
        assert!((shape(LoadPattern::Diurnal, 25.0, 100.0) - 1.3).abs() < 1e-9);
        assert_eq!(shape(LoadPattern::Bursty, 85.0, 300.0), 2.5);
        assert_eq!(shape(LoadPattern::Bursty, 30.0, 300.0), 1.0);
    }
}
