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
//! | infra.disk_full | the target's `/data` tmpfs is filled (`otrashi-workload fill`) until writes fail with ENOSPC, leaving `100 - fill_pct` % | the filler is deleted |
//! | infra.dns_failure | in each caller's netns, iptables REJECTs `failure_pct` % of its lookups of the target at Docker's embedded DNS (127.0.0.11); pooled connections expire, so callers re-resolve | delete the rules |
//! | orchestration.bad_env_config | recreated with `<SERVICE>_UPSTREAM_TIMEOUT=5` (no unit) used by `error_pct` % of requests, recorded as a config change with its diff | recreated with the previous env, recorded |
//! | infra.disk_slow | refused: needs a device-mapper delay target under the data volume (see `otrashi doctor`) | — |
//! | code.* | failpoints, shipped by a deploy (recreate with `OTRASHI_FAILPOINTS`) or switched by the admin endpoint | rollback deploy / switch off |
//!
//! A fault on a service acts on every replica of it (the service is the unit of the
//! ground truth: a config change, a deploy, a network rule reach all its containers),
//! except the kinds about one instance ([`single_instance`]): `infra.process_freeze`
//! freezes one process, replica 0.
//!
//! A service played by a real datastore (`engine: redis`) runs no workload code, so the
//! kinds that need the workload's failpoints, admin endpoint or start-up configuration
//! ([`needs_workload`]) cannot target it; the others work on it as on any container
//! (the Redis image carries the workload binary for the tools they exec).

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
        K::DependencyRemoved | K::DiskFull | K::BadEnvConfig => Ok(()),
        K::DnsFailure => need(
            "iptables_dns",
            "iptables REJECT of name lookups at Docker's embedded DNS (conntrack and string matches)",
        ),
        K::DiskSlow => Err(disk_slow_refusal(report)),
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
    }
}

/// Why `infra.disk_slow` is refused on this host: a slow disk needs a block device
/// whose every operation really waits (a device-mapper `delay` target under the data
/// volume); a sleep in the service would not be a slow disk.
fn disk_slow_refusal(report: &HostReport) -> String {
    let finding = report.findings.iter().find(|f| f.name == "dm_delay");
    match finding {
        Some(f) if f.available => "infra.disk_slow is not implemented on the docker backend yet, although this host has the device-mapper delay target; use --backend sim".to_owned(),
        Some(f) => format!(
            "infra.disk_slow needs the device-mapper delay target under the service's data volume, which this host lacks ({}); use --backend sim",
            f.detail
        ),
        None => "infra.disk_slow needs the device-mapper delay target under the service's data volume, and this host was not probed for it (see `otrashi doctor`); use --backend sim".to_owned(),
    }
}

/// Whether a fault of `kind` needs the workload binary as the target's main process:
/// its failpoints (code faults), its admin endpoint, or a start-up configuration it
/// refuses or outgrows (`crash_loop`, `oom_kill`, `failed_deploy`, `bad_env_config`).
pub fn needs_workload(kind: FaultKind) -> bool {
    use FaultKind as K;
    kind.level() == otrashi_scenarios::Level::Code
        || matches!(
            kind,
            K::CrashLoop | K::OomKill | K::FailedDeploy | K::BadEnvConfig
        )
}

