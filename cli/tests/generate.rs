//! `otrashi generate`: determinism, resume, distinctness, statistics and the formats'
//! shapes on simulator data.

// Tests may unwrap: a panic there is the failure report.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn otrashi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_otrashi"))
        .args(args)
        .env_remove("OTRASHI_LOG")
        .output()
        .expect("the otrashi binary runs")
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every file under `dir` with its bytes, by relative path.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_owned(),
                    fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

fn generate(out: &Path, count: &str, formats: &str) -> Output {
    generate_with(out, count, formats, "1")
}

fn generate_with(out: &Path, count: &str, formats: &str, jobs: &str) -> Output {
    otrashi(&[
        "generate",
        "shop-cart-memory-leak",
        "chain-db-network-delay",
        "--count",
        count,
        "--seed",
        "11",
        "--format",
        formats,
        "--out",
        out.to_str().unwrap(),
        "--jobs",
        jobs,
    ])
}

#[test]
fn the_same_arguments_write_byte_identical_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    ok(&generate(&a, "6", "native,rcaeval,chat"));
    // Threads change how fast, not what.
    ok(&generate_with(&b, "6", "native,rcaeval,chat", "3"));
    let (fa, fb) = (files(&a), files(&b));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (path, bytes) in &fa {
        assert!(bytes == &fb[path], "{} differs", path.display());
    }
    assert!(fa.contains_key(Path::new("manifest.json")));
    assert!(fa.contains_key(Path::new("chat.jsonl")));
    assert!(fa.contains_key(Path::new("incidents/inc-00005/telemetry/metrics.jsonl")));
    let manifest: Value = serde_json::from_slice(&fa[Path::new("manifest.json")]).unwrap();
    assert_eq!(manifest["count"], 6);
    assert_eq!(manifest["complete"], true);
    assert_eq!(manifest["incidents"].as_array().unwrap().len(), 6);
    assert_eq!(
        manifest["params"]["scenarios"][0]["name"],
        "shop-cart-memory-leak"
    );
    assert!(manifest["otrashi_version"].is_string());
}

#[test]
fn an_interrupted_run_resumes_without_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let (whole, cut) = (tmp.path().join("whole"), tmp.path().join("cut"));
    ok(&generate(&whole, "5", "native,rcaeval,chat"));
    ok(&generate(&cut, "5", "native,rcaeval,chat"));
    // Interrupt after incident 3: its directory and row are gone, a torn row is left,
    // and the staging area holds a half-written incident.
    let rows = fs::read_to_string(cut.join("incidents.jsonl")).unwrap();
    let lines: Vec<&str> = rows.lines().collect();
    let last: Value = serde_json::from_str(lines[4]).unwrap();
    fs::remove_dir_all(cut.join(last["paths"]["incident"].as_str().unwrap())).unwrap();
    fs::remove_dir_all(cut.join(last["paths"]["rcaeval"].as_str().unwrap())).unwrap();
    let torn = format!("{}\n{}", lines[..4].join("\n"), &lines[4][..20]);
    fs::write(cut.join("incidents.jsonl"), torn).unwrap();
    fs::create_dir_all(cut.join(".staging/inc-00004/incident")).unwrap();
    fs::remove_file(cut.join("chat.jsonl")).unwrap();

    let out = generate(&cut, "5", "native,rcaeval,chat");
    ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("4 kept"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (fw, fc) = (files(&whole), files(&cut));
    assert_eq!(fw.keys().collect::<Vec<_>>(), fc.keys().collect::<Vec<_>>());
    for (path, bytes) in &fw {
        assert!(
            bytes == &fc[path],
            "{} differs after the resume",
            path.display()
        );
    }
    // A re-run of a complete dataset writes nothing.
    let again = generate(&cut, "5", "native,rcaeval,chat");
    ok(&again);
    assert!(String::from_utf8_lossy(&again.stderr).contains("5 kept"));
    // Other arguments into the same directory are refused.
    let other = otrashi(&[
        "generate",
        "shop-cart-memory-leak",
        "--count",
        "2",
        "--seed",
        "12",
        "--out",
        cut.to_str().unwrap(),
    ]);
    assert_eq!(other.status.code(), Some(2));
}

#[test]
fn stats_count_faults_levels_targets_topologies_and_check_distinctness() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    ok(&generate(&dir, "6", "native"));
    let out = otrashi(&["generate", "--stats", dir.to_str().unwrap(), "--json"]);
    ok(&out);
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["incidents"], 6);
    assert_eq!(stats["fault"]["code.memory_leak"], 3);
    assert_eq!(stats["fault"]["infra.network_delay"], 3);
    assert_eq!(stats["level"]["code"], 3);
    assert_eq!(stats["level"]["infra"], 3);
    assert_eq!(stats["topology"]["shop"], 3);
    assert_eq!(stats["topology"]["chain"], 3);
    assert_eq!(stats["target"]["db"], 3);
    assert_eq!(stats["duplicates"].as_array().unwrap().len(), 0);
    let text = otrashi(&["generate", "--stats", dir.to_str().unwrap()]);
    ok(&text);
    assert!(String::from_utf8_lossy(&text.stdout).contains("distinct: yes"));

    // Two incidents made identical by hand: the check fails.
    let second = dir.join("incidents/inc-00002/incident.json");
    let mut incident: Value =
        serde_json::from_slice(&fs::read(dir.join("incidents/inc-00000/incident.json")).unwrap())
            .unwrap();
    incident["seed"] = 999.into();
    fs::write(&second, serde_json::to_vec(&incident).unwrap()).unwrap();
    let dup = otrashi(&["generate", "--stats", dir.to_str().unwrap(), "--json"]);
    assert_eq!(dup.status.code(), Some(1));
    let stats: Value = serde_json::from_slice(&dup.stdout).unwrap();
    assert_eq!(
        stats["duplicates"][0],
        serde_json::json!(["inc-00000", "inc-00002"])
    );
}

