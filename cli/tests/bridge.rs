//! The trainer-bridge commands of the `otrashi` binary: `serve` and `feedback export`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn otrashi() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_otrashi"));
    c.env_remove("OTRASHI_LOG").env_remove("OTRASHI_TOKEN");
    c
}

#[test]
fn serve_refuses_a_non_loopback_address_without_allow_remote() {
    let out = otrashi()
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .expect("otrashi runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--allow-remote"), "{stderr}");
}

#[test]
fn serve_listens_on_loopback_and_prints_its_address() {
    let mut child = otrashi()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("otrashi runs");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("piped stdout");
    let read = BufReader::new(stdout).read_line(&mut line);
    let _ = child.kill();
    let _ = child.wait();
    read.expect("a line on stdout");
    assert!(line.contains("listening on http://127.0.0.1:"), "{line}");
}

#[test]
fn feedback_export_explains_a_directory_without_feedback() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let out = otrashi()
        .args(["feedback", "export", "--format", "dpo", "--store"])
        .arg(dir.path())
        .arg("--out")
        .arg(dir.path().join("dpo.jsonl"))
        .output()
        .expect("otrashi runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("feedback.jsonl"));
}