/// Whether a fault of `kind` is about one instance of a service (it then acts on
/// replica 0 only); every other kind acts on all replicas.
pub fn single_instance(kind: FaultKind) -> bool {
    matches!(kind, FaultKind::ProcessFreeze)
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
    /// Run this command in service `i`'s container and wait for it.
    Exec(usize, Vec<String>),
    /// Undo rules in several containers' namespaces: (container, undo) each.
    Callers(Vec<(String, Undo)>),
    /// Recreate service `i` with its previous environment, recorded as a config change.
    EnvRollback(usize),
    /// Nothing to do (it ends by itself, or with the container).
    Nothing,
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

    /// Injects fault `n` of the incident on every replica of its target (one, for the
    /// [`single_instance`] kinds).
    pub(super) async fn inject(&mut self, n: usize) -> Result<(), BackendError> {
        let f = &self.incident.faults[n];
        // Name lookups fail in the callers, once for the service.
        if f.kind == FaultKind::DnsFailure {
            return self.inject_dns_failure(n).await;
        }
        let mut replicas = self.replicas_of(&f.target)?;
        if single_instance(f.kind) {
            replicas.truncate(1);
        }
        for i in replicas {
            self.inject_one(n, i).await?;
        }
        Ok(())
    }

    /// Injects fault `n` on container `i`.
    async fn inject_one(&mut self, n: usize, i: usize) -> Result<(), BackendError> {
        use FaultKind as K;
        let f = self.incident.faults[n].clone();
        let service_port = self.port_in_container(i).to_string();
        match f.kind {
            K::DiskFull => return self.inject_disk_full(n, i).await,
            K::BadEnvConfig => return self.inject_bad_env(n, i).await,
            _ => {}
        }
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
                    service_port.clone(),
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
                let port = service_port.clone();
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
                    service_port.clone(),
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
                let (name, actions) = crate::collect::failpoint(&f, self.rps, self.scale.factor)
                    .ok_or_else(|| {
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
        // One replica at a time, round robin, as the deletions come.
        let replicas = self.replicas_of(&f.target)?;
        let every = (f.param("every_s").max(1.0) * 1000.0) as u64;
        let round = self.now_ms().saturating_sub(f.at.as_millis()) / every;
        let Some(&i) = replicas.get(round as usize % replicas.len().max(1)) else {
            return Ok(());
        };
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
        for i in self.replicas_of(&f.target)? {
            self.refresh(i).await?;
            let Some(pid) = self.live[i].pid else {
                continue;
            };
            let name = self.live[i].name.clone();
            self.event(
                i,
                EventType::Warning,
                "Unhealthy",
                format!(
                    "Liveness probe of {name} failed: Get \"http://{}:8081/healthz\": dial tcp: connect: connection refused",
                    f.target
                ),
            );
            self.event(
                i,
                EventType::Normal,
                "Killing",
                format!("Container {name} failed liveness probe, will be restarted"),
            );
            self.stopped
                .push((self.live[i].id.clone(), super::env::unix_ms_now()));
            let out = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .output()
                .await;
            match out {
                Ok(o) if o.status.success() => {}
                Ok(o) => {
                    return Err(run_err(
                        &format!(
                            "kill -KILL {pid}: {}",
                            String::from_utf8_lossy(&o.stderr).trim()
                        ),
                        NoSource,
                    ))
                }
                Err(e) => return Err(run_err("cannot run kill", e)),
            }
        }
        Ok(())
    }

    /// Plays red herring `n`: a harmless deploy (a real rollout of the same code), a
    /// CPU-hungry neighbour (a burner at 40% of a core for 30 scenario seconds), or a
    /// client sending malformed tokens (see `benign_errors`). A flapping alert comes on
    /// schedule (see `flap`).
    pub(super) async fn herring(&mut self, n: usize) -> Result<(), BackendError> {
        use otrashi_scenarios::model::RedHerringKind as R;
        let h = self.incident.red_herrings[n].clone();
        let Ok(replicas) = self.replicas_of(&h.target) else {
            return Ok(());
        };
        match h.kind {
            R::UnrelatedDeploy => {
                // A rollout replaces every replica; a datastore server takes no deploys.
                for i in replicas {
                    if self.live[i].redis {
                        continue;
                    }
                    self.record_deploy(i, None, &format!("herring-{n}"), false);
                    let mut spec = self.live[i].spec.clone();
                    set_env(&mut spec.env, "OTRASHI_RELEASE", "v1.4.3");
                    self.recreate(i, spec, true).await?;
                }
                Ok(())
            }
            R::NoisyNeighbour => {
                // A neighbour shares one host: one replica feels it.
                let Some(&i) = replicas.first() else {
                    return Ok(());
                };
                let secs = self.scale.wall(30_000).as_secs_f64();
                self.burn(i, 1, 40.0, secs).await
            }
            R::BenignErrors => {
                // One client hammers one replica, as a misconfigured one would.
                if let Some(&i) = replicas.first() {
                    self.benign_errors(i);
                }
                Ok(())
            }
            R::FlappingAlert => Ok(()),
        }
    }

    /// Reverts fault `n` on every replica it is active on; a fault never injected is a
    /// no-op. Keeps going past a failed replica and returns the first error.
    pub(super) async fn revert(&mut self, n: usize) -> Result<(), BackendError> {
        let mut first = Ok(());
        while let Some(pos) = self.active.iter().position(|(k, _, _)| *k == n) {
            let (_, revert, undo_rec) = self.active.remove(pos);
            let r = self.revert_one(n, revert, undo_rec).await;
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    async fn revert_one(
        &mut self,
        n: usize,
        revert: Revert,
        undo_rec: Undo,
    ) -> Result<(), BackendError> {
        let f = self.incident.faults[n].clone();
        let container = match &revert {
            Revert::Failpoint(i, _)
            | Revert::Recreate(i, _)
            | Revert::Unpause(i)
            | Revert::Start(i)
            | Revert::Cpus(i)
            | Revert::Rollout(i, _)
            | Revert::Exec(i, _)
            | Revert::EnvRollback(i) => self.live[*i].name.clone(),
            Revert::Undo(_) | Revert::Callers(_) | Revert::Nothing => f.target.clone(),
        };
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
            Revert::Exec(i, cmd) => self.exec_wait(i, cmd).await?,
            Revert::Callers(undos) => {
                for (caller, u) in &undos {
                    undo(u).await.map_err(|m| run_err(&m, NoSource))?;
                    self.journal(Step::RevertDone, &f, caller, u)?;
                }
                return Ok(());
            }
            Revert::EnvRollback(i) => {
                let spec = self.live[i].base.clone();
                let from = self.live[i].spec.env.clone();
                self.record_env_change(i, &f.id, &from, &spec.env, true);
                self.event(
                    i,
                    EventType::Normal,
                    "ConfigChanged",
                    format!(
                        "deployment/{}: configuration reverted to previous revision",
                        f.target
                    ),
                );
                self.recreate(i, spec, true).await?;
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

    /// The port callers reach container `i`'s service on.
    fn port_in_container(&self, i: usize) -> u16 {
        if self.live[i].redis {
            otrashi_docker::image::REDIS_PORT
        } else {
            otrashi_docker::image::WORKLOAD_PORT
        }
    }

    /// Records a deploy (or its rollback) of container `i`'s service carrying fault
    /// `f`'s change; the rollout of its other replicas is the same deploy.
    fn record_deploy(&mut self, i: usize, kind: Option<FaultKind>, key: &str, rollback: bool) {
        let h = stable_hash(format!("{}/{key}/{rollback}", self.episode).as_bytes());
        let service = self.live[i].service;
        let commit = format!(
            "{h:016x}{:016x}{:08x}",
            h.rotate_left(21) ^ 0x5bd1_e995,
            (h >> 7) as u32
        );
        let svc = self.services[service].clone();
        let id = format!("deploy-{}", &commit[..7]);
        if self
            .deploys
            .iter()
            .any(|d| d.id == id && usize::from(d.service) == service)
        {
            return;
        }
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
            id,
            t_ms,
            service: service as u16,
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

/// The workload binary inside every container.
const WORKLOAD: &str = "/usr/local/bin/otrashi-workload";

/// A DNS query name in wire format, as iptables' `--hex-string` takes it
/// (`users-db` → `|08|users-db|00|`).
pub(super) fn dns_qname_pattern(name: &str) -> String {
    let mut out = String::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push_str(&format!("|{:02x}|{label}", label.len()));
    }
    out.push_str("|00|");
    out
}

/// The iptables rules (arguments after `-A`/`-D`, filter table) that refuse a
/// container's lookups of `name` at Docker's embedded DNS with probability `share`:
/// UDP answered by an ICMP port-unreachable, TCP by a reset. Docker DNATs
/// 127.0.0.11:53 to a random port in the container's nat table, so the filter rules
/// match the original destination through conntrack.
pub(super) fn dns_reject_rules(name: &str, share: f64, tag: &str) -> Vec<Vec<String>> {
    let pattern = dns_qname_pattern(name);
    ["udp", "tcp"]
        .iter()
        .map(|proto| {
            let mut r: Vec<String> = [
                "OUTPUT",
                "-p",
                proto,
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
                &pattern,
            ]
            .iter()
            .map(|x| (*x).to_owned())
            .collect();
            if share < 1.0 {
                r.extend(
                    [
                        "-m",
                        "statistic",
                        "--mode",
                        "random",
                        "--probability",
                        &format!("{:.3}", share.clamp(0.001, 1.0)),
                    ]
                    .iter()
                    .map(|x| (*x).to_owned()),
                );
            }
            r.extend(
                [
                    "-m",
                    "comment",
                    "--comment",
                    tag,
                    "-j",
                    "REJECT",
                    "--reject-with",
                ]
                .iter()
                .map(|x| (*x).to_owned()),
            );
            r.push(
                if *proto == "udp" {
                    "icmp-port-unreachable"
                } else {
                    "tcp-reset"
                }
                .to_owned(),
            );
            r
        })
        .collect()
}

/// The bytes `infra.disk_full` leaves free on a volume of `size` bytes. At 99 % and
/// above nothing is left, as the simulator fails writes from 99 % on.
pub(super) fn disk_full_leave(size: u64, fill_pct: f64) -> u64 {
    if fill_pct >= 99.0 {
        0
    } else {
        (size as f64 * (100.0 - fill_pct.clamp(0.0, 100.0)) / 100.0) as u64
    }
}

/// A unified diff of two environments, as a manifest change shows it (only the
/// entries that differ, sorted by name).
pub(super) fn env_diff(svc: &str, from: &[String], to: &[String]) -> String {
    let path = format!("deploy/{svc}/deployment.yaml");
    let mut removed: Vec<&String> = from.iter().filter(|e| !to.contains(e)).collect();
    let mut added: Vec<&String> = to.iter().filter(|e| !from.contains(e)).collect();
    removed.sort();
    added.sort();
    let line = |sign: char, e: &str| {
        let (k, v) = e.split_once('=').unwrap_or((e, ""));
        format!("{sign}          - name: {k}\n{sign}            value: \"{v}\"\n")
    };
    let mut diff = format!(
        "diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -31,{} +31,{} @@ spec:\n           env:\n",
        1 + 2 * removed.len(),
        1 + 2 * added.len()
    );
    for e in removed {
        diff.push_str(&line('-', e));
    }
    for e in added {
        diff.push_str(&line('+', e));
    }
    diff
}

impl DockerEnv {
    /// `infra.disk_full`: fills the target's data volume for real; the service's
    /// writes then fail with `No space left on device`.
    async fn inject_disk_full(&mut self, n: usize, i: usize) -> Result<(), BackendError> {
        let f = self.incident.faults[n].clone();
        let container = self.live[i].name.clone();
        let leave = disk_full_leave(super::plan::DATA_DISK_BYTES, f.param("fill_pct"));
        // The volume goes with the container: removing it undoes this.
        let undo = Undo::Containers;
        self.journal(Step::InjectBegin, &f, &container, &undo)?;
        let dir = super::plan::DATA_DIR.to_owned();
        let cmd = vec![
            WORKLOAD.to_owned(),
            "fill".to_owned(),
            dir.clone(),
            "--leave".to_owned(),
            leave.to_string(),
        ];
        self.exec_wait(i, cmd).await?;
        let revert = Revert::Exec(
            i,
            vec![
                WORKLOAD.to_owned(),
                "fill".to_owned(),
                dir,
                "--remove".to_owned(),
            ],
        );
        self.journal(Step::InjectDone, &f, &container, &undo)?;
        self.active.push((n, revert, undo));
        Ok(())
    }

    /// `infra.dns_failure`: the target's name stops resolving for its callers (their
    /// lookups are refused in their own network namespaces); the target stays healthy.
    async fn inject_dns_failure(&mut self, n: usize) -> Result<(), BackendError> {
        let f = self.incident.faults[n].clone();
        let i = self.index(&f.target)?;
        let tag = format!("otrashi:{}", self.episode);
        // Every replica of every caller.
        let caller_names: Vec<String> = self
            .incident
            .topology
            .services
            .iter()
            .filter(|s| s.calls.contains(&f.target))
            .map(|s| s.name.clone())
            .collect();
        let mut callers = Vec::new();
        for name in &caller_names {
            callers.extend(self.replicas_of(name)?);
        }
        let share = (f.param("failure_pct") / 100.0).clamp(0.001, 1.0);
        let rules = dns_reject_rules(&f.target, share, &tag);
        let mut undos = Vec::new();
        for c in callers {
            let (container, Some(pid)) = (self.live[c].name.clone(), self.live[c].pid) else {
                continue;
            };
            let undo = Undo::IptablesRules {
                pid,
                rules: rules.clone(),
            };
            self.journal(Step::InjectBegin, &f, &container, &undo)?;
            undos.push((container.clone(), undo.clone()));
            // Tracked before the rules go in, so a failure half-way is reverted too.
            match self.active.iter_mut().find(|(k, _, _)| *k == n) {
                Some((_, Revert::Callers(list), _)) => list.push((container.clone(), undo.clone())),
                _ => self.active.push((
                    n,
                    Revert::Callers(vec![(container.clone(), undo.clone())]),
                    Undo::Containers,
                )),
            }
            for rule in &rules {
                let mut args = vec!["-A".to_owned()];
                args.extend(rule.iter().cloned());
                nsenter(pid, "iptables", &args)
                    .await
                    .map_err(|m| run_err(&m, NoSource))?;
            }
            self.journal(Step::InjectDone, &f, &container, &undo)?;
        }
        if f.via == Via::Config {
            self.event(
                i,
                EventType::Normal,
                "ConfigChanged",
                format!(
                    "configmap/coredns: Corefile updated (stanza for {}.svc.cluster.local)",
                    f.target
                ),
            );
        }
        if undos.is_empty() {
            // No caller runs: nothing resolves the name, and nothing is to revert.
            self.active
                .push((n, Revert::Callers(undos), Undo::Containers));
        }
        Ok(())
    }

    /// `orchestration.bad_env_config`: the target is recreated with a timeout setting
    /// that has no unit, used by `error_pct` % of its requests, which fail with
    /// `invalid configuration`; recorded as a config change with its diff.
    async fn inject_bad_env(&mut self, n: usize, i: usize) -> Result<(), BackendError> {
        let f = self.incident.faults[n].clone();
        let container = self.live[i].name.clone();
        let undo = Undo::Containers;
        self.journal(Step::InjectBegin, &f, &container, &undo)?;
        let key = super::plan::setting_key(&f.target);
        let mut spec = self.live[i].base.clone();
        set_env(&mut spec.env, &key, "5");
        let pct = f.param("error_pct").clamp(1.0, 100.0).round();
        if pct < 100.0 {
            set_env(
                &mut spec.env,
                &format!("{key}_ROLLOUT_PCT"),
                &format!("{pct}"),
            );
        }
        let from = self.live[i].spec.env.clone();
        self.record_env_change(i, &f.id, &from, &spec.env, false);
        self.event(
            i,
            EventType::Normal,
            "ConfigChanged",
            format!("deployment/{}: env {key} changed", f.target),
        );
        self.recreate(i, spec, true).await?;
        self.journal(Step::InjectDone, &f, &container, &undo)?;
        self.active.push((n, Revert::EnvRollback(i), undo));
        Ok(())
    }

    /// Records a change of service `i`'s environment as a config rollout (same
    /// version, new revision) with the diff of the two environments.
    fn record_env_change(
        &mut self,
        i: usize,
        key: &str,
        from: &[String],
        to: &[String],
        rollback: bool,
    ) {
        let h = stable_hash(format!("{}/{key}/env/{rollback}", self.episode).as_bytes());
        let commit = format!(
            "{h:016x}{:016x}{:08x}",
            h.rotate_left(17) ^ 0x27d4_eb2d,
            (h >> 9) as u32
        );
        let service = self.live[i].service;
        let svc = self.services[service].clone();
        let setting = super::plan::setting_key(&svc);
        let title = if rollback {
            format!("Revert \"Tune {setting} for {svc}\"")
        } else {
            format!("Tune {setting} for {svc}")
        };
        let t_ms = self.now_ms();
        let id = format!("deploy-{}", &commit[..7]);
        // Replicas of one service share one rollout.
        if self.deploys.iter().any(|d| d.id == id) {
            return;
        }
        self.deploys.push(Deploy {
            id,
            t_ms,
            service: service as u16,
            from_version: "v1.4.2".to_owned(),
            to_version: "v1.4.2".to_owned(),
            commit,
            author: ["maria.keller", "j.okafor", "priya.raman", "li.wei"][(h % 4) as usize]
                .to_owned(),
            title,
            diff: env_diff(&svc, from, to),
        });
    }

    /// Runs `cmd` inside service `i`'s container and waits for it; a non-zero exit
    /// is an error carrying its output.
    async fn exec_wait(&self, i: usize, cmd: Vec<String>) -> Result<(), BackendError> {
        use bollard::exec::StartExecResults;
        use futures_util::StreamExt;
        let container = &self.live[i].name;
        let what = cmd.join(" ");
        let docker = self.engine.docker();
        let exec = docker
            .create_exec(
                &self.live[i].id,
                ExecConfig {
                    cmd: Some(cmd),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| run_err(&format!("docker exec in {container}"), e))?;
        let started = docker
            .start_exec(&exec.id, None::<bollard::exec::StartExecOptions>)
            .await
            .map_err(|e| run_err(&format!("docker exec start in {container}"), e))?;
        let mut text = String::new();
        if let StartExecResults::Attached { mut output, .. } = started {
            while let Some(Ok(chunk)) = output.next().await {
                text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            }
        }
        let inspect = docker
            .inspect_exec(&exec.id)
            .await
            .map_err(|e| run_err(&format!("docker exec inspect in {container}"), e))?;
        match inspect.exit_code {
            Some(0) => Ok(()),
            code => Err(run_err(
                &format!(
                    "`{what}` in {container} exited with {code:?}: {}",
                    text.trim()
                ),
                NoSource,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_rules_match_the_query_name_at_the_embedded_dns() {
        assert_eq!(dns_qname_pattern("users-db"), "|08|users-db|00|");
        assert_eq!(dns_qname_pattern("a.bc"), "|01|a|02|bc|00|");
        let rules = dns_reject_rules("api", 1.0, "otrashi:ep");
        assert_eq!(rules.len(), 2);
        let udp = rules[0].join(" ");
        assert!(
            udp.starts_with("OUTPUT -p udp -m conntrack --ctorigdst 127.0.0.11 --ctorigdstport 53"),
            "{udp}"
        );
        assert!(udp.contains("--hex-string |03|api|00|"), "{udp}");
        assert!(!udp.contains("statistic"), "{udp}");
        assert!(
            udp.ends_with("-j REJECT --reject-with icmp-port-unreachable"),
            "{udp}"
        );
        assert!(rules[1].join(" ").ends_with("--reject-with tcp-reset"));
        let half = dns_reject_rules("api", 0.5, "otrashi:ep")[0].join(" ");
        assert!(half.contains("--probability 0.500"), "{half}");
    }

    #[test]
    fn disk_full_leaves_room_below_the_simulators_failure_threshold() {
        let size = 64 << 20;
        assert_eq!(disk_full_leave(size, 100.0), 0);
        assert_eq!(disk_full_leave(size, 99.0), 0);
        assert_eq!(disk_full_leave(size, 90.0), (size as f64 * 0.1) as u64);
    }

    #[test]
    fn env_diff_shows_only_the_changed_settings() {
        let from = vec!["A=1".to_owned(), "CART_UPSTREAM_TIMEOUT=1000ms".to_owned()];
        let to = vec![
            "A=1".to_owned(),
            "CART_UPSTREAM_TIMEOUT=5".to_owned(),
            "CART_UPSTREAM_TIMEOUT_ROLLOUT_PCT=40".to_owned(),
        ];
        let d = env_diff("cart", &from, &to);
        assert!(d.contains("-            value: \"1000ms\""), "{d}");
        assert!(d.contains("+            value: \"5\""), "{d}");
        assert!(
            d.contains("+          - name: CART_UPSTREAM_TIMEOUT_ROLLOUT_PCT"),
            "{d}"
        );
        assert!(!d.contains("name: A\n"), "{d}");
        assert!(d.contains("@@ -31,3 +31,5 @@"), "{d}");
    }

    #[test]
    fn disk_slow_is_refused_with_the_probes_reason() {
        let report = HostReport {
            findings: vec![otrashi_docker::Finding {
                name: "dm_delay",
                available: false,
                detail: "/dev/mapper/control is missing".to_owned(),
                explanation: "",
            }],
        };
        let why = support(FaultKind::DiskSlow, &report).unwrap_err();
        assert!(why.contains("/dev/mapper/control is missing"), "{why}");
        assert!(support(FaultKind::DiskFull, &report).is_ok());
        assert!(support(FaultKind::BadEnvConfig, &report).is_ok());
        assert!(support(FaultKind::DnsFailure, &report).is_err());
    }
}

/// How long a red herring lasts, scenario ms (the simulator's 150 s).
pub(super) const HERRING_MS: u64 = 150_000;
/// A flapping health check's period and slow phase, scenario ms (the simulator's).
pub(super) const FLAP_EVERY_MS: u64 = 60_000;
/// See [`FLAP_EVERY_MS`].
pub(super) const FLAP_SLOW_MS: u64 = 25_000;

impl DockerEnv {
    /// The `benign_errors` red herring: a client sends requests with a malformed bearer
    /// token straight to service `i` (about 12% of the load, at least one a second)
    /// for [`HERRING_MS`]; the service rejects them with 401 and logs each as an error.
    /// The sender stops by itself at the herring's or the episode's end.
    fn benign_errors(&self, i: usize) {
        let Some(port) = self.live[i].port else {
            return;
        };
        let end = self.incident.timeline.end().as_millis();
        let left = end.saturating_sub(self.now_ms()).min(HERRING_MS);
        let until = tokio::time::Instant::now() + self.scale.wall(left);
        let every = Duration::from_secs_f64(1.0 / (self.rps * 0.12).max(1.0));
        tokio::spawn(async move {
            let mut n: u32 = 0;
            while tokio::time::Instant::now() < until {
                let client = format!("203.0.113.{}", 10 + n % 200);
                let _ = http::request(
                    port,
                    "GET",
                    "/",
                    &[
                        ("Authorization", "Bearer not-a-token"),
                        ("X-Forwarded-For", &client),
                    ],
                    "",
                    Duration::from_secs(1),
                )
                .await;
                n = n.wrapping_add(1);
                tokio::time::sleep(every).await;
            }
        });
    }

    /// One edge of the `flapping_alert` red herring `n`: the health check of its
    /// service gets slow (`slow`) or fast again, and the gym's readiness probe (200 ms
    /// deadline, as a kubelet's) reports what it really sees. A herring never fails
    /// the episode: a service that cannot be reached is left alone.
    pub(super) async fn flap(&mut self, n: usize, slow: bool) -> Result<(), BackendError> {
        let h = self.incident.red_herrings[n].clone();
        let Ok(i) = self.index(&h.target) else {
            return Ok(());
        };
        let actions = if slow { "return(300)" } else { "off" };
        if self
            .admin(i, workload_failpoint::HEALTHZ_SLOW, actions)
            .await
            .is_err()
        {
            return Ok(());
        }
        let Some(port) = self.live[i].port else {
            return Ok(());
        };
        let probe = http::get(port, "/healthz", Duration::from_millis(200)).await;
        if slow && probe.is_err() {
            self.event(
                i,
                EventType::Warning,
                "Unhealthy",
                format!(
                    "Readiness probe failed: Get \"http://{}:{}/healthz\": context deadline exceeded",
                    h.target,
                    otrashi_docker::image::WORKLOAD_PORT
                ),
            );
        }
        Ok(())
    }
}

/// Failpoint names of the workload the gym switches outside fault kinds.
mod workload_failpoint {
    /// `/healthz` waits on a slow dependency check (the workload's `healthz_slow`).
    pub const HEALTHZ_SLOW: &str = "healthz_slow";
}
