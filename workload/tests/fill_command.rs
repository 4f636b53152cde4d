//! `otrashi-workload fill`: the binary fills a real size-limited volume and removes its
//! filler again (a tmpfs is mounted when this process may; skips otherwise).
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn workload(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_otrashi-workload"))
        .args(args)
        .output()
        .unwrap()
}

fn free_bytes(dir: &std::path::Path) -> u64 {
    let out = Command::new("stat")
        .args(["-f", "-c", "%a %S"])
        .arg(dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let v: Vec<u64> = text
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    v[0] * v[1]
}

#[test]
fn fill_leaves_what_it_is_told_and_remove_gives_it_back() {
    let dir = std::env::temp_dir().join(format!("otrashi-fill-cmd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "otrashi-test"])
        .arg(&dir)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipping: cannot mount a tmpfs here (needs root)");
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let _mounted = Mounted(dir.clone());
    let d = dir.to_str().unwrap();
    let out = workload(&["fill", d, "--leave", "1048576"]);
    assert!(out.status.success(), "{out:?}");
    let free = free_bytes(&dir);
    assert!(
        (1 << 20..=(1 << 20) + 8192).contains(&free),
        "{free} bytes free"
    );
    let out = workload(&["fill", d, "--leave", "0"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(free_bytes(&dir), 0);
    let out = workload(&["fill", d, "--remove"]);
    assert!(out.status.success(), "{out:?}");
    assert!(free_bytes(&dir) > 7 << 20);
    // Twice is fine; a bad call is a usage error.
    assert!(workload(&["fill", d, "--remove"]).status.success());
    assert_eq!(
        workload(&["fill", d, "--leave", "lots"]).status.code(),
        Some(2)
    );
}

/// Unmounts and removes the test's tmpfs however the test ends.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
