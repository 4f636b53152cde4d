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

/// Calls per second, by the wall clock and by the CPU time of this thread.
struct Rate {
    wall: f64,
    cpu: Option<f64>,
}

/// CPU time this thread has run, in ns (Linux `schedstat`), so that a figure taken on a
/// busy machine still says what one core can do.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Calls `f` repeatedly for about `budget` (at least 3 times).
fn measure(budget: Duration, mut f: impl FnMut()) -> Rate {
    // One warm-up call so that first-touch allocation does not count.
    f();
    let cpu_start = thread_cpu_ns();
    let start = Instant::now();
    let mut n = 0u64;
    while n < 3 || start.elapsed() < budget {
        f();
        n += 1;
    }
    let wall = n as f64 / start.elapsed().as_secs_f64();
    let cpu = match (cpu_start, thread_cpu_ns()) {
        (Some(a), Some(b)) if b > a => Some(n as f64 / ((b - a) as f64 / 1e9)),
        _ => None,
    };
    Rate { wall, cpu }
}

fn rate(budget: Duration, f: impl FnMut()) -> f64 {
    measure(budget, f).wall
}

pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let budget = Duration::from_secs_f64(args.seconds.clamp(0.1, 600.0));
    let mut figures = Map::new();
    let mut notes: Vec<String> = Vec::new();

    // A 10-service topology, a 10-minute window, all five modalities generated and
    // stored, one thread.
    let incidents: Vec<_> = (0..16).map(sim::bench_incident).collect();
    let mut i = 0usize;
    let mut sink = 0usize;
    let eps = measure(budget, || {
        let telemetry = sim::simulate(&incidents[i % incidents.len()]);
        sink = sink.wrapping_add(telemetry.logs.len() + telemetry.spans.len());
        i += 1;
    });
    figures.insert("sim_episodes_per_s".into(), json!(round2(eps.wall)));
    if let Some(cpu) = eps.cpu {
        // What one otherwise idle core does; differs from the wall-clock figure when
        // other work shares the machine.
        figures.insert("sim_episodes_per_cpu_s".into(), json!(round2(cpu)));
    }
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

    let generated = generate_rate(budget.min(Duration::from_secs(3)))?;
    figures.insert("generate_incidents_per_s".into(), json!(round2(generated)));
    // Step messages streamed to an in-process trainer on loopback and acknowledged,
    // through the spool.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let steps = runtime.block_on(otrashi_bridge::bench_grpc_steps(budget))?;
    figures.insert("grpc_steps_per_s".into(), json!(steps.round()));

    // The Python package measures itself (a Python step against the same step from
    // Rust); it is there only when `otrashi` is importable by $OTRASHI_PYTHON.
    match python_step_overhead() {
        Ok(us) => {
            figures.insert("py_step_overhead_us".into(), json!(round2(us)));
        }
        Err(why) => {
            figures.insert("py_step_overhead_us".into(), Value::Null);
            notes.push(format!("py_step_overhead_us not measured: {why}"));
        }
    }

    if !notes.is_empty() {
        figures.insert("notes".into(), json!(notes));
    }
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
            outln!("{name:<24} {value}");
        }
        outln!("\n(one thread, this machine; `--json` for scripts)");
    }
    std::hint::black_box(sink);
    Ok(ExitCode::SUCCESS)
}

/// Incidents per second of `otrashi generate` on the simulator in the native format,
/// files written (to a temporary directory, removed after), one thread.
fn generate_rate(budget: Duration) -> anyhow::Result<f64> {
    use super::generate::{generate, Plan};
    use crate::args::DatasetFormat;

    let scenario = otrashi_scenarios::library::load("shop-cart-memory-leak")
        .map_err(|d| anyhow::anyhow!("the bundled scenario does not load:\n{d}"))?;
    let root = std::env::temp_dir().join(format!("otrashi-bench-generate-{}", std::process::id()));
    let hidden = indicatif::ProgressBar::hidden();
    let start = Instant::now();
    let mut total = 0u64;
    let mut batch = 0u64;
    while total < 10 || start.elapsed() < budget {
        let plan = Plan {
            scenarios: vec![(
                scenario.clone(),
                "library/shop-cart-memory-leak.yaml".into(),
            )],
            count: 10,
            seed: batch,
            formats: [DatasetFormat::Native].into_iter().collect(),
            jobs: 1,
        };
        let outcome = generate(&plan, &root.join(batch.to_string()), &hidden);
        batch += 1;
        match outcome {
            Ok(o) => total += o.written,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&root);
                return Err(e);
            }
        }
    }
    let rate = total as f64 / start.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&root);
    Ok(rate)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Runs the Python package's own overhead measurement in a child interpreter.
fn python_step_overhead() -> Result<f64, String> {
    let python = std::env::var("OTRASHI_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let out = std::process::Command::new(&python)
        .args([
            "-c",
            "import json, otrashi; print(json.dumps(otrashi._bench_step_overhead_us(2000, 5)))",
        ])
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the `otrashi` Python package is not importable by {python} (install it with `pip install ./trainer-bridge/python`, or point $OTRASHI_PYTHON at a Python that has it)"
        ));
    }
    let value: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("unexpected output from the Python benchmark: {e}"))?;
    value["py_step_overhead_us"]
        .as_f64()
        .ok_or_else(|| "the Python benchmark printed no py_step_overhead_us".to_owned())
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
