//! What this host can do for the Docker backend, probed for real (for `otrashi doctor`):
//! each capability is tried in a throwaway network namespace (the same kind of namespace
//! a container has, entered the same way, with `nsenter --net`), never assumed.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::process::Command;

use crate::context::BuildContext;
use crate::engine::Engine;
use crate::image;

/// One probed capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Short name (`netem`).
    pub name: &'static str,
    /// Whether it works here.
    pub available: bool,
    /// What was observed (version, or the error text).
    pub detail: String,
    /// What it enables, and what falls back without it.
    pub explanation: &'static str,
}

/// Everything [`probe`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostReport {
    /// Findings in probe order.
    pub findings: Vec<Finding>,
}

impl HostReport {
    /// Whether the named capability works.
    pub fn available(&self, name: &str) -> bool {
        self.findings.iter().any(|f| f.name == name && f.available)
    }
}

impl fmt::Display for HostReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            let mark = if finding.available { "ok  " } else { "MISS" };
            writeln!(f, "{mark} {:<20} {}", finding.name, finding.detail)?;
            writeln!(f, "     {:<20} {}", "", finding.explanation)?;
        }
        Ok(())
    }
}

/// Probes the engine and the host's traffic-control and firewall tooling.
pub async fn probe() -> HostReport {
    let mut report = HostReport::default();
    let engine = Engine::connect().await;
    let engine_finding = match &engine {
        Ok(e) => match e.version().await {
            Ok((version, api)) => ok(
                "docker_engine",
                format!("Docker {version}, API {api}"),
                ENGINE,
            ),
            Err(err) => miss("docker_engine", chain(&err), ENGINE),
        },
        Err(err) => miss("docker_engine", chain(&err), ENGINE),
    };
    report.findings.push(engine_finding);
    report.findings.push(match &engine {
        Ok(e) => probe_scratch_build(e).await,
        Err(_) => miss("build_from_scratch", "no engine".to_owned(), SCRATCH),
    });
    probe_namespace_tools(&mut report).await;
    report.findings.push(probe_dm_delay().await);
    report
}

/// Whether the kernel's device-mapper offers the `delay` target.
async fn probe_dm_delay() -> Finding {
    if !std::path::Path::new("/dev/mapper/control").exists() {
        return miss(
            "dm_delay",
            "no device-mapper in this kernel (/dev/mapper/control is missing)".to_owned(),
            DM_DELAY,
        );
    }
    match run("dmsetup", &["targets"]).await {
        Ok(list) if list.lines().any(|l| l.starts_with("delay")) => ok(
            "dm_delay",
            "device-mapper delay target present".to_owned(),
            DM_DELAY,
        ),
        Ok(list) => miss(
            "dm_delay",
            format!(
                "device-mapper has no delay target (targets: {})",
                list.lines()
                    .filter_map(|l| l.split_whitespace().next())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            DM_DELAY,
        ),
        Err(e) => {
            // dmsetup explains over several lines; the first says what is missing.
            let first = e.lines().next().unwrap_or_default().to_owned();
            let detail = if e.contains("No such device") {
                format!("no device-mapper driver in this kernel ({first})")
            } else {
                first
            };
            miss("dm_delay", detail, DM_DELAY)
        }
    }
}

const ENGINE: &str =
    "runs scenarios on real containers; without it only the simulator backend works";
const SCRATCH: &str =
    "images are built FROM scratch from local binaries, since nothing can be pulled";
const NSENTER: &str = "enters a container's network namespace to shape its traffic with the host's tc/iptables (scratch images have neither)";
const TBF: &str = "infra.bandwidth_limit via the tbf qdisc";
const HTB: &str = "per-destination shaping classes (htb), for limits on one dependency only";
const NETEM: &str = "infra.network_delay (and jitter, reordering) in the kernel; without it delay needs a userspace proxy in the call path, and loss uses iptables statistic";
const STATISTIC: &str = "infra.network_loss as random drops (iptables statistic match)";
const REJECT: &str =
    "infra.network_partition and dependency faults with immediate refusals (iptables REJECT)";
const DNS: &str = "infra.dns_failure: a caller's lookups of one name refused at Docker's embedded DNS (iptables conntrack + string match, REJECT)";
const DM_DELAY: &str = "infra.disk_slow: a device-mapper delay target under the data volume makes every disk operation wait; without it disk_slow is refused on Docker";

fn ok(name: &'static str, detail: String, explanation: &'static str) -> Finding {
    Finding {
        name,
        available: true,
        detail,
        explanation,
    }
}

fn miss(name: &'static str, detail: String, explanation: &'static str) -> Finding {
    Finding {
        name,
        available: false,
        detail,
        explanation,
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

async fn probe_scratch_build(engine: &Engine) -> Finding {
    // A nonce makes the content (so the tag) new: a cached tag would prove nothing.
    let nonce = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let mut cx = BuildContext::new();
    cx.add_bytes("/probe", format!("otrashi probe {nonce}\n"), 0o644);
    match image::build(engine, "otrashi/probe", &cx, |_| {}).await {
        Ok(built) => {
            let cleanup = image::remove_image(engine, &built.tag).await;
            let detail = match cleanup {
                Ok(()) => format!("built and removed a test image in {:.2?}", built.elapsed),
                Err(e) => format!(
                    "built a test image, but removing {} failed: {}",
                    built.tag,
                    chain(&e)
                ),
            };
            ok("build_from_scratch", detail, SCRATCH)
        }
        Err(e) => miss("build_from_scratch", chain(&e), SCRATCH),
    }
}

/// Deletes the probe namespace however the probe ends.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.0])
            .output();
    }
}

async fn run(program: &str, args: &[&str]) -> Result<String, String> {
    match Command::new(program).args(args).output().await {
        Ok(out) if out.status.success() => {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        }
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            Err(format!("`{program} {}` failed: {stderr}", args.join(" ")))
        }
        Err(e) => Err(format!("cannot run {program}: {e}")),
    }
}

