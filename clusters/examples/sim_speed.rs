//! How many complete simulator episodes one thread runs per second: a 10-service shop
//! over a 10-minute window, every modality generated and stored.
//!
//! `cargo run --release -p otrashi-clusters --example sim_speed [EPISODES]`

use std::time::Instant;

use otrashi_clusters::{bench_incident, simulate};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    // Warm up caches and the allocator before timing.
    let warm = simulate(&bench_incident(0));
    let started = Instant::now();
    let (mut logs, mut spans, mut samples) = (0usize, 0usize, 0usize);
    for seed in 1..=n {
        let t = simulate(&bench_incident(seed));
        logs += t.logs.len();
        spans += t.spans.len();
        samples += t.metrics.iter().map(|s| s.values.len()).sum::<usize>();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{n} episodes in {secs:.3}s: {:.0} episodes/s ({:.2} ms each); per episode {} services, {} series, {} samples, {} log records, {} spans, {} events",
        n as f64 / secs,
        secs * 1000.0 / n as f64,
        warm.services.len(),
        warm.metrics.len(),
        samples / n as usize,
        logs / n as usize,
        spans / n as usize,
        warm.events.len(),
    );
}
