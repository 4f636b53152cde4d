//! A real Redis playing a datastore, and one container per replica, on a real Docker
//! engine. Effects are checked from outside otrashi's telemetry: Redis' own `SLOWLOG`
//! and the time a `PING` waits while a slow script runs, read directly from the
//! server; `docker ps` and `docker inspect` for the replicas. Without an engine the
//! tests skip with a message, except under `CI=true` where they fail. Build the
//! workload first (`cargo build -p otrashi-workload`) and install `redis-server`.
#![cfg(feature = "docker")]
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use otrashi_clusters::docker::DockerBackend;
use otrashi_gym::backend::{Backend, BackendError, Env};
use otrashi_gym::context::EpisodeContext;
use otrashi_scenarios::incident::sample;
use otrashi_scenarios::parse::parse_str;
use otrashi_workload::resp::{self, Value};

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn backend() -> Option<(DockerBackend, tokio::sync::MutexGuard<'static, ()>)> {
    let turn = ONE_AT_A_TIME.lock().await;
    let ci = std::env::var("CI").as_deref() == Ok("true");
    if otrashi_docker::image::find_program("redis-server").is_none() {
        assert!(!ci, "CI=true but redis-server is not installed");
        eprintln!("skipping: redis-server is not installed (apt-get install -y redis-server)");
        return None;
    }
    match DockerBackend::connect().await {
        Ok(b) => Some((b, turn)),
        Err(e) if ci => panic!("CI=true but the Docker backend is unavailable: {e}"),
        Err(e) => {
            eprintln!("skipping: the Docker backend is unavailable: {e}");
            None
        }
    }
}

/// Removes whatever an episode left, however the test ends.
struct Guard(Arc<Mutex<Vec<String>>>);

impl Drop for Guard {
    fn drop(&mut self) {
        for ep in self.0.lock().unwrap().iter() {
            let filter = format!("label=otrashi.episode={ep}");
            for (list, rm) in [
                (vec!["ps", "-aq"], ["rm", "-f"]),
                (vec!["network", "ls", "-q"], ["network", "rm"]),
            ] {
                let mut args = list.clone();
                args.extend(["--filter", &filter]);
                if let Ok(out) = Command::new("docker").args(&args).output() {
                    for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                        let _ = Command::new("docker").args(rm).arg(id).output();
                    }
                }
            }
        }
    }
}

/// `(episode, name, host port of 6379)` of this process' running containers of
/// `service` (the PID label keeps other engineers' episodes out).
fn containers(service: &str, port: Option<u16>) -> Vec<(String, String, Option<u16>)> {
    let out = Command::new("docker")
        .args([
            "ps",
            "--filter",
            &format!("label=otrashi.service={service}"),
            "--filter",
            &format!("label=otrashi.pid={}", std::process::id()),
            "--format",
            "{{.Label \"otrashi.episode\"}} {{.Names}}",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (ep, name) = l.split_once(' ')?;
            let host_port = port.and_then(|p| {
                let out = Command::new("docker")
                    .args(["port", name, &format!("{p}/tcp")])
                    .output()
                    .ok()?;
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .next()?
                    .rsplit_once(':')?
                    .1
                    .trim()
                    .parse()
                    .ok()
            });
            Some((ep.to_owned(), name.to_owned(), host_port))
        })
        .collect()
}

