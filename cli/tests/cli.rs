//! End-to-end tests of the `otrashi` binary on the embedded simulator (no Docker).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn otrashi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_otrashi"))
        .args(args)
        .env_remove("OTRASHI_LOG")
        .output()
        .expect("the otrashi binary runs")
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn first_bundled() -> String {
    let out = otrashi(&["scenarios", "list", "--json"]);
    assert!(out.status.success());
    stdout_json(&out)["scenarios"][0]["name"]
        .as_str()
        .expect("a bundled scenario")
        .to_owned()
}

#[test]
fn help_teaches_by_example_on_every_command() {
    for cmd in [
        vec!["--help"],
        vec!["scenarios", "list", "--help"],
        vec!["scenarios", "validate", "--help"],
        vec!["scenarios", "sample", "--help"],
        vec!["scenarios", "schema", "--help"],
        vec!["faults", "--help"],
        vec!["tools", "--help"],
        vec!["run", "--help"],
        vec!["eval", "--help"],
        vec!["bench", "--help"],
        vec!["generate", "--help"],
        vec!["report", "--help"],
        vec!["serve", "--help"],
        vec!["feedback", "export", "--help"],
        vec!["doctor", "--help"],
        vec!["sweep", "--help"],
        vec!["images", "build", "--help"],
    ] {
        let out = otrashi(&cmd);
        assert!(out.status.success(), "{cmd:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Example"),
            "{cmd:?} --help has no example:\n{text}"
        );
    }
}

#[test]
fn faults_lists_at_least_25_kinds_over_three_levels() {
    let out = otrashi(&["faults", "--json"]);
    assert!(out.status.success());
    let faults = stdout_json(&out);
    let faults = faults.as_array().expect("an array");
    assert!(faults.len() >= 25);
    for level in ["infra", "orchestration", "code"] {
        assert!(faults.iter().any(|f| f["level"] == level), "{level}");
    }
}

