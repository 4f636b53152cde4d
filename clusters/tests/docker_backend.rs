//! The Docker backend against a real engine. Each test runs one small scenario per
//! fault level and checks the fault's effect from outside otrashi's telemetry (the
//! load generator's own counters, `docker inspect`, iptables in the container's
//! namespace). Without an engine the tests skip with a message, except under `CI=true`
//! where they fail. Build the workload first: `cargo build -p otrashi-workload`.
#![cfg(feature = "docker")]
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use otrashi_clusters::docker::DockerBackend;
use otrashi_gym::backend::{Backend, Env};
use otrashi_gym::context::EpisodeContext;
use otrashi_scenarios::incident::sample;
use otrashi_scenarios::parse::parse_str;

/// One episode at a time: under plain `cargo test` the tests of this file run in
/// parallel, and several episodes on a 2-core host would time each other out.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn backend() -> Option<(DockerBackend, tokio::sync::MutexGuard<'static, ()>)> {
    let turn = ONE_AT_A_TIME.lock().await;
    match DockerBackend::connect().await {
        Ok(b) => Some((b, turn)),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but the Docker backend is unavailable: {e}")
        }
        Err(e) => {
            eprintln!("skipping: the Docker backend is unavailable: {e}");
            None
        }
    }
}

/// Removes whatever the episode left, however the test ends.
struct Guard(String);

impl Drop for Guard {
    fn drop(&mut self) {
        let filter = format!("label=otrashi.episode={}", self.0);
        for (list, rm) in [
            (["ps", "-aq"], ["rm", "-f"]),
            (["network", "ls"], ["network", "rm"]),
        ] {
            let mut args: Vec<&str> = list.to_vec();
            if list[0] == "network" {
                args.push("-q");
            }
            args.extend(["--filter", &filter]);
            if let Ok(out) = Command::new("docker").args(&args).output() {
                let ids = String::from_utf8_lossy(&out.stdout).to_string();
                for id in ids.split_whitespace() {
                    let _ = Command::new("docker").args(rm).arg(id).output();
                }
            }
        }
    }
}

fn leftovers(episode: &str) -> String {
    let filter = format!("label=otrashi.episode={episode}");
    let c = Command::new("docker")
        .args(["ps", "-aq", "--filter", &filter])
        .output()
        .unwrap();
    let n = Command::new("docker")
        .args(["network", "ls", "-q", "--filter", &filter])
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&c.stdout).trim(),
        String::from_utf8_lossy(&n.stdout).trim()
    )
}

