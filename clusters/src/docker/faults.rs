//! Faults on Docker, one real mechanism per kind. Every injection is journaled before
//! it happens and is idempotent to revert; a revert of a fault that never got injected
//! does nothing.
//!
//! | kind | mechanism | revert |
//! |---|---|---|
//! | infra.network_loss | iptables `statistic` DROP in the target's netns (`nsenter`) | delete the rule |
//! | infra.network_partition | iptables REJECT (tcp-reset) of everything but the host's scrapes | delete the rule |
//! | infra.bandwidth_limit | tc tbf on the target's `eth0` | delete the qdisc |
//! | infra.network_delay | a delaying proxy exec'd in the target (`otrashi-workload delay-proxy`) behind an iptables REDIRECT (no netem needed) | delete the rule; the proxy exits by itself |
//! | infra.cpu_saturation | a CPU burner exec'd in the target (`otrashi-workload burn`) | ends by itself at `until` |
//! | infra.memory_pressure | a memory hog exec'd in the target (`otrashi-workload hog`), `fill_pct` of its limit | ends by itself at `until` |
//! | infra.process_freeze | `docker pause` | `docker unpause` |
//! | orchestration.oom_kill | recreated with a tiny memory limit and a leaking build | recreated as before |
//! | orchestration.crash_loop | recreated with a config the workload refuses at start (restart on failure) | recreated as before |
//! | orchestration.scale_to_zero | `docker stop` | `docker start` |
//! | orchestration.failed_deploy | a deploy whose new container refuses to start (restarted, never ready) while the old one loses `unavailable_pct` of its CPU | rollback: remove it, restore the CPU |
//! | orchestration.liveness_probe_misconfig | every `period_s` the probe "fails" and the main process is killed from the host; the restart policy restarts it | the kills stop |
//! | orchestration.cpu_throttle | `docker update --cpus` | the original limit |
//! | orchestration.misrouted_port | iptables REJECT of callers at the target's port, plus a config-change event | delete the rule |
//! | orchestration.dependency_removed | the container is removed (its DNS name stops resolving) | recreated as before |
//! | code.* | failpoints, shipped by a deploy (recreate with `OTRASHI_FAILPOINTS`) or switched by the admin endpoint | rollback deploy / switch off |

use std::time::Duration;

use bollard::models::{ContainerUpdateBody, ExecConfig};
use bollard::query_parameters::StopContainerOptions;
use otrashi_docker::HostReport;
use otrashi_gym::backend::BackendError;
use otrashi_gym::telemetry::{Deploy, EventType};
use otrashi_scenarios::catalog::{FaultKind, Via};
use otrashi_scenarios::incident::ConcreteFault;
use otrashi_scenarios::rng::stable_hash;
use tokio::process::Command;

use super::env::{run_err, DockerEnv};
use super::http;
use super::journal::{Entry, Step, Undo};
use super::plan::ADMIN_TOKEN;

/// Whether `kind` can be injected on Docker on a host with `report`; the error says
/// why not and what to do instead.
pub fn support(kind: FaultKind, report: &HostReport) -> Result<(), String> {
    use FaultKind as K;
    let need = |cap: &str, what: &str| {
        if report.available("nsenter") && report.available(cap) {
            Ok(())
        } else {
            Err(format!(
                "needs {what} inside the container's network namespace (`nsenter` and `{cap}`), which this host lacks (see `otrashi doctor`); use --backend sim"
            ))
        }
    };
    match kind {
        K::NetworkLoss => need("iptables_statistic", "iptables' statistic match"),
        K::NetworkPartition => need("iptables_reject", "iptables REJECT"),
        // Callers are refused at the target's port, as a route to the wrong port is.
        K::MisroutedPort => need("iptables_reject", "iptables REJECT"),
        K::DependencyRemoved => Ok(()),
        K::BandwidthLimit => need("tc_tbf", "the tbf qdisc"),
        // A userspace proxy in the target's container, behind an iptables REDIRECT: the
        // same mechanism with or without the netem qdisc.
        K::NetworkDelay => need("iptables_reject", "iptables (nat REDIRECT)"),
        K::CpuSaturation
        | K::MemoryPressure
        | K::ProcessFreeze
        | K::FailedDeploy
        | K::LivenessProbeMisconfig
        | K::OomKill
        | K::CrashLoop
        | K::ScaleToZero
        | K::CpuThrottle
        | K::ErrorInjection
        | K::SlowHandler
        | K::MemoryLeak
        | K::ConnectionLeak
        | K::RetryStorm
        | K::CacheBypass
        | K::HotLoop
        | K::PanicCrash
        | K::SlowQuery => Ok(()),
        K::PodKill => Ok(()),
        K::DiskFull | K::DiskSlow | K::DnsFailure | K::BadEnvConfig => Err(format!(
            "{} is not implemented on the docker backend yet; use --backend sim",
            kind.as_str()
        )),
    }
}

