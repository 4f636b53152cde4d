//! `otrashi report`: the HTML page of an episode and of an eval, checked in a real
//! browser (headless Chromium) when one is installed.

// Tests may unwrap: a panic there is the failure report.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

/// The Chromium binary, if one is installed. Under `CI=true` a missing browser fails
/// the test instead of skipping it: CI must install it (`apt-get install chromium`).
fn chromium() -> Option<PathBuf> {
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
        if found.is_some() {
            return found;
        }
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "headless Chromium is required in CI: apt-get install -y chromium"
    );
    eprintln!("SKIPPED: no chromium on PATH; install it (apt-get install -y chromium) to render the report");
    None
}

fn browser(chrome: &Path, args: &[&str], page: &Path) -> Output {
    Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
        ])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs")
}

fn one_episode(out: &Path) -> PathBuf {
    ok(&otrashi(&[
        "run",
        "shop-cart-memory-leak",
        "--seed",
        "3",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]));
    std::fs::read_dir(out)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

#[test]
fn episode_report_is_written_next_to_the_input_with_a_text_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = one_episode(tmp.path());
    let out = otrashi(&["report", dir.to_str().unwrap()]);
    ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("score") && text.contains("truth"), "{text}");
    assert!(
        text.contains(&dir.join("report.html").display().to_string()),
        "{text}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    for id in [
        "timeline",
        "metrics",
        "trajectory",
        "report-vs-truth",
        "score",
    ] {
        assert!(html.contains(&format!("<section id=\"{id}\"")), "{id}");
    }
    // Not an episode directory: bad input.
    let bad = otrashi(&["report", tmp.path().to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn reports_render_in_headless_chromium() {
    let Some(chrome) = chromium() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = one_episode(&tmp.path().join("runs"));
    let page = tmp.path().join("episode.html");
    ok(&otrashi(&[
        "report",
        dir.to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
    ]));

    let dom = browser(&chrome, &["--dump-dom"], &page);
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    for id in [
        "timeline",
        "metrics",
        "trajectory",
        "report-vs-truth",
        "score",
    ] {
        assert!(
            dom.contains(&format!("id=\"{id}\"")),
            "rendered DOM lacks section {id}"
        );
    }
    assert!(
        dom.matches("<svg class=\"chart\"").count() >= 8,
        "metric plots are rendered"
    );
    assert!(dom.contains("<svg class=\"timeline\""));
    assert!(dom.contains("<path class=\"line\""), "plots have lines");
    assert!(
        dom.contains("<rect class=\"fault\""),
        "the fault window is shaded"
    );

    let png = tmp.path().join("episode.png");
    let shot = browser(
        &chrome,
        &[
            "--window-size=1280,2000",
            &format!("--screenshot={}", png.display()),
        ],
        &page,
    );
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "a non-blank screenshot"
    );

    // The eval page, with the episodes embedded.
    let runs = tmp.path().join("eval-runs");
    let eval = otrashi(&[
        "eval",
        "chain-db-disk-full",
        "--seeds",
        "2",
        "--out",
        runs.to_str().unwrap(),
        "--json",
    ]);
    ok(&eval);
    let eval_json = tmp.path().join("eval.json");
    std::fs::write(&eval_json, &eval.stdout).unwrap();
    let out = otrashi(&["report", eval_json.to_str().unwrap()]);
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 episode directories embedded"));
    let dom = browser(&chrome, &["--dump-dom"], &tmp.path().join("report.html"));
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("id=\"eval-scores\""));
    assert!(dom.contains("id=\"scn-chain-db-disk-full\""));
    assert!(
        dom.contains("id=\"chain-db-disk-full-0-metrics\""),
        "episodes are embedded"
    );
}
