//! `otrashi bench`: otrashi's own speed, measured here and now.
//!
//! Each figure runs for a fixed wall-clock budget and reports a rate; nothing is timed
//! in tests (speed targets live here, where a person reads them).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use otrashi_clusters::sim;
use serde_json::{json, Map, Value};

use super::print_json;
use crate::args::BenchArgs;

/// Calls `f` repeatedly for about `budget` (at least 3 times) and returns calls per second.
fn rate(budget: Duration, mut f: impl FnMut()) -> f64 {
    // One warm-up call so that first-touch allocation does not count.
    f();
    let start = Instant::now();
    let mut n = 0u64;
    while n < 3 || start.elapsed() < budget {
        f();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let budget = Duration::from_secs_f64(args.seconds.clamp(0.1, 600.0));
    let mut figures = Map::new();

    // A 10-service topology, a 10-minute window, all five modalities generated and
    // stored, one thread.
    let incidents: Vec<_> = (0..16).map(sim::bench_incident).collect();
    let mut i = 0usize;
    let mut sink = 0usize;
    let eps = rate(budget, || {
        let telemetry = sim::simulate(&incidents[i % incidents.len()]);
        sink = sink.wrapping_add(telemetry.logs.len() + telemetry.spans.len());
        i += 1;
    });
    figures.insert("sim_episodes_per_s".into(), json!(round2(eps)));
    let sample = sim::simulate(&incidents[0]);
    figures.insert(
        "sim_episode_size".into(),
        json!({
            "services": sample.services.len(),
            "window_s": sample.end_ms / 1000,
            "metric_series": sample.metrics.len(),
            "log_records": sample.logs.len(),
            "spans": sample.spans.len(),
            "events": sample.events.len(),
            "deploys": sample.deploys.len(),
        }),
    );

    let source = otrashi_scenarios::library::scenarios()
        .first()
        .map(|s| s.source)
        .unwrap_or_default();
    let parses = rate(budget.min(Duration::from_secs(1)), || {
        sink =
            sink.wrapping_add(otrashi_scenarios::parse_str(source, "bench.yaml").is_ok() as usize);
    });
    figures.insert("scenario_parse_us".into(), json!(round2(1e6 / parses)));

    if args.no_docker {
        figures.insert("docker_note".into(), json!("skipped (--no-docker)"));
    } else {
        match docker_figures() {
            Ok((reset, episode)) => {
                figures.insert("docker_reset_s".into(), json!(round2(reset)));
                figures.insert("docker_episode_s".into(), json!(round2(episode)));
            }
            Err(e) => {
                figures.insert(
                    "docker_note".into(),
                    json!(format!("docker figures skipped: {e:#}")),
                );
            }
        }
    }

    if args.json {
        print_json(&Value::Object(figures))?;
    } else {
        for (name, value) in &figures {
            println!("{name:<24} {value}");
        }
        println!("\n(one thread, this machine; `--json` for scripts)");
    }
    std::hint::black_box(sink);
    Ok(ExitCode::SUCCESS)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The Docker backend on the bundled `shop-network-loss` (the shop topology): the
/// time to bring an episode's containers up healthy and remove them again, and one whole
/// episode with the baseline agent, teardown included.
fn docker_figures() -> anyhow::Result<(f64, f64)> {
    use std::sync::Arc;

    use anyhow::Context as _;
    use otrashi_gym::backend::Env as _;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let backend = otrashi_clusters::docker::DockerBackend::connect()
            .await
            .context("no Docker backend")?;
        let scenario = otrashi_scenarios::library::load("shop-network-loss")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let incident = otrashi_scenarios::sample(&scenario, 1)?;
        let cx = otrashi_gym::context::EpisodeContext::new(
            format!("ep-bench-{}", std::process::id()),
            1,
        );
        let start = Instant::now();
        let mut env = backend.provision_env(&incident, &cx).await?;
        env.teardown(&cx).await?;
        let reset = start.elapsed().as_secs_f64();

        let config = otrashi_gym::GymConfig::new(Arc::new(otrashi_gym::scorer::RubricScorer::new(
            Default::default(),
        )));
        let mut gym = otrashi_gym::Gym::new(scenario, Arc::new(backend), config);
        let start = Instant::now();
        otrashi_gym::episode::run_episode(
            &mut gym,
            &mut otrashi_gym::agents::Baseline::new(),
            Some(1),
        )
        .await?;
        anyhow::Ok((reset, start.elapsed().as_secs_f64()))
    })
}