fn scenario(name: &str, fault: &str) -> otrashi_scenarios::Scenario {
    let yaml = format!(
        "apiVersion: otrashi/v1
kind: Scenario
metadata: {{name: {name}}}
topology:
  name: mini
  entry: web
  services:
    web: {{kind: web, calls: [api]}}
    api: {{kind: api, calls: [db]}}
    db: {{kind: database}}
load: {{rps: 20, pattern: steady}}
timeline: {{warmup: 10s, duration: 20s}}
faults:
  - {fault}
"
    );
    parse_str(&yaml, name).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_code_error_injection_is_scored_through_the_gym() {
    let Some((b, _turn)) = backend().await else {
        return;
    };
    let sc = scenario(
        "docker-code",
        "{id: bad, kind: code.error_injection, target: api, at: 12s, via: direct, params: {error_pct: 60}}",
    );
    let incident = sample(&sc, 1).unwrap();
    b.check(&incident).unwrap();
    let cx = EpisodeContext::new("ep-test-code", 1);
    let _guard = Guard(cx.episode_id.clone());
    let mut env = b.provision_env(&incident, &cx).await.unwrap();
    let telemetry = env.run(&cx).await.unwrap();
    let (sent, ok, errors, failed) = env.stats.snapshot();
    env.teardown(&cx).await.unwrap();
    assert_eq!(leftovers(&cx.episode_id), "");
    // Independent of the telemetry: the load generator got 500s through the entry.
    assert!(
        errors > sent / 10,
        "sent {sent}, ok {ok}, 5xx {errors}, failed {failed}"
    );
    // And the telemetry shows it where the simulator would.
    let api = telemetry.service_id("api").unwrap();
    let e5 = telemetry
        .metrics
        .iter()
        .find(|m| m.name == "http_requests_total" && m.service == api && m.labels[0].1 == "5xx")
        .unwrap();
    assert!(e5.values.iter().any(|v| *v > 0.0), "{:?}", e5.values);
    assert!(telemetry
        .logs
        .iter()
        .any(|l| telemetry.log_templates[l.template as usize]
            .text
            .contains("Unhandled Exception")));
    assert!(!telemetry.spans.is_empty());
    // The test's window leaves 18 s of fault, too short for the paging rule's 40 s: the
    // rule files an error-rate ticket on the entry that says the SLO is exceeded.
    let alert = &telemetry.alert;
    assert_eq!(
        (
            alert.name.as_str(),
            alert.severity.as_str(),
            alert.service.as_str()
        ),
        ("ErrorRateAnomaly", "ticket", "web"),
        "{alert:?}"
    );
    assert!(alert.summary.contains("above the 2% SLO"), "{alert:?}");

    // The same incident scored end to end by the gym with the baseline agent.
    let mut config = otrashi_gym::GymConfig::new(Arc::new(otrashi_gym::scorer::RubricScorer::new(
        Default::default(),
    )));
    config.max_steps = 30;
    let mut gym = otrashi_gym::Gym::new(sc, Arc::new(b), config);
    let result = otrashi_gym::episode::run_episode(
        &mut gym,
        &mut otrashi_gym::agents::Baseline::new(),
        Some(1),
    )
    .await
    .unwrap();
    assert!(result.reward.is_some(), "the episode was not scored");
    let ep = result.episode_id.clone();
    assert_eq!(leftovers(&ep), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_infra_network_partition_rule_exists_only_during_the_fault() {
    let Some((b, _turn)) = backend().await else {
        return;
    };
    let sc = scenario(
        "docker-infra",
        "{id: cut, kind: infra.network_partition, target: api, at: 12s, duration: 10s}",
    );
    let incident = sample(&sc, 2).unwrap();
    b.check(&incident).unwrap();
    let cx = EpisodeContext::new("ep-test-infra", 2);
    let _guard = Guard(cx.episode_id.clone());
    let mut env = b.provision_env(&incident, &cx).await.unwrap();
    let (_, pid) = env.container_of("api").unwrap();
    let pid = pid.unwrap();
    let tag = format!("otrashi:{}", cx.episode_id);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (seen, stop, tag) = (seen.clone(), stop.clone(), tag.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let out = tokio::process::Command::new("nsenter")
                    .args(["-t", &pid.to_string(), "-n", "iptables", "-S", "INPUT"])
                    .output()
                    .await
                    .unwrap();
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&out.stdout).contains(&tag));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    let telemetry = env.run(&cx).await.unwrap();
    stop.store(true, Ordering::Relaxed);
    poller.await.unwrap();
    let (sent, ok, errors, failed) = env.stats.snapshot();
    let rule_after = Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-n", "iptables", "-S", "INPUT"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&rule_after.stdout).contains(&tag),
        "the rule outlived its revert"
    );
    env.teardown(&cx).await.unwrap();
    assert_eq!(leftovers(&cx.episode_id), "");
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().any(|s| *s),
        "the REJECT rule was never seen: {seen:?}"
    );
    assert!(!seen[0], "the rule existed before the fault");
    // web's calls to api were refused: the entry answered with errors.
    assert!(
        errors + failed > sent / 10,
        "sent {sent}, 5xx {errors}, failed {failed}"
    );
    assert!(
        ok > sent / 3,
        "sent {sent}, ok {ok}: the entry never worked"
    );
    assert!(!telemetry.metrics.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_orchestration_oom_kill_shows_in_docker_inspect() {
    let Some((b, _turn)) = backend().await else {
        return;
    };
    let sc = scenario(
        "docker-orch",
        "{id: tiny, kind: orchestration.oom_kill, target: api, at: 12s, params: {limit_mb: 24}}",
    );
    let incident = sample(&sc, 3).unwrap();
    b.check(&incident).unwrap();
    let cx = EpisodeContext::new("ep-test-orch", 3);
    let _guard = Guard(cx.episode_id.clone());
    let mut env = b.provision_env(&incident, &cx).await.unwrap();
    let (name, _) = env.container_of("api").unwrap();
    let oom = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (oom, stop) = (oom.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let out = tokio::process::Command::new("docker")
                    .args([
                        "inspect",
                        "-f",
                        "{{.State.OOMKilled}} {{.RestartCount}}",
                        &name,
                    ])
                    .output()
                    .await
                    .unwrap();
                let text = String::from_utf8_lossy(&out.stdout).to_string();
                if text.starts_with("true") {
                    oom.store(true, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let telemetry = env.run(&cx).await.unwrap();
    stop.store(true, Ordering::Relaxed);
    poller.await.unwrap();
    env.teardown(&cx).await.unwrap();
    assert_eq!(leftovers(&cx.episode_id), "");
    let api = telemetry.service_id("api").unwrap();
    let events: Vec<_> = telemetry
        .events
        .iter()
        .filter(|e| e.service == api)
        .map(|e| e.reason.clone())
        .collect();
    assert!(
        oom.load(Ordering::Relaxed),
        "docker inspect never showed OOMKilled; events: {events:?}"
    );
    assert!(events.iter().any(|r| r == "OOMKilled"), "{events:?}");
}

/// Every fault kind this host supports, one after another on small targets: each
/// injects and reverts on the real engine, and the episode still yields telemetry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_every_supported_fault_injects_and_reverts() {
    let Some((b, _turn)) = backend().await else {
        return;
    };
    use otrashi_scenarios::FaultKind as K;
    // Code faults alternate between a deploy and a runtime switch, where allowed.
    let kinds = [
        (K::NetworkLoss, "api", ""),
        (K::NetworkPartition, "api", ""),
        (K::BandwidthLimit, "api", ""),
        (K::NetworkDelay, "api", ""),
        (K::CpuSaturation, "api", ""),
        (K::MemoryPressure, "api", ""),
        (K::ProcessFreeze, "api", ""),
        (K::CpuThrottle, "api", ""),
        (K::ScaleToZero, "api", ""),
        (K::CrashLoop, "api", ""),
        (K::OomKill, "api", ""),
        (K::MisroutedPort, "api", ""),
        (K::FailedDeploy, "api", ""),
        (K::LivenessProbeMisconfig, "api", ""),
        (K::DependencyRemoved, "api", ""),
        (K::PodKill, "web", ""),
        (K::DiskFull, "api", ""),
        (K::DnsFailure, "api", ""),
        (K::BadEnvConfig, "api", ""),
        (K::ErrorInjection, "api", ", via: direct"),
        (K::SlowHandler, "web", ", via: deploy"),
        (K::MemoryLeak, "api", ", via: direct"),
        (K::ConnectionLeak, "web", ", via: direct"),
        (K::RetryStorm, "web", ", via: config"),
        (K::CacheBypass, "api", ", via: deploy"),
        (K::HotLoop, "web", ", via: deploy"),
        (K::PanicCrash, "web", ", via: deploy"),
        (K::SlowQuery, "api", ", via: deploy"),
    ];
    let mut faults = String::new();
    let mut n = 0;
    for (kind, target, via) in kinds {
        if otrashi_clusters::docker::support(kind, b.report()).is_err() {
            continue;
        }
        faults.push_str(&format!(
            "  - {{id: f{n}, kind: {}, target: {target}, at: {}s, duration: 2s{via}}}\n",
            kind.as_str(),
            3 + 3 * n
        ));
        n += 1;
    }
    let yaml = format!(
        "apiVersion: otrashi/v1
kind: Scenario
metadata: {{name: docker-all}}
topology:
  name: mini
  entry: web
  services:
    web: {{kind: web, calls: [api]}}
    api: {{kind: api, calls: [cache, db]}}
    cache: {{kind: cache}}
    db: {{kind: database}}
load: {{rps: 10, pattern: steady}}
timeline: {{warmup: 2s, duration: {}s}}
faults:
{faults}",
        3 * n + 5
    );
    let sc = parse_str(&yaml, "docker-all").unwrap();
    let incident = sample(&sc, 4).unwrap();
    b.check(&incident).unwrap();
    let cx = EpisodeContext::new("ep-test-all", 4);
    let _guard = Guard(cx.episode_id.clone());
    let mut b2 = b.options().clone();
    // Real time: every 2 s fault gets its 2 s.
    b2.max_wall_s = 1000.0;
    let b = DockerBackend::with(b.engine().clone(), b.report().clone(), b2);
    let mut env = b.provision_env(&incident, &cx).await.unwrap();
    let telemetry = env.run(&cx).await.unwrap();
    let timings = env.fault_timings.clone();
    env.teardown(&cx).await.unwrap();
    assert_eq!(leftovers(&cx.episode_id), "");
    for (kind, inject, revert) in &timings {
        eprintln!(
            "{kind:<36} inject {:>6.0} ms  revert {:>6.0} ms",
            inject.as_secs_f64() * 1000.0,
            revert.map_or(f64::NAN, |r| r.as_secs_f64() * 1000.0)
        );
    }
    assert_eq!(timings.len(), n, "{timings:?}");
    assert!(
        timings.iter().all(|t| t.2.is_some()),
        "not every fault was reverted: {timings:?}"
    );
    assert!(!telemetry.deploys.is_empty());
    assert!(!telemetry.logs.is_empty());
    // The pod_kill deleted web's container and a fresh one took its place.
    assert!(
        telemetry
            .events
            .iter()
            .any(|e| e.reason == "Killing"
                && e.message.starts_with("Stopping container web in pod ")),
        "no pod deletion event"
    );
}

/// What the poller of `docker_disk_full_dns_failure_and_bad_env_config_act_for_real`
/// saw at one instant, from outside otrashi.
#[derive(Debug, Clone, Default)]
struct Seen {
    /// Free bytes on db's `/data`.
    db_free: Option<u64>,
    /// Packets api's DNS REJECT rules refused, when the rules exist.
    dns_rejected: Option<u64>,
    /// Whether api's container env holds the bad timeout.
    bad_env: bool,
    /// The load generator's (sent, ok, 5xx, failed) then.
    load: (u64, u64, u64, u64),
}

/// Free bytes of the file system at the container's `/data` (`statfs` through
/// `/proc/<pid>/root`, as `df` would show it inside).
fn df_free(pid: i64) -> Option<u64> {
    let out = Command::new("stat")
        .args(["-f", "-c", "%a %S"])
        .arg(format!("/proc/{pid}/root/data"))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace().map(|x| x.parse::<u64>().ok());
    Some(it.next()?? * it.next()??)
}

fn dns_rejected(pid: i64, tag: &str) -> Option<u64> {
    let out = Command::new("nsenter")
        .args([
            "-t",
            &pid.to_string(),
            "-n",
            "iptables",
            "-L",
            "OUTPUT",
            "-v",
            "-n",
            "-x",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let rules: Vec<u64> = text
        .lines()
        .filter(|l| l.contains(tag) && l.contains("REJECT"))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    (!rules.is_empty()).then(|| rules.iter().sum())
}

fn container_env(name: &str) -> String {
    let out = Command::new("docker")
        .args(["inspect", "-f", "{{json .Config.Env}}", name])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The three kinds added last, one after another in one episode, each checked from
/// outside otrashi while it is active and after its revert: db's `/data` really full
/// (`df`), api's lookups of db really refused at Docker's DNS (the rules' packet
/// counters), api really running with the unit-less timeout (`docker inspect`), and
/// the load generator seeing errors in each phase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_disk_full_dns_failure_and_bad_env_config_act_for_real() {
    let Some((b, _turn)) = backend().await else {
        return;
    };
    let yaml = "apiVersion: otrashi/v1
kind: Scenario
metadata: {name: docker-new-kinds}
topology:
  name: mini
  entry: web
  services:
    web: {kind: web, calls: [api], replicas: 1}
    api: {kind: api, calls: [db], replicas: 1}
    db: {kind: database, replicas: 1}
load: {rps: 10, pattern: steady}
timeline: {warmup: 2s, duration: 23s}
faults:
  - {id: full, kind: infra.disk_full, target: db, at: 4s, duration: 5s, params: {fill_pct: 100}}
  - {id: dns, kind: infra.dns_failure, target: db, at: 11s, duration: 5s, params: {failure_pct: 100}}
  - {id: env, kind: orchestration.bad_env_config, target: api, at: 18s, duration: 5s, params: {error_pct: 100}}
";
    let sc = parse_str(yaml, "docker-new-kinds").unwrap();
    let incident = sample(&sc, 5).unwrap();
    b.check(&incident).unwrap();
    let cx = EpisodeContext::new("ep-test-new-kinds", 5);
    let _guard = Guard(cx.episode_id.clone());
    let mut options = b.options().clone();
    options.max_wall_s = 1000.0; // real time
    let b = DockerBackend::with(b.engine().clone(), b.report().clone(), options);
    let mut env = b.provision_env(&incident, &cx).await.unwrap();
    let db_pid = env.container_of("db").unwrap().1.unwrap();
    let api_pid = env.container_of("api").unwrap().1.unwrap();
    let api_name = env.container_of("api").unwrap().0;
    let tag = format!("otrashi:{}", cx.episode_id);
    let stats = env.stats.clone();
    let seen: Arc<Mutex<Vec<(f64, Seen)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (seen, stop, tag, api_name) =
            (seen.clone(), stop.clone(), tag.clone(), api_name.clone());
        tokio::task::spawn_blocking(move || {
            let begin = std::time::Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let s = Seen {
                    db_free: df_free(db_pid),
                    dns_rejected: dns_rejected(api_pid, &tag),
                    bad_env: container_env(&api_name).contains("API_UPSTREAM_TIMEOUT=5\""),
                    load: stats.snapshot(),
                };
                seen.lock()
                    .unwrap()
                    .push((begin.elapsed().as_secs_f64(), s));
                std::thread::sleep(Duration::from_millis(300));
            }
        })
    };
    let telemetry = env.run(&cx).await.unwrap();
    stop.store(true, Ordering::Relaxed);
    poller.await.unwrap();
    // Reverted, checked before teardown removes everything anyway.
    let free_after = df_free(db_pid).unwrap();
    let rules_after = dns_rejected(env.container_of("api").unwrap().1.unwrap(), &tag);
    let env_after = container_env(&env.container_of("api").unwrap().0);
    let db_logs = Command::new("docker")
        .args(["logs", &env.container_of("db").unwrap().0])
        .output()
        .unwrap();
    env.teardown(&cx).await.unwrap();
    assert_eq!(leftovers(&cx.episode_id), "");
    let seen = seen.lock().unwrap().clone();
    let first = &seen[0].1;
    assert!(first.db_free.unwrap() > 60 << 20, "{first:?}");
    assert!(first.dns_rejected.is_none() && !first.bad_env, "{first:?}");

    // disk_full: the volume was full, writes failed with ENOSPC, and it was emptied.
    let full: Vec<&(f64, Seen)> = seen.iter().filter(|(_, s)| s.db_free == Some(0)).collect();
    assert!(!full.is_empty(), "db's /data was never full: {seen:?}");
    assert!(
        free_after > 60 << 20,
        "the filler outlived the revert: {free_after}"
    );
    let logs = String::from_utf8_lossy(&db_logs.stdout);
    assert!(
        logs.contains("No space left on device"),
        "db never failed a write"
    );
    let errors = |phase: &[&(f64, Seen)]| {
        let (a, b) = (&phase[0].1.load, &phase[phase.len() - 1].1.load);
        (b.2 + b.3).saturating_sub(a.2 + a.3)
    };
    assert!(
        errors(&full) > 0,
        "the entry never failed while db's disk was full"
    );

    // dns_failure: api's lookups of db were refused, then the rules went away.
    let dns: Vec<&(f64, Seen)> = seen
        .iter()
        .filter(|(_, s)| s.dns_rejected.is_some())
        .collect();
    assert!(
        dns.iter().any(|(_, s)| s.dns_rejected.unwrap_or(0) > 0),
        "no lookup of db was ever refused: {dns:?}"
    );
    assert!(rules_after.is_none(), "the DNS rules outlived the revert");
    assert!(
        errors(&dns) > 0,
        "the entry never failed while db did not resolve"
    );
    assert!(telemetry
        .logs
        .iter()
        .any(|l| telemetry.log_templates[l.template as usize]
            .text
            .contains("no such host")));

    // bad_env_config: api ran with the unit-less value, failed, and got its value back.
    let bad: Vec<&(f64, Seen)> = seen.iter().filter(|(_, s)| s.bad_env).collect();
    assert!(!bad.is_empty(), "api never ran with the bad value");
    assert!(
        errors(&bad) > 0,
        "the entry never failed while api's setting was bad"
    );
    assert!(
        env_after.contains("API_UPSTREAM_TIMEOUT=1000ms\""),
        "{env_after}"
    );
    assert!(telemetry
        .logs
        .iter()
        .any(|l| telemetry.log_templates[l.template as usize]
            .text
            .contains("invalid configuration")));
    let change = telemetry
        .deploys
        .iter()
        .find(|d| d.diff.contains("API_UPSTREAM_TIMEOUT"))
        .expect("the config change was not recorded");
    assert!(
        change.diff.contains("+            value: \"5\""),
        "{}",
        change.diff
    );
    assert_eq!(telemetry.deploys.len(), 2, "the change and its rollback");
    assert!(telemetry
        .events
        .iter()
        .any(|e| e.reason == "ConfigChanged" && e.message.contains("API_UPSTREAM_TIMEOUT")));
}

/// The red herrings the simulator plays, for real: a client with malformed tokens that
/// api rejects with 401 and logs, and a health check on db that really gets slow (the
/// gym's 200 ms readiness probe fails and says so), checked from outside otrashi.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_benign_errors_and_flapping_alert_are_real() {
    let Some((b, _turn)) = backend().await else {
        return;
    };
    let yaml = "apiVersion: otrashi/v1
kind: Scenario
metadata: {name: docker-herrings}
topology:
  name: mini
  entry: web
  services:
    web: {kind: web, calls: [api]}
    api: {kind: api, calls: [db]}
    db: {kind: database}
load: {rps: 10, pattern: steady}
timeline: {warmup: 2s, duration: 10s}
faults:
  - {id: tiny, kind: infra.cpu_saturation, target: web, at: 11s, duration: 1s, params: {load_pct: 10}}
noise:
  red_herrings:
    - {kind: benign_errors, target: api, at: 2s}
    - {kind: flapping_alert, target: db, at: 2s}
";
    let sc = parse_str(yaml, "docker-herrings").unwrap();
    let incident = sample(&sc, 6).unwrap();
    b.check(&incident).unwrap();
    let cx = EpisodeContext::new("ep-test-herrings", 6);
    let _guard = Guard(cx.episode_id.clone());
    let mut env = b.provision_env(&incident, &cx).await.unwrap();
    let telemetry = env.run(&cx).await.unwrap();
    let (api, db) = (
        env.container_of("api").unwrap().0,
        env.container_of("db").unwrap().0,
    );
    let logs = |name: &str| {
        let out = Command::new("docker")
            .args(["logs", name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let (api_logs, db_logs) = (logs(&api), logs(&db));
    // db's health endpoint itself, timed from here: still slow at the end.
    let port = Command::new("docker")
        .args(["port", &db, "8080/tcp"])
        .output()
        .unwrap();
    let port = String::from_utf8_lossy(&port.stdout)
        .trim()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let begin = std::time::Instant::now();
    let mut s = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    use std::io::{Read, Write};
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let took = begin.elapsed();
    env.teardown(&cx).await.unwrap();
    assert_eq!(leftovers(&cx.episode_id), "");

    let rejected = api_logs
        .lines()
        .filter(|l| l.contains("authentication failed for client 203.0.113."))
        .count();
    assert!(
        rejected >= 3,
        "api rejected {rejected} bad tokens:\n{api_logs}"
    );
    assert!(
        api_logs.contains("\"status\":401"),
        "no 401 in api's access log"
    );
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(
        took >= Duration::from_millis(250),
        "db's /healthz took {took:?}"
    );
    assert!(
        db_logs.contains("health check latency above threshold"),
        "db never timed its health check as slow"
    );
    let db_id = telemetry.service_id("db").unwrap();
    assert!(
        telemetry
            .events
            .iter()
            .any(|e| e.service == db_id && e.reason == "Unhealthy"),
        "{:?}",
        telemetry.events
    );
}