#[test]
fn validate_exits_zero_only_when_all_files_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: otrashi/v1\nkind: Scenario\nmetadata: {name: x}\nfaults: []\n",
    )
    .unwrap();
    let good = first_bundled();
    let out = otrashi(&["scenarios", "validate", &good]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let out = otrashi(&["scenarios", "validate", &good, bad.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("bad.yaml:"),
        "diagnostics name the file:\n{text}"
    );
}

#[test]
fn sample_json_has_incident_and_ground_truth_and_is_deterministic() {
    let name = first_bundled();
    let a = otrashi(&["scenarios", "sample", &name, "--seed", "3", "--json"]);
    let b = otrashi(&["scenarios", "sample", &name, "--seed", "3", "--json"]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    let v = stdout_json(&a);
    assert!(v["incident"].is_object());
    assert!(v["ground_truth"]["root_causes"][0]["component"].is_string());
}

#[test]
fn an_unknown_scenario_is_bad_input_with_a_hint() {
    let out = otrashi(&["scenarios", "sample", "no-such-scenario-anywhere"]);
    assert_eq!(code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("otrashi scenarios list"), "{err}");
}

#[test]
fn schema_is_json_schema() {
    let out = otrashi(&["scenarios", "schema"]);
    assert!(out.status.success());
    let v = stdout_json(&out);
    assert!(v["$schema"]
        .as_str()
        .unwrap_or_default()
        .contains("json-schema.org"));
}

#[test]
fn tools_json_is_in_function_calling_format() {
    let out = otrashi(&["tools", "--json"]);
    assert!(out.status.success());
    let v = stdout_json(&out);
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    for tool in [
        "list_services",
        "query_metrics",
        "search_logs",
        "get_traces",
        "get_events",
        "get_deploys",
        "get_code_diff",
        "submit_report",
    ] {
        assert!(names.contains(&tool), "{tool}");
    }
}

fn assert_episode_dir(dir: &Path) {
    for file in [
        "scenario.json",
        "ground_truth.json",
        "trajectory.jsonl",
        "report.json",
        "score.json",
    ] {
        assert!(
            dir.join(file).exists(),
            "{} missing in {}",
            file,
            dir.display()
        );
    }
}

#[test]
fn run_json_prints_report_truth_and_score_and_writes_the_episode() {
    let name = first_bundled();
    let out_dir = tempfile::tempdir().unwrap();
    let out = otrashi(&[
        "run",
        &name,
        "--seed",
        "1",
        "--json",
        "--out",
        out_dir.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    let total = v["score"]["total"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&total));
    assert!(v["score"]["components"].as_array().unwrap().len() >= 5);
    assert!(v["ground_truth"]["root_causes"].is_array());
    assert!(v["report"]["root_causes"].is_array());
    let dir = v["episode_dir"].as_str().unwrap();
    assert_episode_dir(Path::new(dir));
}

#[test]
fn a_command_agent_that_hangs_is_killed_and_scored_as_a_failure() {
    let name = first_bundled();
    let out_dir = tempfile::tempdir().unwrap();
    let out = otrashi(&[
        "run",
        &name,
        "--seed",
        "1",
        "--json",
        "--agent",
        "sleep 30",
        "--timeout",
        "1s",
        "--out",
        out_dir.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    assert_eq!(v["score"]["total"].as_f64(), Some(0.0));
    let failure = v["failure"].as_str().unwrap_or_default();
    assert!(failure.contains("timed out"), "{failure}");
}

#[test]
fn a_command_agent_that_prints_garbage_fails_with_the_reason() {
    let name = first_bundled();
    let out_dir = tempfile::tempdir().unwrap();
    let out = otrashi(&[
        "run",
        &name,
        "--json",
        "--agent",
        "head -c 3000 /dev/urandom",
        "--out",
        out_dir.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    assert_eq!(v["score"]["total"].as_f64(), Some(0.0));
    assert!(v["failure"].as_str().unwrap_or_default().contains("report"));
}

#[test]
fn eval_compare_fails_on_a_regression() {
    let name = first_bundled();
    let dir = tempfile::tempdir().unwrap();
    let out = otrashi(&["eval", &name, "--seeds", "2", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut result = stdout_json(&out);
    for key in ["mean_score", "ac1", "ac3", "episodes"] {
        assert!(!result["summary"][key].is_null(), "summary.{key}");
    }
    assert_eq!(result["episodes"].as_array().unwrap().len(), 2);
    // The same run compared with itself passes …
    let same = dir.path().join("same.json");
    std::fs::write(&same, serde_json::to_vec(&result).unwrap()).unwrap();
    let out = otrashi(&[
        "eval",
        &name,
        "--seeds",
        "2",
        "--compare",
        same.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    // … and a previous result that was better fails.
    result["summary"]["mean_score"] = Value::from(1.0);
    result["summary"]["ac1"] = Value::from(1.0);
    let better = dir.path().join("better.json");
    std::fs::write(&better, serde_json::to_vec(&result).unwrap()).unwrap();
    let out = otrashi(&[
        "eval",
        &name,
        "--seeds",
        "2",
        "--compare",
        better.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("regression"));
}

#[test]
fn eval_in_parallel_gives_the_serial_result_in_job_order() {
    let scenarios = ["shop-pod-kill", "chain-hot-loop", "shop-oom-kill"];
    let eval = |parallel: &str| {
        let mut args = vec!["eval"];
        args.extend(scenarios);
        args.extend(["--seeds", "3", "--json", "--parallel", parallel]);
        let out = otrashi(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout_json(&out)["episodes"].clone()
    };
    let serial = eval("1");
    let parallel = eval("4");
    assert_eq!(serial.as_array().unwrap().len(), 9);
    // Same episodes, same scores, same order (scenario by scenario, seed by seed).
    assert_eq!(serial, parallel);
    let order: Vec<(String, u64)> = parallel
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["scenario"].as_str().unwrap().to_owned(),
                e["seed"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, u64)> = scenarios
        .iter()
        .flat_map(|s| (0..3).map(move |seed| ((*s).to_owned(), seed)))
        .collect();
    assert_eq!(order, expected);
    let out = otrashi(&["eval", "shop-pod-kill", "--parallel", "0"]);
    assert_eq!(code(&out), 2, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--parallel must be at least 1"));
}

fn repo_file(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The text of every fenced block of `lang` in a Markdown file.
fn fenced_blocks(markdown: &str, lang: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim() == format!("```{lang}") => current = Some(String::new()),
            Some(block) if line.trim() == "```" => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn the_readme_scenario_is_the_library_file_the_tests_run() {
    let readme = repo_file("README.md");
    let yaml = fenced_blocks(&readme, "yaml");
    assert_eq!(yaml.len(), 1, "the README has one scenario example");
    assert_eq!(
        yaml[0],
        repo_file("scenarios/library/shop-cart-memory-leak.yaml"),
        "the README's scenario drifted from scenarios/library/shop-cart-memory-leak.yaml"
    );
}

#[test]
fn the_readme_validation_output_is_what_validate_prints() {
    let readme = repo_file("README.md");
    let console = fenced_blocks(&readme, "console");
    let block = console
        .iter()
        .find(|b| b.starts_with("$ otrashi scenarios validate my-incident.yaml"))
        .expect("the README shows a validation run");
    let mut lines = block.lines();
    lines.next();
    let shown: Vec<&str> = lines.collect();
    // Rebuild the file the README talks about from the diagnostics' own excerpts is not
    // possible, so the test keeps the input beside the expectation.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("my-incident.yaml"), MY_INCIDENT).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_otrashi"))
        .args(["scenarios", "validate", "my-incident.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    let printed = String::from_utf8_lossy(&out.stdout);
    let printed: Vec<&str> = printed.lines().collect();
    assert_eq!(
        &printed[..shown.len()],
        &shown[..],
        "README.md's validation example drifted; paste the new output:\n{}",
        printed.join("\n")
    );
}

/// The broken file behind the README's validation example.
const MY_INCIDENT: &str = "apiVersion: otrashi/v1
kind: Scenario
metadata: {name: broken-example}
topology: shop
load: {rps: 50, pattern: steady}
timeline: {warmup: 60s, duration: 5m}
faults:
  - id: leak
    kind: code.memory_leek
    target: {any_of: [crat, catalog]}
    at: {uniform: [30s, 120s]}
    params: {rate_mb_per_min: {lognormal: {mu: 3.0, sigma: 0.4}}}
    via: deploy
    retries: 3
";

#[test]
fn the_example_python_agent_investigates_and_is_scored() {
    let out_dir = tempfile::tempdir().unwrap();
    let agent = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/agents/heuristic_agent.py")
        .canonicalize()
        .unwrap();
    let out = otrashi(&[
        "run",
        "chain-api-crash-loop",
        "--seed",
        "2",
        "--json",
        "--agent",
        &format!("python3 {}", agent.display()),
        "--out",
        out_dir.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    assert!(v["failure"].is_null(), "the agent failed: {}", v["failure"]);
    assert_eq!(v["end_reason"], "submitted");
    assert!(v["steps"].as_u64().unwrap() >= 4, "it used the tools");
    assert!(v["score"]["total"].as_f64().unwrap() > 0.0);
    let dir = v["episode_dir"].as_str().unwrap();
    assert!(Path::new(dir).join("agent.stderr.log").exists());
}

#[test]
fn a_reader_that_leaves_early_does_not_make_otrashi_panic() {
    // Regression: `otrashi faults --json | head -1` panicked with "Broken pipe".
    let mut child = Command::new(env!("CARGO_BIN_EXE_otrashi"))
        .args(["faults", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_agent_that_closes_its_stdin_at_once_does_not_kill_otrashi() {
    // Regression: with SIGPIPE restored to its default, writing the alert to an agent
    // that had already exited killed otrashi itself (exit 141). The race is tight, so
    // the test tries several times.
    let name = first_bundled();
    let out_dir = tempfile::tempdir().unwrap();
    for _ in 0..8 {
        let out = otrashi(&[
            "run",
            &name,
            "--json",
            "--agent",
            "exec 0<&-; exit 3",
            "--out",
            out_dir.path().to_str().unwrap(),
        ]);
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
        let v = stdout_json(&out);
        let failure = v["failure"].as_str().unwrap_or_default();
        assert!(failure.contains("exit status 3"), "{failure}");
    }
}