fn flatten(v: &Value) -> String {
    match v {
        Value::Array(Some(items)) => items.iter().map(flatten).collect::<Vec<_>>().join(" "),
        Value::Integer(n) => n.to_string(),
        other => other.as_text().unwrap_or_default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_code_slow_query_blocks_the_real_redis_and_is_scored() {
    let Some((b, _turn)) = backend().await else {
        return;
    };
    let sc = parse_str(
        "apiVersion: otrashi/v1
kind: Scenario
metadata: {name: docker-redis-slow-query}
topology: chain
load: {rps: 10, pattern: steady}
timeline: {warmup: 10s, duration: 20s}
faults:
  - {id: unindexed, kind: code.slow_query, target: api, at: 12s, params: {query_ms: 50}}
",
        "docker-redis-slow-query",
    )
    .unwrap();
    let incident = sample(&sc, 5).unwrap();
    b.check(&incident).unwrap();
    let episodes = Arc::new(Mutex::new(Vec::new()));
    let _guard = Guard(episodes.clone());

    // Watches the real Redis from outside otrashi: how long a PING waits, and the slow
    // log, until the episode ends.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (episodes, done) = (episodes.clone(), done.clone());
        tokio::spawn(async move {
            let begin = Instant::now();
            let mut pings: Vec<(Duration, Duration)> = Vec::new();
            let mut slowlog = String::new();
            let mut eval_calls = 0u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let found = tokio::task::spawn_blocking(|| containers("db", Some(6379)))
                    .await
                    .unwrap();
                if let Some((ep, _, Some(port))) = found.into_iter().next() {
                    if !episodes.lock().unwrap().contains(&ep) {
                        episodes.lock().unwrap().push(ep);
                    }
                    let addr = format!("127.0.0.1:{port}");
                    let t = Instant::now();
                    if resp::oneshot(&addr, &[b"PING"], Duration::from_secs(2))
                        .await
                        .is_ok()
                    {
                        pings.push((begin.elapsed(), t.elapsed()));
                    }
                    if let Ok(v) =
                        resp::oneshot(&addr, &[b"SLOWLOG", b"GET", b"5"], Duration::from_secs(2))
                            .await
                    {
                        let text = flatten(&v);
                        if !text.is_empty() {
                            slowlog = text;
                        }
                    }
                    if let Ok(v) =
                        resp::oneshot(&addr, &[b"INFO", b"commandstats"], Duration::from_secs(2))
                            .await
                    {
                        let info = resp::info_fields(&v.as_text().unwrap_or_default());
                        if let Some((_, f)) = info.iter().find(|(k, _)| k == "cmdstat_eval") {
                            eval_calls = f
                                .split(',')
                                .find_map(|kv| kv.strip_prefix("calls="))
                                .and_then(|c| c.parse().ok())
                                .unwrap_or(0);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            (pings, slowlog, eval_calls)
        })
    };

    let mut config = otrashi_gym::GymConfig::new(Arc::new(otrashi_gym::scorer::RubricScorer::new(
        Default::default(),
    )));
    config.max_steps = 30;
    let mut gym = otrashi_gym::Gym::new(sc, Arc::new(b), config);
    let began = Instant::now();
    let result = otrashi_gym::episode::run_episode(
        &mut gym,
        &mut otrashi_gym::agents::Baseline::new(),
        Some(5),
    )
    .await
    .unwrap();
    let wall = began.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let (pings, slowlog, eval_calls) = watcher.await.unwrap();
    eprintln!("episode {} took {wall:.1?}", result.episode_id);
    assert!(result.reward.is_some(), "the episode was not scored");

    // Independent of otrashi's telemetry: the server ran the slow scripts…
    assert!(
        eval_calls > 10,
        "INFO commandstats shows {eval_calls} EVAL calls"
    );
    assert!(slowlog.contains("EVAL local ms"), "SLOWLOG: {slowlog}");
    // … and they blocked everyone else: a PING waited behind them once the fault was
    // on (12 s of the 30 s timeline, 4 s after the first PING at the earliest).
    let slowest = pings.iter().map(|p| p.1).max().unwrap_or_default();
    assert!(
        pings.len() > 10 && slowest >= Duration::from_millis(20),
        "PINGs never waited behind a script: {pings:?}"
    );

    // And the telemetry says it where the simulator would.
    let telemetry = gym.telemetry().unwrap().clone();
    let db = telemetry.service_id("db").unwrap();
    let slow_lines: Vec<String> = telemetry
        .logs
        .iter()
        .filter(|l| l.service == db)
        .map(|l| telemetry.log_templates[l.template as usize].render(&l.args))
        .filter(|l| l.contains("slow query"))
        .collect();
    assert!(
        slow_lines
            .iter()
            .any(|l| l.contains("EVAL") && l.contains("from api")),
        "{slow_lines:?}"
    );
    let p99 = telemetry
        .metrics
        .iter()
        .find(|m| {
            m.service == db
                && m.name == "db_query_duration_seconds"
                && m.labels.iter().any(|(k, v)| k == "quantile" && v == "0.99")
        })
        .unwrap();
    assert!(
        p99.values.iter().any(|v| *v >= 0.04),
        "db p99 {:?}",
        p99.values
    );
    let ep = result.episode_id.clone();
    let left = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=otrashi.episode={ep}"),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&left.stdout).trim(), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_shop_runs_a_container_per_replica_and_freezes_one() {
    let Some((b, _turn)) = backend().await else {
        return;
    };
    let sc = parse_str(
        "apiVersion: otrashi/v1
kind: Scenario
metadata: {name: docker-replicas}
topology: shop
load: {rps: 10, pattern: steady}
timeline: {warmup: 8s, duration: 12s}
faults:
  - {id: stuck, kind: infra.process_freeze, target: frontend, at: 10s, duration: 6s}
",
        "docker-replicas",
    )
    .unwrap();
    let incident = sample(&sc, 6).unwrap();
    b.check(&incident).unwrap();
    let cx = EpisodeContext::new("ep-test-replicas", 6);
    let episodes = Arc::new(Mutex::new(vec![cx.episode_id.clone()]));
    let _guard = Guard(episodes);
    let began = Instant::now();
    let mut env = b.provision_env(&incident, &cx).await.unwrap();
    let provisioned = began.elapsed();
    let mut frontends: Vec<String> = env
        .containers_of("frontend")
        .into_iter()
        .map(|c| c.0)
        .collect();
    frontends.sort();
    let want: Vec<String> = (0..3)
        .map(|n| format!("otrashi-{}-frontend-{n}", cx.episode_id))
        .collect();
    assert_eq!(frontends, want);
    // Docker agrees, with the labels.
    let labelled = Command::new("docker")
        .args([
            "ps",
            "--filter",
            &format!("label=otrashi.episode={}", cx.episode_id),
            "--filter",
            "label=otrashi.service=frontend",
            "--format",
            "{{.Names}} {{.Label \"otrashi.replica\"}}",
        ])
        .output()
        .unwrap();
    let mut seen: Vec<String> = String::from_utf8_lossy(&labelled.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        (0..3)
            .map(|n| format!("{} {n}", want[n]))
            .collect::<Vec<_>>()
    );

    // Poll who is paused while the episode runs: one replica, the first.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (stop, names) = (stop.clone(), want.clone());
        tokio::spawn(async move {
            let mut paused_sets = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut args = vec!["inspect", "-f", "{{.Name}} {{.State.Paused}}"];
                args.extend(names.iter().map(String::as_str));
                let out = tokio::process::Command::new("docker")
                    .args(&args)
                    .output()
                    .await
                    .unwrap();
                let paused: Vec<String> = String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter(|l| l.ends_with(" true"))
                    .map(|l| {
                        l.trim_start_matches('/')
                            .trim_end_matches(" true")
                            .to_owned()
                    })
                    .collect();
                paused_sets.push(paused);
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            paused_sets
        })
    };
    let telemetry = env.run(&cx).await.unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let paused_sets = poller.await.unwrap();
    let (sent, ok, errors, failed) = env.stats.snapshot();
    env.teardown(&cx).await.unwrap();
    eprintln!(
        "shop with replicas: provisioned in {provisioned:.1?}, episode {:.1?}; load sent {sent}, ok {ok}, 5xx {errors}, failed {failed}",
        began.elapsed()
    );
    assert!(
        paused_sets.iter().any(|p| p == &vec![want[0].clone()]),
        "replica 0 alone was never seen paused: {paused_sets:?}"
    );
    assert!(paused_sets.iter().all(|p| p.len() <= 1), "{paused_sets:?}");
    // Telemetry is per service: three frontend replicas available, the real Redis
    // scraped as the cache.
    let fe = telemetry.service_id("frontend").unwrap();
    let available = telemetry
        .metrics
        .iter()
        .find(|m| m.service == fe && m.name == "kube_deployment_status_replicas_available")
        .unwrap();
    assert!(available.values.contains(&3.0), "{:?}", available.values);
    let redis = telemetry.service_id("redis").unwrap();
    let ratio = telemetry
        .metrics
        .iter()
        .find(|m| m.service == redis && m.name == "cache_hit_ratio")
        .unwrap();
    assert!(
        ratio.values.iter().any(|v| *v > 0.3),
        "redis hit ratio {:?}",
        ratio.values
    );
    assert!(ok > sent / 2, "sent {sent}, ok {ok}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_check_refuses_workload_faults_on_a_redis_played_service() {
    let Some((b, _turn)) = backend().await else {
        return;
    };
    let sc = parse_str(
        "apiVersion: otrashi/v1
kind: Scenario
metadata: {name: docker-redis-refused}
topology: chain
timeline: {warmup: 10s, duration: 20s}
faults:
  - {id: loop, kind: orchestration.crash_loop, target: db, at: 12s}
",
        "docker-redis-refused",
    )
    .unwrap();
    let incident = sample(&sc, 7).unwrap();
    match b.check(&incident) {
        Err(e @ BackendError::Unsupported { .. }) => {
            let text = e.to_string() + &format!("{e:?}");
            assert!(
                text.contains("orchestration.crash_loop targets `db`")
                    && text.contains("engine: redis"),
                "{text}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // An infra fault works on any container, the Redis one included.
    let ok = parse_str(&sc_with("infra.cpu_saturation"), "docker-redis-infra").unwrap();
    b.check(&sample(&ok, 7).unwrap()).unwrap();
}

fn sc_with(kind: &str) -> String {
    format!(
        "apiVersion: otrashi/v1
kind: Scenario
metadata: {{name: docker-redis-infra}}
topology: chain
timeline: {{warmup: 10s, duration: 20s}}
faults:
  - {{id: f, kind: {kind}, target: db, at: 12s}}
"
    )
}