/// Runs a program in the network namespace of host PID `pid`.
async fn nsenter(pid: i64, program: &str, args: &[String]) -> Result<(), String> {
    let pid = pid.to_string();
    let mut all = vec!["-t", pid.as_str(), "-n", program];
    all.extend(args.iter().map(String::as_str));
    match Command::new("nsenter").args(&all).output().await {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "`nsenter {}` failed: {}",
            all.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run nsenter: {e}")),
    }
}

/// Undoes a journaled effect. A namespace that is gone (its container was removed)
/// took the effect with it, so that is success.
pub async fn undo(u: &Undo) -> Result<(), String> {
    let gone = |pid: &i64| !std::path::Path::new(&format!("/proc/{pid}/ns/net")).exists();
    match u {
        Undo::Iptables { pid, rule } if !gone(pid) => delete_rule(*pid, rule).await,
        Undo::IptablesRules { pid, rules } if !gone(pid) => {
            let mut first_err = Ok(());
            for rule in rules {
                let r = delete_rule(*pid, rule).await;
                if first_err.is_ok() {
                    first_err = r;
                }
            }
            first_err
        }
        Undo::Qdisc { pid } if !gone(pid) => {
            let args: Vec<String> = ["qdisc", "del", "dev", "eth0", "root"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
            match nsenter(*pid, "tc", &args).await {
                Err(e)
                    if e.contains("No such file")
                        || e.contains("Cannot delete qdisc with handle of zero") =>
                {
                    Ok(())
                }
                r => r,
            }
        }
        _ => Ok(()),
    }
}

/// Port of the delay proxy inside a container.
const DELAY_PROXY_PORT: u16 = 18080;

/// Deletes one iptables rule; one already gone is deleted.
async fn delete_rule(pid: i64, rule: &[String]) -> Result<(), String> {
    let mut args = vec!["-D".to_owned()];
    args.extend(rule.iter().cloned());
    match nsenter(pid, "iptables", &args).await {
        Err(e) if e.contains("does a matching rule exist") || e.contains("No chain") => Ok(()),
        r => r,
    }
}

/// How an active fault is reverted by the process that injected it.
#[derive(Debug, Clone)]
pub(super) enum Revert {
    /// Apply the journaled undo.
    Undo(Undo),
    /// Switch a failpoint off through the admin endpoint.
    Failpoint(usize, &'static str),
    /// Recreate the service's container from its original spec (a rollback deploy when
    /// the fault came by deploy).
    Recreate(usize, bool),
    /// `docker unpause`.
    Unpause(usize),
    /// `docker start`.
    Start(usize),
    /// Restore the original CPU limit.
    Cpus(usize),
    /// Remove the stuck rollout's container, restore the capacity, record the rollback.
    Rollout(usize, String),
    /// Nothing to do (it ends by itself, or with the container).
    Nothing,
}

/// The failpoint and actions of a code fault, scaled to the wall-clock rate.
fn failpoint(f: &ConcreteFault, rps: f64, factor: f64) -> Option<(&'static str, String)> {
    use FaultKind as K;
    let pct = |p: f64| format!("{}%return", (p.clamp(0.01, 100.0) * 100.0).round() / 100.0);
    Some(match f.kind {
        K::ErrorInjection => ("handler_error", pct(f.param("error_pct"))),
        K::SlowHandler => (
            "handler_slow",
            format!(
                "{}({})",
                pct(f.param("affected_pct")),
                f.param("delay_ms").clamp(1.0, 5000.0).round()
            ),
        ),
        K::MemoryLeak => {
            // MB per scenario minute to bytes per request at the wall-clock rate.
            let per_s = f.param("rate_mb_per_min") * 1_048_576.0 / 60.0 / factor;
            let bytes = (per_s / rps).clamp(65_536.0, 8_388_608.0).round();
            ("leak_memory", format!("return({bytes})"))
        }
        K::ConnectionLeak => {
            let per_s = f.param("leak_per_min") / 60.0 / factor;
            ("leak_connection", pct(per_s / rps * 100.0))
        }
        K::RetryStorm => (
            "retry_storm",
            format!("return({})", f.param("multiplier").clamp(2.0, 20.0).round()),
        ),
        K::CacheBypass => ("cache_bypass", pct(f.param("bypass_pct"))),
        K::HotLoop => (
            "hot_loop",
            format!(
                "return({})",
                (f.param("cpu_cores") * 1000.0 / rps)
                    .clamp(1.0, 500.0)
                    .round()
            ),
        ),
        K::PanicCrash => ("panic", pct(f.param("panic_pct"))),
        K::SlowQuery => (
            "slow_query",
            format!(
                "return({})",
                f.param("query_ms").clamp(10.0, 5000.0).round()
            ),
        ),
        _ => return None,
    })
}

fn set_env(env: &mut Vec<String>, key: &str, value: &str) {
    env.retain(|e| !e.starts_with(&format!("{key}=")));
    env.push(format!("{key}={value}"));
}

impl DockerEnv {
    fn journal(
        &mut self,
        step: Step,
        f: &ConcreteFault,
        container: &str,
        undo: &Undo,
    ) -> Result<(), BackendError> {
        let entry = Entry {
            step,
            episode: self.episode.clone(),
            fault: f.id.clone(),
            kind: f.kind.as_str().to_owned(),
            container: container.to_owned(),
            undo: undo.clone(),
            unix_ms: super::env::unix_ms_now(),
        };
        match &mut self.journal {
            Some(j) => j
                .write(&entry)
                .map_err(|e| run_err("cannot write the fault journal", e)),
            None => Ok(()),
        }
    }

    /// Injects fault `n` of the incident.
    pub(super) async fn inject(&mut self, n: usize) -> Result<(), BackendError> {
        use FaultKind as K;
        let f = self.incident.faults[n].clone();
        let i = self.index(&f.target)?;
        let (container, pid) = (self.live[i].name.clone(), self.live[i].pid.unwrap_or(0));
        let tag = format!("otrashi:{}", self.episode);
        let s = |x: &str| x.to_owned();
        let undo = match f.kind {
            K::NetworkLoss => Undo::Iptables {
                pid,
                rule: vec![
                    s("INPUT"),
                    s("-m"),
                    s("statistic"),
                    s("--mode"),
                    s("random"),
                    s("--probability"),
                    format!("{:.3}", (f.param("loss_pct") / 100.0).clamp(0.001, 1.0)),
                    s("-m"),
                    s("comment"),
                    s("--comment"),
                    tag,
                    s("-j"),
                    s("DROP"),
                ],
            },
            K::NetworkPartition => Undo::Iptables {
                pid,
                rule: vec![
                    s("INPUT"),
                    s("-p"),
                    s("tcp"),
                    s("!"),
                    s("-s"),
                    self.gateway.clone(),
                    s("-m"),
                    s("comment"),
                    s("--comment"),
                    tag,
                    s("-j"),
                    s("REJECT"),
                    s("--reject-with"),
                    s("tcp-reset"),
                ],
            },
            K::MisroutedPort => Undo::Iptables {
                pid,
                rule: vec![
                    s("INPUT"),
                    s("-p"),
                    s("tcp"),
                    s("--dport"),
                    otrashi_docker::image::WORKLOAD_PORT.to_string(),
                    s("!"),
                    s("-s"),
                    self.gateway.clone(),
                    s("-m"),
                    s("comment"),
                    s("--comment"),
                    tag.clone(),
                    s("-j"),
                    s("REJECT"),
                    s("--reject-with"),
                    s("tcp-reset"),
                ],
            },
            K::BandwidthLimit => Undo::Qdisc { pid },
            K::NetworkDelay => {
                let port = otrashi_docker::image::WORKLOAD_PORT.to_string();
                let from = |extra: &[&str], target: &[&str]| {
                    let mut r: Vec<String> = extra.iter().map(|x| s(x)).collect();
                    r.extend(
                        ["-p", "tcp", "--dport", &port, "!", "-s", &self.gateway]
                            .iter()
                            .map(|x| s(x)),
                    );
                    r.extend(["-m", "comment", "--comment", &tag].iter().map(|x| s(x)));
                    r.extend(target.iter().map(|x| s(x)));
                    r
                };
                let proxy = DELAY_PROXY_PORT.to_string();
                Undo::IptablesRules {
                    pid,
                    rules: vec![
                        // New connections from callers go through the proxy …
                        from(
                            &["PREROUTING"],
                            &["-j", "REDIRECT", "--to-ports", &proxy, "-t", "nat"],
                        ),
                        // … and pooled ones made before are reset (NAT applies to new
                        // connections only), so callers reconnect through it.
                        from(
                            &["INPUT", "-i", "eth0"],
                            &["-j", "REJECT", "--reject-with", "tcp-reset"],
                        ),
                    ],
                }
            }
            _ => Undo::Containers,
        };
        self.journal(Step::InjectBegin, &f, &container, &undo)?;
        let revert = match f.kind {
            K::DependencyRemoved => {
                self.remove(i).await?;
                self.event(
                    i,
                    EventType::Normal,
                    "SuccessfulDelete",
                    format!("Deleted deployment {0} and service {0}", f.target),
                );
                Revert::Recreate(i, false)
            }
            K::NetworkLoss | K::NetworkPartition | K::MisroutedPort => {
                if f.kind == K::MisroutedPort {
                    let port = f.param("port").round();
                    self.event(
                        i,
                        EventType::Normal,
                        "ConfigChanged",
                        format!("service {} targetPort changed to {port}", f.target),
                    );
                }
                let mut args = vec![s("-A")];
                if let Undo::Iptables { rule, .. } = &undo {
                    args.extend(rule.iter().cloned());
                }
                nsenter(pid, "iptables", &args)
                    .await
                    .map_err(|m| run_err(&m, NoSource))?;
                Revert::Undo(undo.clone())
            }
            K::BandwidthLimit => {
                let rate = format!(
                    "{}kbit",
                    f.param("rate_kbit").clamp(8.0, 1_000_000.0).round()
                );
                let args: Vec<String> = [
                    "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", &rate, "burst", "32kbit",
                    "latency", "400ms",
                ]
                .iter()
                .map(|x| (*x).to_owned())
                .collect();
                nsenter(pid, "tc", &args)
                    .await
                    .map_err(|m| run_err(&m, NoSource))?;
                Revert::Undo(undo.clone())
            }
            K::NetworkDelay => {
                // The proxy outlives the fault a little; the rule's removal ends its use.
                let secs = self
                    .scale
                    .wall(f.until.as_millis().saturating_sub(f.at.as_millis()))
                    .as_secs_f64()
                    + 5.0;
                let cmd = vec![
                    s("/usr/local/bin/otrashi-workload"),
                    s("delay-proxy"),
                    DELAY_PROXY_PORT.to_string(),
                    otrashi_docker::image::WORKLOAD_PORT.to_string(),
                    format!("{:.0}", f.param("delay_ms").clamp(1.0, 5000.0)),
                    format!("{:.0}", f.param("jitter_ms").clamp(0.0, 1000.0)),
                    format!("{secs:.1}"),
                ];
                self.exec_detached(i, cmd).await?;
                // Let it bind before connections are sent its way.
                tokio::time::sleep(Duration::from_millis(200)).await;
                if let Undo::IptablesRules { rules, .. } = &undo {
                    for rule in rules {
                        let mut args = vec![s("-A")];
                        args.extend(rule.iter().cloned());
                        nsenter(pid, "iptables", &args)
                            .await
                            .map_err(|m| run_err(&m, NoSource))?;
                    }
                }
                Revert::Undo(undo.clone())
            }
            K::CpuSaturation => {
                let cpus = self.live[i].spec.cpus.unwrap_or(1.0);
                let threads = cpus.ceil().max(1.0) as u32;
                let secs = self
                    .scale
                    .wall(f.until.as_millis().saturating_sub(f.at.as_millis()))
                    .as_secs_f64();
                self.burn(i, threads, f.param("load_pct"), secs).await?;
                Revert::Nothing
            }
            K::FailedDeploy => {
                // The new version never becomes ready (it refuses its config at start and
                // is restarted); the old one keeps serving with the capacity it has left.
                self.record_deploy(i, Some(f.kind), &f.id, false);
                let mut spec = self.live[i].base.clone();
                spec.name = format!("{}-next", spec.name);
                spec.network = None;
                spec.publish = None;
                spec.healthcheck = None;
                set_env(&mut spec.env, "OTRASHI_POOL_SIZE", "0");
                set_env(&mut spec.env, "OTRASHI_RELEASE", "v1.5.0");
                // Not running right after start is what this container is for.
                let _ = otrashi_docker::run_container(&self.engine, &self.episode, &spec).await;
                let left = 1.0 - f.param("unavailable_pct").clamp(10.0, 90.0) / 100.0;
                let cores = self.live[i].base.cpus.unwrap_or(1.0) * left;
                self.update_cpus(i, cores.max(0.05)).await?;
                Revert::Rollout(i, spec.name)
            }
            // The deletions come on schedule (see `pod_kill`), the first one right now.
            K::PodKill => Revert::Nothing,
            K::LivenessProbeMisconfig => {
                // The kills come on schedule (see `liveness_kill`); this is the change.
                self.event(
                    i,
                    EventType::Normal,
                    "ConfigChanged",
                    format!("liveness probe of {} updated", f.target),
                );
                Revert::Nothing
            }
            K::MemoryPressure => {
                let limit_mib =
                    self.live[i].spec.memory_bytes.unwrap_or(256 << 20) as f64 / 1_048_576.0;
                let mib = (limit_mib * f.param("fill_pct") / 100.0).round();
                let secs = self
                    .scale
                    .wall(f.until.as_millis().saturating_sub(f.at.as_millis()))
                    .as_secs_f64();
                let cmd = vec![
                    s("/usr/local/bin/otrashi-workload"),
                    s("hog"),
                    format!("{mib:.0}"),
                    format!("{secs:.1}"),
                ];
                self.exec_detached(i, cmd).await?;
                Revert::Nothing
            }
            K::ProcessFreeze => {
                self.engine
                    .docker()
                    .pause_container(&container)
                    .await
                    .map_err(|e| run_err(&format!("docker pause {container}"), e))?;
                Revert::Unpause(i)
            }
            K::ScaleToZero => {
                self.stopped
                    .push((self.live[i].id.clone(), super::env::unix_ms_now()));
                self.engine
                    .docker()
                    .stop_container(
                        &container,
                        Some(StopContainerOptions {
                            t: Some(1),
                            ..Default::default()
                        }),
                    )
                    .await
                    .map_err(|e| run_err(&format!("docker stop {container}"), e))?;
                self.event(
                    i,
                    EventType::Normal,
                    "ScalingReplicaSet",
                    format!("Scaled down replica set {} to 0", f.target),
                );
                Revert::Start(i)
            }
            K::CpuThrottle => {
                let cores = f.param("limit_cores").clamp(0.01, 8.0);
                self.update_cpus(i, cores).await?;
                Revert::Cpus(i)
            }
            K::OomKill | K::CrashLoop => {
                let mut spec = self.live[i].base.clone();
                if f.kind == K::OomKill {
                    // A limit the service cannot live in: its working set (here, a
                    // build that holds on to memory) outgrows it within seconds.
                    let mb = f.param("limit_mb").clamp(16.0, 32.0);
                    spec.memory_bytes = Some((mb * 1_048_576.0) as i64);
                    set_env(
                        &mut spec.env,
                        "OTRASHI_FAILPOINTS",
                        "leak_memory=return(1048576)",
                    );
                    self.event(
                        i,
                        EventType::Normal,
                        "ConfigChanged",
                        format!("memory limit of {} set to {mb:.0}Mi", f.target),
                    );
                } else {
                    set_env(&mut spec.env, "OTRASHI_POOL_SIZE", "0");
                    self.event(
                        i,
                        EventType::Normal,
                        "ConfigChanged",
                        format!("configuration of {} updated", f.target),
                    );
                }
                self.recreate(i, spec, false).await?;
                Revert::Recreate(i, false)
            }
            _ => {
                let (name, actions) =
                    failpoint(&f, self.rps, self.scale.factor).ok_or_else(|| {
                        run_err(
                            &format!("{} has no docker mechanism", f.kind.as_str()),
                            NoSource,
                        )
                    })?;
                if f.via == Via::Deploy {
                    let mut spec = self.live[i].base.clone();
                    set_env(
                        &mut spec.env,
                        "OTRASHI_FAILPOINTS",
                        &format!("{name}={actions}"),
                    );
                    self.record_deploy(i, Some(f.kind), &f.id, false);
                    self.recreate(i, spec, true).await?;
                    Revert::Recreate(i, true)
                } else {
                    self.admin(i, name, &actions).await?;
                    if f.via == Via::Config {
                        self.event(
                            i,
                            EventType::Normal,
                            "ConfigChanged",
                            format!("runtime configuration of {} reloaded", f.target),
                        );
                    }
                    Revert::Failpoint(i, name)
                }
            }
        };
        self.journal(Step::InjectDone, &f, &container, &undo)?;
        self.active.push((n, revert, undo));
        Ok(())
    }

    /// Runs a CPU burner inside service `i`'s container: `threads` threads busy `pct`%
    /// of the time for `secs` wall seconds (it ends by itself).
    async fn burn(&self, i: usize, threads: u32, pct: f64, secs: f64) -> Result<(), BackendError> {
        let cmd = vec![
            "/usr/local/bin/otrashi-workload".to_owned(),
            "burn".to_owned(),
            threads.to_string(),
            format!("{pct:.0}"),
            format!("{secs:.1}"),
        ];
        self.exec_detached(i, cmd).await
    }

    /// Starts `cmd` inside service `i`'s container and does not wait for it.
    async fn exec_detached(&self, i: usize, cmd: Vec<String>) -> Result<(), BackendError> {
        let container = &self.live[i].name;
        let exec = self
            .engine
            .docker()
            .create_exec(
                &self.live[i].id,
                ExecConfig {
                    cmd: Some(cmd),
                    attach_stdout: Some(false),
                    attach_stderr: Some(false),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| run_err(&format!("docker exec in {container}"), e))?;
        self.engine
            .docker()
            .start_exec(
                &exec.id,
                Some(bollard::exec::StartExecOptions {
                    detach: true,
                    ..Default::default()
                }),
            )
            .await
            .map_err(|e| run_err(&format!("docker exec start in {container}"), e))?;
        Ok(())
    }

    /// One deletion of `pod_kill` (fault `n`): the target's container is removed
    /// (SIGKILL: connections in flight reset) and a fresh one from the same spec takes
    /// its place, as a deleted pod is replaced by its ReplicaSet. Nothing happens once
    /// the fault was reverted.
    pub(super) async fn pod_kill(&mut self, n: usize) -> Result<(), BackendError> {
        if !self.active.iter().any(|(k, _, _)| *k == n) {
            return Ok(());
        }
        let f = self.incident.faults[n].clone();
        let i = self.index(&f.target)?;
        let pod = self.live[i].name.clone();
        self.event(
            i,
            EventType::Normal,
            "Killing",
            format!("Stopping container {} in pod {pod}", f.target),
        );
        let spec = self.live[i].spec.clone();
        self.recreate(i, spec, false).await
    }

    /// One kill of a misconfigured liveness probe (fault `n`): the probe fails and the
    /// main process is killed (from the host, so the restart policy restarts it as it
    /// would a crash), unless the fault was already reverted.
    pub(super) async fn liveness_kill(&mut self, n: usize) -> Result<(), BackendError> {
        if !self.active.iter().any(|(k, _, _)| *k == n) {
            return Ok(());
        }
        let f = self.incident.faults[n].clone();
        let i = self.index(&f.target)?;
        self.refresh(i).await?;
        let Some(pid) = self.live[i].pid else {
            return Ok(());
        };
        self.event(
            i,
            EventType::Warning,
            "Unhealthy",
            format!(
                "Liveness probe failed: Get \"http://{}:8081/healthz\": dial tcp: connect: connection refused",
                f.target
            ),
        );
        self.event(
            i,
            EventType::Normal,
            "Killing",
            format!(
                "Container {} failed liveness probe, will be restarted",
                f.target
            ),
        );
        self.stopped
            .push((self.live[i].id.clone(), super::env::unix_ms_now()));
        let out = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .output()
            .await;
        match out {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(run_err(
                &format!(
                    "kill -KILL {pid}: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                NoSource,
            )),
            Err(e) => Err(run_err("cannot run kill", e)),
        }
    }

    /// Plays red herring `n`: a harmless deploy (a real rollout of the same code), or a
    /// CPU-hungry neighbour (a burner at 40% of a core for 30 scenario seconds). Flapping
    /// alerts and benign errors are not modelled on Docker.
    pub(super) async fn herring(&mut self, n: usize) -> Result<(), BackendError> {
        use otrashi_scenarios::model::RedHerringKind as R;
        let h = self.incident.red_herrings[n].clone();
        let Ok(i) = self.index(&h.target) else {
            return Ok(());
        };
        match h.kind {
            R::UnrelatedDeploy => {
                self.record_deploy(i, None, &format!("herring-{n}"), false);
                let mut spec = self.live[i].spec.clone();
                set_env(&mut spec.env, "OTRASHI_RELEASE", "v1.4.3");
                self.recreate(i, spec, true).await
            }
            R::NoisyNeighbour => {
                let secs = self.scale.wall(30_000).as_secs_f64();
                self.burn(i, 1, 40.0, secs).await
            }
            R::FlappingAlert | R::BenignErrors => Ok(()),
        }
    }

    /// Reverts fault `n` if it is active; a fault never injected is a no-op.
    pub(super) async fn revert(&mut self, n: usize) -> Result<(), BackendError> {
        let Some(pos) = self.active.iter().position(|(k, _, _)| *k == n) else {
            return Ok(());
        };
        let (_, revert, undo_rec) = self.active.remove(pos);
        let f = self.incident.faults[n].clone();
        let container = self
            .index(&f.target)
            .map(|i| self.live[i].name.clone())
            .unwrap_or_default();
        match revert {
            Revert::Undo(u) => undo(&u).await.map_err(|m| run_err(&m, NoSource))?,
            Revert::Failpoint(i, name) => self.admin(i, name, "off").await?,
            Revert::Recreate(i, deploy) => {
                if deploy {
                    self.record_deploy(i, Some(f.kind), &f.id, true);
                }
                let spec = self.live[i].base.clone();
                self.recreate(i, spec, true).await?;
            }
            Revert::Unpause(i) => {
                let name = self.live[i].name.clone();
                if let Err(e) = self.engine.docker().unpause_container(&name).await {
                    if !e.to_string().contains("is not paused") {
                        return Err(run_err(&format!("docker unpause {name}"), e));
                    }
                }
            }
            Revert::Start(i) => {
                let name = self.live[i].name.clone();
                self.engine
                    .docker()
                    .start_container(
                        &name,
                        None::<bollard::query_parameters::StartContainerOptions>,
                    )
                    .await
                    .map_err(|e| run_err(&format!("docker start {name}"), e))?;
                self.refresh(i).await?;
                self.event(
                    i,
                    EventType::Normal,
                    "ScalingReplicaSet",
                    format!("Scaled up replica set {} to 1", f.target),
                );
            }
            Revert::Cpus(i) => {
                let cores = self.live[i].base.cpus.unwrap_or(1.0);
                self.update_cpus(i, cores).await?;
            }
            Revert::Rollout(i, next) => {
                self.record_deploy(i, Some(f.kind), &f.id, true);
                otrashi_docker::remove_container(&self.engine, &next)
                    .await
                    .map_err(|e| run_err(&format!("removing {next}"), e))?;
                let cores = self.live[i].base.cpus.unwrap_or(1.0);
                self.update_cpus(i, cores).await?;
            }
            Revert::Nothing => {}
        }
        self.journal(Step::RevertDone, &f, &container, &undo_rec)
    }

    /// Reverts every active fault, latest first; keeps going past failures.
    pub(super) async fn revert_all(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        while let Some((n, _, _)) = self.active.last().cloned() {
            if let Err(e) = self.revert(n).await {
                errors.push(e.to_string());
                // Reverted or not, it is no longer tracked; the sweep's journal replay
                // and container removal are the backstop.
                self.active.retain(|(k, _, _)| *k != n);
            }
        }
        errors
    }

    async fn update_cpus(&mut self, i: usize, cores: f64) -> Result<(), BackendError> {
        let name = self.live[i].name.clone();
        let body = ContainerUpdateBody {
            nano_cpus: Some((cores * 1e9) as i64),
            ..Default::default()
        };
        self.engine
            .docker()
            .update_container(&name, body)
            .await
            .map_err(|e| run_err(&format!("docker update --cpus {name}"), e))?;
        self.live[i].spec.cpus = Some(cores);
        Ok(())
    }

    /// Switches a failpoint through the workload's admin endpoint.
    async fn admin(&self, i: usize, name: &str, actions: &str) -> Result<(), BackendError> {
        let port = self.live[i]
            .port
            .ok_or_else(|| run_err("the container has no published port", NoSource))?;
        let body = serde_json::json!({"name": name, "actions": actions}).to_string();
        let auth = format!("Bearer {ADMIN_TOKEN}");
        let r = http::request(
            port,
            "POST",
            "/admin/failpoints",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            &body,
            Duration::from_secs(3),
        )
        .await
        .map_err(|e| run_err(&format!("admin call to {}", self.live[i].name), e))?;
        if r.status != 200 {
            return Err(run_err(
                &format!(
                    "admin call to {} answered {}: {}",
                    self.live[i].name, r.status, r.body
                ),
                NoSource,
            ));
        }
        Ok(())
    }

    /// Records a deploy (or its rollback) of service `i` carrying fault `f`'s change.
    fn record_deploy(&mut self, i: usize, kind: Option<FaultKind>, key: &str, rollback: bool) {
        let h = stable_hash(format!("{}/{key}/{rollback}", self.episode).as_bytes());
        let commit = format!(
            "{h:016x}{:016x}{:08x}",
            h.rotate_left(21) ^ 0x5bd1_e995,
            (h >> 7) as u32
        );
        let svc = self.services[i].clone();
        let (title, diff) = diff_for(kind, &svc, rollback);
        let (from, to) = if kind.is_none() {
            ("v1.4.2", "v1.4.3")
        } else if rollback {
            ("v1.5.0", "v1.4.2")
        } else {
            ("v1.4.2", "v1.5.0")
        };
        let t_ms = self.now_ms();
        self.deploys.push(Deploy {
            id: format!("deploy-{}", &commit[..7]),
            t_ms,
            service: i as u16,
            from_version: from.to_owned(),
            to_version: to.to_owned(),
            commit,
            author: ["maria.keller", "j.okafor", "priya.raman", "li.wei"][(h % 4) as usize]
                .to_owned(),
            title,
            diff,
        });
        self.event(
            i,
            EventType::Normal,
            "ScalingReplicaSet",
            format!("Scaled up replica set {svc}-{:05x} to 1", h & 0xfffff),
        );
    }
}

/// A source-less error for [`run_err`].
#[derive(Debug, thiserror::Error)]
#[error("no further detail")]
pub(super) struct NoSource;

/// The change a deploy ships for a code fault (a plausible diff; the rollback reverts
/// it).
fn diff_for(kind: Option<FaultKind>, svc: &str, rollback: bool) -> (String, String) {
    use FaultKind as K;
    let (title, ctx, added): (&str, &str, &[&str]) = match kind.unwrap_or(K::HotLoop) {
        K::ErrorInjection => (
            "Apply customer discounts before pricing",
            "let price = pricing::base(&item)?;",
            &["let discount = customer.discount.as_ref().unwrap().apply(&item);"],
        ),
        K::SlowHandler => (
            "Validate the basket against the catalog on every request",
            "let basket = load_basket(&req)?;",
            &["for line in &basket.lines { catalog::validate_sync(line)?; }"],
        ),
        K::MemoryLeak => (
            "Memoize resolved price lists",
            "let list = store.load(id).await?;",
            &["PRICE_LISTS.lock().push((req.id(), list.clone()));"],
        ),
        K::ConnectionLeak => (
            "Reuse the client of the first attempt",
            "let conn = pool.get().await?;",
            &["std::mem::forget(conn.clone());"],
        ),
        K::RetryStorm => (
            "Retry downstream calls immediately",
            "let policy = RetryPolicy::default();",
            &["let policy = RetryPolicy { attempts: 5, backoff: Duration::ZERO };"],
        ),
        K::CacheBypass => (
            "Read fresh prices from the database",
            "let price = cache.get(&key).await;",
            &["let price = None; // always fresh"],
        ),
        _ if kind.is_none() => (
            "Bump the logging library",
            "tracing = \"0.1.40\"",
            &["tracing = \"0.1.41\""],
        ),
        K::HotLoop => (
            "Normalize SKUs",
            "let sku = req.sku();",
            &["while normalize(&sku) != sku { sku = normalize(&sku); }"],
        ),
        K::PanicCrash => (
            "Parse the coupon header",
            "let coupon = headers.get(\"x-coupon\");",
            &["let coupon = coupon.unwrap().parse::<Coupon>().unwrap();"],
        ),
        K::FailedDeploy => (
            "Require the pricing-v2 flag at start-up",
            "let config = Config::from_env()?;",
            &["let flag = std::env::var(\"PRICING_V2_URL\").expect(\"PRICING_V2_URL must be set\");"],
        ),
        K::SlowQuery => (
            "Join orders with their line items",
            "let rows = db.query(ORDERS_BY_USER, &[&user]).await?;",
            &["let rows = db.query(ORDERS_WITH_ITEMS_UNINDEXED, &[&user]).await?;"],
        ),
        _ => (
            "Routine dependency update",
            "version = \"1.4.2\"",
            &["version = \"1.5.0\""],
        ),
    };
    let path = if kind.is_none() {
        format!("services/{svc}/Cargo.toml")
    } else {
        format!("src/{}/handler.rs", svc.replace('-', "_"))
    };
    let sign = if rollback { '-' } else { '+' };
    let mut diff = format!("diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -41,3 +41,{} @@ async fn handle(req: Request) -> Result<Response> {{\n     {ctx}\n", 3 + added.len());
    for line in added {
        diff.push(sign);
        diff.push_str("    ");
        diff.push_str(line);
        diff.push('\n');
    }
    diff.push_str("     Ok(respond(&req))\n }\n");
    let title = if rollback {
        format!("Revert \"{title}\"")
    } else {
        title.to_owned()
    };
    (title, diff)
}
