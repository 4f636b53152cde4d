//! Nothing leaks when the gym dies: `otrashi run --backend docker` is SIGKILLed while a
//! fault is injected, and the next `otrashi sweep` leaves no container, network,
//! journal or iptables rule of that episode. Skips without a Docker engine (or without
//! the workload binary) except under `CI=true`, where it fails.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn unavailable(why: &str) -> bool {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but {why}");
    }
    eprintln!("skipping: {why}");
    true
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

const SCENARIO: &str = "apiVersion: otrashi/v1
kind: Scenario
metadata: {name: docker-sigkill}
topology:
  name: mini
  entry: web
  services:
    web: {kind: web, calls: [api]}
    api: {kind: api}
load: {rps: 10, pattern: steady}
timeline: {warmup: 2s, duration: 40s}
faults:
  - {id: lossy, kind: infra.network_loss, target: api, at: 3s, params: {loss_pct: 30}}
";

#[test]
fn docker_sigkill_mid_episode_then_sweep_leaves_nothing() {
    let engine = Command::new("docker")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !engine.is_ok_and(|s| s.success()) && unavailable("no Docker engine answers") {
        return;
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_otrashi"));
    let workload = bin.with_file_name("otrashi-workload");
    if !workload.is_file()
        && unavailable("the workload binary is not built (cargo build -p otrashi-workload)")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("sigkill.yaml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let state = dir.path().join("state");
    let mut child = Command::new(bin)
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--backend",
            "docker",
            "--seed",
            "1",
            "--json",
            "--out",
        ])
        .arg(dir.path().join("out"))
        .env("OTRASHI_STATE_DIR", &state)
        .env("OTRASHI_WORKLOAD_BIN", &workload)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the fault is journaled as injected.
    let journal_dir = state.join("journal");
    let begin = Instant::now();
    let journal = loop {
        let found = std::fs::read_dir(&journal_dir).ok().and_then(|d| {
            d.flatten()
                .map(|e| e.path())
                .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("inject-done")))
        });
        if let Some(p) = found {
            break p;
        }
        assert!(
            begin.elapsed() < Duration::from_secs(90),
            "the fault was never injected"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "otrashi run ended before the fault"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let episode = journal.file_stem().unwrap().to_string_lossy().to_string();
    let filter = format!("label=otrashi.episode={episode}");
    let api = docker(&[
        "ps",
        "-q",
        "--filter",
        &filter,
        "--filter",
        "label=otrashi.service=api",
    ]);
    let pid = docker(&["inspect", "-f", "{{.State.Pid}}", &api]);
    let rules = Command::new("nsenter")
        .args(["-t", &pid, "-n", "iptables", "-S", "INPUT"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&rules.stdout).contains(&format!("otrashi:{episode}")));

    child.kill().unwrap(); // SIGKILL: no teardown runs
    child.wait().unwrap();
    assert!(
        !docker(&["ps", "-aq", "--filter", &filter]).is_empty(),
        "nothing was left to sweep"
    );

    let out = Command::new(bin)
        .args(["sweep", "--json"])
        .env("OTRASHI_STATE_DIR", &state)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["episodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == episode.as_str()),
        "{report}"
    );
    assert_eq!(report["reverted_faults"], 1, "{report}");
    assert_eq!(docker(&["ps", "-aq", "--filter", &filter]), "");
    assert_eq!(docker(&["network", "ls", "-q", "--filter", &filter]), "");
    assert!(!journal.exists(), "the journal outlived the sweep");
    // The rule lived in the api container's network namespace, which is gone.
    assert!(!Path::new(&format!("/proc/{pid}/ns/net")).exists());
}