#[test]
fn a_scenario_with_few_choices_skips_repeats_and_stops_when_exhausted() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("two-choices.yaml");
    fs::write(
        &file,
        "apiVersion: otrashi/v1\nkind: Scenario\nmetadata:\n  name: two-choices\ntopology: chain\n\
         load: {rps: 40, pattern: steady}\ntimeline: {warmup: 60s, duration: 5m}\nfaults:\n\
         \x20 - id: crash\n    kind: orchestration.crash_loop\n    target: api\n    at: 100s\n    via: config\n\
         \x20   params:\n      backoff_s: {choice: [5, 10]}\n",
    )
    .unwrap();
    let dir = tmp.path().join("d");
    let f = file.to_str().unwrap();
    let out = otrashi(&[
        "generate",
        f,
        "--count",
        "2",
        "--out",
        dir.to_str().unwrap(),
    ]);
    ok(&out);
    let manifest: Value =
        serde_json::from_slice(&fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let incidents = manifest["incidents"].as_array().unwrap();
    assert_ne!(incidents[0]["content_hash"], incidents[1]["content_hash"]);
    let skipped: usize = incidents
        .iter()
        .map(|i| i["skipped_seeds"].as_array().unwrap().len())
        .sum();
    assert!(skipped <= 63);
    let dir3 = tmp.path().join("d3");
    let out = otrashi(&[
        "generate",
        f,
        "--count",
        "3",
        "--out",
        dir3.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no new incident"));
}

#[test]
fn rcaeval_and_chat_formats_on_the_whole_library() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lib");
    let n = otrashi(&["scenarios", "list", "--json"]);
    let count = serde_json::from_slice::<Value>(&n.stdout).unwrap()["scenarios"]
        .as_array()
        .unwrap()
        .len();
    ok(&otrashi(&[
        "generate",
        "--all",
        "--count",
        &count.to_string(),
        "--seed",
        "5",
        "--format",
        "rcaeval,chat",
        "--out",
        dir.to_str().unwrap(),
    ]));

    // RCAEval: `<service>_<fault>/<run>/` with data.csv and inject_time.txt.
    let rows: Vec<Value> = fs::read_to_string(dir.join("incidents.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), count);
    for row in &rows {
        let rel = row["paths"]["rcaeval"].as_str().unwrap();
        let case = rel.split('/').nth(1).unwrap();
        let (service, fault) = case.split_once('_').unwrap();
        assert_eq!(service, row["root_causes"][0]["component"]);
        assert!(!fault.contains('_'));
        let csv = fs::read_to_string(dir.join(rel).join("data.csv")).unwrap();
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        assert_eq!(header[0], "time");
        for m in [
            "cpu",
            "mem",
            "workload",
            "error",
            "latency-50",
            "latency-90",
            "latency-99",
        ] {
            assert!(
                header.contains(&format!("{service}_{m}").as_str()),
                "{rel}: no {service}_{m}"
            );
        }
        let first: i64 = csv
            .lines()
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let last: i64 = csv
            .lines()
            .last()
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let inject: i64 = fs::read_to_string(dir.join(rel).join("inject_time.txt"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(
            first < inject && inject < last,
            "{rel}: inject {inject} outside [{first}, {last}]"
        );
        let injected_at = row["root_causes"][0]["injected_at_s"].as_f64().unwrap();
        // The first row is the first scrape, at most a scrape interval after t = 0.
        let offset = injected_at as i64 - (inject - first);
        assert!(
            (0..=60).contains(&offset),
            "{rel}: inject time off by {offset} s"
        );
    }

    // Chat: TRL messages, the reference report scores at least 0.8 everywhere.
    let chat = fs::read_to_string(dir.join("chat.jsonl")).unwrap();
    assert_eq!(chat.lines().count(), count);
    for line in chat.lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        let messages = row["messages"].as_array().unwrap();
        assert_eq!(messages[0]["role"], "system");
        assert_eq!(messages[1]["role"], "user");
        assert!(messages.iter().any(|m| m["role"] == "tool"));
        // The reasoning before the report says what a solution would, not the answer.
        for truth in row["ground_truth"]["root_causes"].as_array().unwrap() {
            let kind = truth["fault"].as_str().unwrap();
            let short = kind.split_once('.').unwrap().1;
            for m in messages.iter().filter(|m| m.get("tool_calls").is_some()) {
                let say = m["content"].as_str().unwrap();
                assert!(
                    !say.contains(kind) && !say.contains(short),
                    "reasoning names the fault: {say}"
                );
            }
        }
        let score = row["metadata"]["reference_score"].as_f64().unwrap();
        assert!(
            score >= 0.8,
            "{}: reference scores {score}",
            row["metadata"]["scenario"]
        );
        let report: Value =
            serde_json::from_str(messages.last().unwrap()["content"].as_str().unwrap()).unwrap();
        assert_eq!(
            report["root_causes"][0]["component"],
            row["ground_truth"]["root_causes"][0]["component"]
        );
    }
}

#[test]
fn generate_and_report_help_teach_by_example() {
    for cmd in [["generate", "--help"], ["report", "--help"]] {
        let out = otrashi(&cmd);
        ok(&out);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Example"),
            "{cmd:?}"
        );
    }
}
