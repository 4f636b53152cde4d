//! Prints `grpc_steps_per_s` (what `otrashi bench` reports), for a quick look at the
//! bridge alone: `cargo run --release -p otrashi-bridge --example bench_grpc [SECONDS]`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let rate = runtime.block_on(otrashi_bridge::bench_grpc_steps(
        std::time::Duration::from_secs_f64(seconds),
    ))?;
    println!("grpc_steps_per_s {rate:.0}");
    Ok(())
}