async fn in_netns(ns_path: &str, program: &str, args: &[&str]) -> Result<String, String> {
    let net = format!("--net={ns_path}");
    let mut all = vec![net.as_str(), program];
    all.extend_from_slice(args);
    run("nsenter", &all).await
}

async fn probe_namespace_tools(report: &mut HostReport) {
    let name = format!("otrashi-probe-{}", std::process::id());
    if let Err(e) = run("ip", &["netns", "add", &name]).await {
        let detail = format!("cannot create a network namespace (needs root and iproute2): {e}");
        for (n, x) in [
            ("nsenter", NSENTER),
            ("tc_tbf", TBF),
            ("tc_htb", HTB),
            ("netem", NETEM),
            ("iptables_statistic", STATISTIC),
            ("iptables_reject", REJECT),
            ("iptables_dns", DNS),
        ] {
            report.findings.push(miss(n, detail.clone(), x));
        }
        return;
    }
    let _guard = Netns(name.clone());
    let ns = format!("/run/netns/{name}");
    let finding = |name, result: Result<String, String>, explanation| match result {
        Ok(detail) => ok(
            name,
            if detail.is_empty() {
                "works".to_owned()
            } else {
                detail
            },
            explanation,
        ),
        Err(e) => miss(name, e, explanation),
    };

    let nsenter = in_netns(&ns, "true", &[]).await.map(|_| "works".to_owned());
    let entered = nsenter.is_ok();
    report.findings.push(finding("nsenter", nsenter, NSENTER));
    if !entered {
        return;
    }
    let qdisc = |spec: &'static [&'static str]| {
        let ns = ns.clone();
        async move {
            let mut add = vec!["qdisc", "add", "dev", "lo", "root"];
            add.extend_from_slice(spec);
            let result = in_netns(&ns, "tc", &add).await.map(|_| "works".to_owned());
            let _ = in_netns(&ns, "tc", &["qdisc", "del", "dev", "lo", "root"]).await;
            result
        }
    };
    let tbf = qdisc(&[
        "tbf", "rate", "1mbit", "burst", "32kbit", "latency", "400ms",
    ])
    .await;
    report.findings.push(finding("tc_tbf", tbf, TBF));
    let htb = qdisc(&["handle", "1:", "htb", "default", "10"]).await;
    report.findings.push(finding("tc_htb", htb, HTB));
    let netem = qdisc(&["netem", "delay", "1ms"]).await;
    report.findings.push(finding("netem", netem, NETEM));

    let version = run("iptables", &["--version"]).await.unwrap_or_default();
    let statistic = in_netns(
        &ns,
        "iptables",
        &[
            "-A",
            "INPUT",
            "-m",
            "statistic",
            "--mode",
            "random",
            "--probability",
            "0.5",
            "-j",
            "DROP",
        ],
    )
    .await
    .map(|_| version.clone());
    report
        .findings
        .push(finding("iptables_statistic", statistic, STATISTIC));
    let reject = in_netns(
        &ns,
        "iptables",
        &[
            "-A",
            "INPUT",
            "-p",
            "tcp",
            "-j",
            "REJECT",
            "--reject-with",
            "tcp-reset",
        ],
    )
    .await
    .map(|_| version.clone());
    report
        .findings
        .push(finding("iptables_reject", reject, REJECT));
    let dns = in_netns(
        &ns,
        "iptables",
        &[
            "-A",
            "OUTPUT",
            "-p",
            "udp",
            "-m",
            "conntrack",
            "--ctorigdst",
            "127.0.0.11",
            "--ctorigdstport",
            "53",
            "-m",
            "string",
            "--algo",
            "bm",
            "--hex-string",
            "|03|api|00|",
            "-j",
            "REJECT",
            "--reject-with",
            "icmp-port-unreachable",
        ],
    )
    .await
    .map(|_| version);
    report.findings.push(finding("iptables_dns", dns, DNS));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lists_each_finding_with_its_explanation() {
        let report = HostReport {
            findings: vec![
                ok("tc_tbf", "works".to_owned(), TBF),
                miss(
                    "netem",
                    "Specified qdisc kind is unknown.".to_owned(),
                    NETEM,
                ),
            ],
        };
        assert!(report.available("tc_tbf"));
        assert!(!report.available("netem"));
        assert!(!report.available("nonexistent"));
        let text = report.to_string();
        assert!(text.contains("ok   tc_tbf"), "{text}");
        assert!(text.contains("MISS netem"), "{text}");
        assert!(text.contains("userspace proxy"), "{text}");
    }
}
