//! Nothing leaks when the gym dies: `otrashi run --backend docker` is SIGKILLed while
//! two faults are injected (an iptables rule and a tc qdisc), and the next `otrashi
//! sweep` leaves no container, network, journal, iptables rule or qdisc of that episode. Skips without a Docker engine (or without
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
    web: {kind: web, calls: [api], replicas: 1}
    api: {kind: api, replicas: 1}
load: {rps: 10, pattern: steady}
timeline: {warmup: 2s, duration: 40s}
faults:
  - {id: lossy, kind: infra.network_loss, target: api, at: 3s, params: {loss_pct: 30}}
  - {id: narrow, kind: infra.bandwidth_limit, target: api, at: 3s, params: {rate_kbit: 256}}
";

/// `tc qdisc show` of the host, or of a network namespace (`pid`).
fn qdiscs(pid: Option<&str>) -> String {
    let out = match pid {
        Some(pid) => Command::new("nsenter")
            .args(["-t", pid, "-n", "tc", "qdisc", "show"])
            .output(),
        None => Command::new("tc").args(["qdisc", "show"]).output(),
    }
    .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The host interfaces of a container's network: the host end of its `eth0` (found
/// by the peer index the container's side reports) and the episode's bridge.
fn host_interfaces(pid: &str, network: &str) -> Vec<String> {
    // `eth0@if123`: the peer's index on the host (sysfs would show the host's own).
    let out = Command::new("nsenter")
        .args(["-t", pid, "-n", "ip", "-o", "link", "show", "eth0"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let index = text
        .split("eth0@if")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .unwrap_or_default()
        .to_owned();
    assert!(!index.is_empty(), "no peer index in {text:?}");
    let links = Command::new("ip").args(["-o", "link"]).output().unwrap();
    let mut found: Vec<String> = String::from_utf8_lossy(&links.stdout)
        .lines()
        .filter(|l| l.split(':').next() == Some(index.as_str()))
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_owned())
        .collect();
    found.push(format!("br-{}", &network[..12]));
    found
}

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
    // Wait until both faults are journaled as injected.
    let journal_dir = state.join("journal");
    let begin = Instant::now();
    let journal = loop {
        let found = std::fs::read_dir(&journal_dir).ok().and_then(|d| {
            d.flatten().map(|e| e.path()).find(|p| {
                std::fs::read_to_string(p).is_ok_and(|t| t.matches("inject-done").count() == 2)
            })
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
    // The qdisc, seen with the host's own tc in the container's namespace.
    let inside = qdiscs(Some(&pid));
    assert!(
        inside.contains("qdisc tbf") && inside.contains("dev eth0"),
        "no tbf qdisc on api's eth0 during the fault:\n{inside}"
    );
    let network = docker(&["network", "ls", "-q", "--no-trunc", "--filter", &filter]);
    let host_ifaces = host_interfaces(&pid, &network);
    assert_eq!(host_ifaces.len(), 2, "{host_ifaces:?}");

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
    assert_eq!(report["reverted_faults"], 2, "{report}");
    assert_eq!(docker(&["ps", "-aq", "--filter", &filter]), "");
    assert_eq!(docker(&["network", "ls", "-q", "--filter", &filter]), "");
    assert!(!journal.exists(), "the journal outlived the sweep");
    // The rule and the qdisc lived in the api container's network namespace, which is
    // gone; its host-side interfaces are gone with it, and no host interface of the
    // episode carries a tbf qdisc.
    assert!(!Path::new(&format!("/proc/{pid}/ns/net")).exists());
    let host = qdiscs(None);
    for iface in &host_ifaces {
        assert!(
            !Path::new(&format!("/sys/class/net/{iface}")).exists(),
            "{iface} outlived the sweep"
        );
        assert!(
            !host.contains(&format!("dev {iface} ")),
            "a qdisc is left on {iface}:\n{host}"
        );
    }
}
