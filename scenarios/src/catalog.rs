//! The fault catalog: every fault kind otrashi can inject, its level, parameters and the
//! real-world signature it leaves behind.
//!
//! The catalog is data, not behaviour: validation reads the parameter ranges, the
//! simulator and the real backends implement the effects, the scorer reads the families
//! and the ground truth reads the propagation direction and expected signals.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The layer of the stack a fault lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Machines, disks, kernels and networks.
    Infra,
    /// The orchestrator: deployments, probes, limits, scaling, configuration.
    Orchestration,
    /// The service's own code, shipped by a deploy or switched on at runtime.
    Code,
}

impl Level {
    /// Every level, in catalog order.
    pub const ALL: [Level; 3] = [Level::Infra, Level::Orchestration, Level::Code];

    /// The name used in fault kinds and reports (`infra`, `orchestration`, `code`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Infra => "infra",
            Level::Orchestration => "orchestration",
            Level::Code => "code",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| UnknownName::new(s, Level::ALL.iter().map(|l| l.as_str())))
    }
}

/// How a fault reaches the system. It decides which clues exist: a fault that arrives by
/// `deploy` leaves a deploy event and a code diff, one that arrives by `config` leaves a
/// configuration-change event, one that arrives `direct` leaves neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A new version of the service is rolled out carrying the change.
    Deploy,
    /// A configuration change (environment, limits, probes, routing) is applied.
    Config,
    /// The fault happens to the running system (a noisy process, a kernel, a network).
    Direct,
}

impl Via {
    /// Every way a fault can arrive.
    pub const ALL: [Via; 3] = [Via::Deploy, Via::Config, Via::Direct];

    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Deploy => "deploy",
            Via::Config => "config",
            Via::Direct => "direct",
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Via {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Via::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownName::new(s, Via::ALL.iter().map(|v| v.as_str())))
    }
}

/// Which components, besides the target, a fault harms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Propagation {
    /// The target and every service that calls it, directly or transitively.
    Upstream,
    /// As `Upstream`, plus the services the target calls directly (it overloads them).
    UpstreamAndDownstream,
}

/// What a fault needs of its target service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetRequirement {
    /// Any service.
    AnyService,
    /// A service that calls at least one other service.
    HasDownstream,
    /// A service that calls a service of kind `cache`.
    CallsCache,
    /// A service that calls a service of kind `database`.
    CallsDatabase,
    /// A service that is called by another service (not only by the load generator).
    HasCallers,
}

impl TargetRequirement {
    /// A sentence for validation messages: "the target must …".
    pub fn describe(self) -> &'static str {
        match self {
            TargetRequirement::AnyService => "be a service in the topology",
            TargetRequirement::HasDownstream => "call at least one other service",
            TargetRequirement::CallsCache => "call a service of kind `cache`",
            TargetRequirement::CallsDatabase => "call a service of kind `database`",
            TargetRequirement::HasCallers => "be called by another service",
        }
    }
}

/// One parameter of a fault kind. Every parameter is a number with a unit, a closed
/// range and a default, so that it can be randomized with a distribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ParamDef {
    /// The parameter's name in scenario files (`rate_mb_per_min`).
    pub name: &'static str,
    /// Its unit, for docs and messages (`MB/min`, `ms`, `%`).
    pub unit: &'static str,
    /// Smallest allowed value, inclusive.
    pub min: f64,
    /// Largest allowed value, inclusive.
    pub max: f64,
    /// Value used when the scenario does not give one.
    pub default: f64,
    /// Whether the value is rounded to a whole number when sampled.
    pub integer: bool,
    /// One line on what it controls.
    pub description: &'static str,
}

/// Everything the catalog knows about one fault kind.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FaultDef {
    /// The kind this entry describes.
    pub kind: FaultKind,
    /// The level it belongs to.
    pub level: Level,
    /// The family it belongs to, for partial credit when a report names a sibling
    /// (`network`, `cpu`, `memory`, `availability`, `config`, `latency`, `errors`,
    /// `resources`, `disk`).
    pub family: &'static str,
    /// One line: what happens.
    pub description: &'static str,
    /// One line: what a person on call would see.
    pub signature: &'static str,
    /// Its parameters.
    pub params: &'static [ParamDef],
    /// How it may arrive; the first entry is the default.
    pub vias: &'static [Via],
    /// What it needs of its target.
    pub target: TargetRequirement,
    /// Which components it harms besides the target.
    pub propagation: Propagation,
    /// The signals that should show it, as `modality:name` (`metric:memory_rss_bytes`,
    /// `event:OOMKilled`, `log:OutOfMemoryError`, `deploy`, `trace:error`). The
    /// ground truth lists them against the target; evidence scoring checks citations
    /// against them.
    pub signals: &'static [&'static str],
}

impl FaultDef {
    /// The parameter called `name`, if the fault has one.
    pub fn param(&self, name: &str) -> Option<&'static ParamDef> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The way the fault arrives when the scenario does not say.
    pub fn default_via(&self) -> Via {
        self.vias.first().copied().unwrap_or(Via::Direct)
    }
}

macro_rules! fault_kinds {
    ($($variant:ident => $name:literal, $level:ident;)*) => {
        /// A fault kind, named `<level>.<fault>` in scenario files and reports.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum FaultKind {
            $(
                #[doc = concat!("`", $name, "`: see [`FaultKind::def`].")]
                $variant,
            )*
        }

        impl FaultKind {
            /// Every fault kind, in catalog order.
            pub const ALL: &'static [FaultKind] = &[$(FaultKind::$variant),*];

            /// The full name, `<level>.<fault>`.
            pub fn as_str(self) -> &'static str {
                match self { $(FaultKind::$variant => $name,)* }
            }

            /// The level this kind belongs to.
            pub fn level(self) -> Level {
                match self { $(FaultKind::$variant => Level::$level,)* }
            }
        }
    };
}

fault_kinds! {
    CpuSaturation => "infra.cpu_saturation", Infra;
    MemoryPressure => "infra.memory_pressure", Infra;
    DiskFull => "infra.disk_full", Infra;
    DiskSlow => "infra.disk_slow", Infra;
    NetworkDelay => "infra.network_delay", Infra;
    NetworkLoss => "infra.network_loss", Infra;
    NetworkPartition => "infra.network_partition", Infra;
    BandwidthLimit => "infra.bandwidth_limit", Infra;
    DnsFailure => "infra.dns_failure", Infra;
    ProcessFreeze => "infra.process_freeze", Infra;
    CrashLoop => "orchestration.crash_loop", Orchestration;
    OomKill => "orchestration.oom_kill", Orchestration;
    ScaleToZero => "orchestration.scale_to_zero", Orchestration;
    MisroutedPort => "orchestration.misrouted_port", Orchestration;
    BadEnvConfig => "orchestration.bad_env_config", Orchestration;
    FailedDeploy => "orchestration.failed_deploy", Orchestration;
    LivenessProbeMisconfig => "orchestration.liveness_probe_misconfig", Orchestration;
    CpuThrottle => "orchestration.cpu_throttle", Orchestration;
    DependencyRemoved => "orchestration.dependency_removed", Orchestration;
    PodKill => "orchestration.pod_kill", Orchestration;
    ErrorInjection => "code.error_injection", Code;
    SlowHandler => "code.slow_handler", Code;
    MemoryLeak => "code.memory_leak", Code;
    ConnectionLeak => "code.connection_leak", Code;
    RetryStorm => "code.retry_storm", Code;
    CacheBypass => "code.cache_bypass", Code;
    HotLoop => "code.hot_loop", Code;
    PanicCrash => "code.panic_crash", Code;
    SlowQuery => "code.slow_query", Code;
}

impl FaultKind {
    /// The short name without the level (`memory_leak`).
    pub fn short_name(self) -> &'static str {
        let full = self.as_str();
        full.split_once('.').map_or(full, |(_, short)| short)
    }

    /// The catalog entry for this kind.
    pub fn def(self) -> &'static FaultDef {
        // CATALOG is in the same order as FaultKind::ALL; a unit test pins that.
        &CATALOG[self as usize]
    }

    /// Looks a kind up by its full name (`code.memory_leak`) or, when unambiguous, its
    /// short name (`memory_leak`).
    pub fn parse(name: &str) -> Option<FaultKind> {
        FaultKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == name || k.short_name() == name)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FaultKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FaultKind::parse(s)
            .ok_or_else(|| UnknownName::new(s, FaultKind::ALL.iter().map(|k| k.as_str())))
    }
}

impl Serialize for FaultKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FaultKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// A name that is not one of the allowed ones, with the closest allowed name as a hint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown name `{given}`{}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
pub struct UnknownName {
    /// What was given.
    pub given: String,
    /// The closest allowed name, when one is close enough to be a likely typo.
    pub suggestion: Option<String>,
}

impl UnknownName {
    /// Builds the error, picking a suggestion among `allowed`.
    pub fn new<'a>(given: &str, allowed: impl IntoIterator<Item = &'a str>) -> Self {
        UnknownName {
            given: given.to_owned(),
            suggestion: closest(given, allowed).map(str::to_owned),
        }
    }
}

/// The allowed name closest to `given` by edit distance, if it is close enough to be a
/// typo (at most a third of the name's length, and at least 1). A short name also
/// matches the tail of a dotted name (`memory_leek` → `code.memory_leak`).
pub fn closest<'a>(given: &str, allowed: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in allowed {
        let tail = candidate.rsplit_once('.').map_or(candidate, |(_, t)| t);
        let d = edit_distance(given, candidate).min(edit_distance(given, tail));
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    let limit = (given.chars().count() / 3).max(1);
    best.filter(|(d, _)| *d <= limit).map(|(_, c)| c)
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

const fn p(
    name: &'static str,
    unit: &'static str,
    min: f64,
    max: f64,
    default: f64,
    description: &'static str,
) -> ParamDef {
    ParamDef {
        name,
        unit,
        min,
        max,
        default,
        integer: false,
        description,
    }
}

const fn int(
    name: &'static str,
    unit: &'static str,
    min: f64,
    max: f64,
    default: f64,
    description: &'static str,
) -> ParamDef {
    ParamDef {
        name,
        unit,
        min,
        max,
        default,
        integer: true,
        description,
    }
}

use Propagation::{Upstream, UpstreamAndDownstream};
use TargetRequirement::{AnyService, CallsCache, CallsDatabase, HasCallers, HasDownstream};
use Via::{Config, Deploy, Direct};

/// The catalog, in the order of [`FaultKind::ALL`].
pub static CATALOG: [FaultDef; 29] = [
    FaultDef {
        kind: FaultKind::CpuSaturation,
        level: Level::Infra,
        family: "cpu",
        description: "A runaway process beside the service eats its CPU allowance.",
        signature: "container CPU pinned at the limit while the service's own process CPU stays normal; latency rises on the target and its callers",
        params: &[p("load_pct", "%", 10.0, 100.0, 90.0, "share of the container's CPU allowance the stray process takes")],
        vias: &[Direct],
        target: AnyService,
        propagation: Upstream,
        signals: &["metric:container_cpu_usage_seconds_total", "metric:http_request_duration_seconds", "trace:slow"],
    },
    FaultDef {
        kind: FaultKind::MemoryPressure,
        level: Level::Infra,
        family: "memory",
        description: "Something else on the host fills memory, the service swaps and stalls in GC.",
        signature: "container working set near the limit, major page faults and GC pauses, latency spikes, occasional OOM kill",
        params: &[p("fill_pct", "%", 50.0, 99.0, 90.0, "share of the memory limit taken by the other tenant")],
        vias: &[Direct],
        target: AnyService,
        propagation: Upstream,
        signals: &["metric:container_memory_working_set_bytes", "log:GC pause", "metric:http_request_duration_seconds"],
    },
    FaultDef {
        kind: FaultKind::DiskFull,
        level: Level::Infra,
        family: "disk",
        description: "The service's volume fills up; writes fail with ENOSPC.",
        signature: "filesystem usage at 100%, `No space left on device` errors on writes, error rate up on write endpoints",
        params: &[p("fill_pct", "%", 90.0, 100.0, 100.0, "how full the volume gets")],
        vias: &[Direct],
        target: AnyService,
        propagation: Upstream,
        signals: &["metric:container_fs_usage_bytes", "log:No space left on device", "metric:http_requests_total"],
    },
    FaultDef {
        kind: FaultKind::DiskSlow,
        level: Level::Infra,
        family: "disk",
        description: "The volume under the service becomes slow (a noisy disk neighbour, a degraded device).",
        signature: "I/O wait up, fsync and query latency up on the target, CPU idle while latency climbs",
        params: &[p("latency_ms", "ms", 5.0, 2000.0, 200.0, "extra latency per disk operation")],
        vias: &[Direct],
        target: AnyService,
        propagation: Upstream,
        signals: &["metric:node_disk_io_time_seconds_total", "metric:http_request_duration_seconds", "log:slow fsync"],
    },
    FaultDef {
        kind: FaultKind::NetworkDelay,
        level: Level::Infra,
        family: "network",
        description: "Packets to and from the service are delayed.",
        signature: "latency rises by a constant amount on every call into the target, the target's own handler time is unchanged",
        params: &[
            p("delay_ms", "ms", 1.0, 5000.0, 200.0, "added one-way delay"),
            p("jitter_ms", "ms", 0.0, 1000.0, 20.0, "random variation of the delay"),
        ],
        vias: &[Direct],
        target: AnyService,
        propagation: Upstream,
        signals: &["trace:slow", "metric:http_client_request_duration_seconds", "log:upstream timeout"],
    },
    FaultDef {
        kind: FaultKind::NetworkLoss,
        level: Level::Infra,
        family: "network",
        description: "A share of the packets to and from the service is dropped.",
        signature: "TCP retransmits, sporadic timeouts and resets in callers, long-tail latency (p99) far above p50",
        params: &[p("loss_pct", "%", 1.0, 100.0, 20.0, "share of packets dropped")],
        vias: &[Direct],
        target: AnyService,
        propagation: Upstream,
        signals: &["metric:node_netstat_tcp_retrans_segs", "log:connection reset", "trace:error"],
    },
    FaultDef {
        kind: FaultKind::NetworkPartition,
        level: Level::Infra,
        family: "network",
        description: "The service is cut off from its callers (a firewall rule, a bad security group).",
        signature: "callers time out connecting to the target, the target itself is healthy but its traffic drops to zero",
        params: &[],
        vias: &[Direct, Config],
        target: HasCallers,
        propagation: Upstream,
        signals: &["log:connect timeout", "metric:http_requests_total", "trace:error"],
    },
    FaultDef {
        kind: FaultKind::BandwidthLimit,
        level: Level::Infra,
        family: "network",
        description: "The service's link is throttled to a low bandwidth.",
        signature: "latency grows with response size, throughput flattens at the cap, large responses time out first",
        params: &[p("rate_kbit", "kbit/s", 8.0, 1_000_000.0, 512.0, "bandwidth cap")],
        vias: &[Direct],
        target: AnyService,
        propagation: Upstream,
        signals: &["metric:container_network_transmit_bytes_total", "trace:slow", "metric:http_request_duration_seconds"],
    },
    FaultDef {
        kind: FaultKind::DnsFailure,
        level: Level::Infra,
        family: "network",
        description: "The service's name stops resolving for its callers.",
        signature: "name-resolution errors (`ENOTFOUND`, `no such host`) in the callers' logs, the target's traffic falls while it stays healthy",
        params: &[p("failure_pct", "%", 1.0, 100.0, 100.0, "share of lookups that fail")],
        vias: &[Direct, Config],
        target: HasCallers,
        propagation: Upstream,
        signals: &["log:no such host", "metric:http_requests_total", "trace:error"],
    },
    FaultDef {
        kind: FaultKind::ProcessFreeze,
        level: Level::Infra,
        family: "availability",
        description: "The service's process is stopped (SIGSTOP, a stuck hypervisor): it neither answers nor crashes.",
        signature: "requests hang until callers time out, the target's metrics go missing (scrapes fail), no restart and no error in its own logs",
        params: &[],
        vias: &[Direct],
        target: AnyService,
        propagation: Upstream,
        signals: &["metric:up", "log:upstream timeout", "trace:error"],
    },
    FaultDef {
        kind: FaultKind::CrashLoop,
        level: Level::Orchestration,
        family: "availability",
        description: "The service exits right after start and the orchestrator keeps restarting it with back-off.",
        signature: "restart count climbing, `CrashLoopBackOff` and `Back-off restarting failed container` events, a fatal line at each start",
        params: &[int("backoff_s", "s", 1.0, 300.0, 10.0, "initial restart back-off")],
        vias: &[Config, Deploy],
        target: AnyService,
        propagation: Upstream,
        signals: &["event:BackOff", "metric:kube_pod_container_status_restarts_total", "log:fatal"],
    },
    FaultDef {
        kind: FaultKind::OomKill,
        level: Level::Orchestration,
        family: "memory",
        description: "The service's memory limit is set below its working set, so the kernel OOM-kills it.",
        signature: "`OOMKilled` termination reason, restarts, memory saw-tooth hitting a limit that just changed",
        params: &[p("limit_mb", "MB", 16.0, 65536.0, 128.0, "the new, too small memory limit")],
        vias: &[Config],
        target: AnyService,
        propagation: Upstream,
        signals: &["event:OOMKilled", "metric:container_memory_working_set_bytes", "event:ConfigChanged"],
    },
    FaultDef {
        kind: FaultKind::ScaleToZero,
        level: Level::Orchestration,
        family: "availability",
        description: "The service is scaled to zero replicas.",
        signature: "a scaling event to 0, `no healthy upstream` / connection refused in callers, the target's metrics stop",
        params: &[],
        vias: &[Config],
        target: AnyService,
        propagation: Upstream,
        signals: &["event:ScalingReplicaSet", "log:connection refused", "metric:up"],
    },
    FaultDef {
        kind: FaultKind::MisroutedPort,
        level: Level::Orchestration,
        family: "config",
        description: "The service's route points at the wrong port.",
        signature: "connection refused in callers, the target healthy and idle, a configuration change to the service's port",
        params: &[int("port", "port", 1.0, 65535.0, 8081.0, "the wrong target port")],
        vias: &[Config],
        target: HasCallers,
        propagation: Upstream,
        signals: &["event:ConfigChanged", "log:connection refused", "metric:http_requests_total"],
    },
    FaultDef {
        kind: FaultKind::BadEnvConfig,
        level: Level::Orchestration,
        family: "config",
        description: "A bad value in the service's environment makes part of its requests fail.",
        signature: "a configuration change, then `invalid configuration` errors in the target's logs and 5xx on the affected path",
        params: &[p("error_pct", "%", 1.0, 100.0, 100.0, "share of requests that hit the broken setting")],
        vias: &[Config],
        target: AnyService,
        propagation: Upstream,
        signals: &["event:ConfigChanged", "log:invalid configuration", "metric:http_requests_total"],
    },
    FaultDef {
        kind: FaultKind::FailedDeploy,
        level: Level::Orchestration,
        family: "availability",
        description: "A rollout whose new pods never become ready; capacity shrinks while it is stuck.",
        signature: "a deploy, readiness-probe failures and restarts on the new version, fewer ready replicas, latency up from the lost capacity",
        params: &[p("unavailable_pct", "%", 10.0, 100.0, 50.0, "share of the capacity lost while the rollout is stuck")],
        vias: &[Deploy],
        target: AnyService,
        propagation: Upstream,
        signals: &["deploy", "event:Unhealthy", "metric:kube_deployment_status_replicas_available"],
    },
    FaultDef {
        kind: FaultKind::LivenessProbeMisconfig,
        level: Level::Orchestration,
        family: "config",
        description: "A liveness probe too strict for the service gets a healthy process killed again and again.",
        signature: "`Liveness probe failed` events and restarts while the service's own logs show no error before each kill",
        params: &[int("period_s", "s", 5.0, 300.0, 30.0, "time between kills")],
        vias: &[Config],
        target: AnyService,
        propagation: Upstream,
        signals: &["event:Unhealthy", "event:Killing", "metric:kube_pod_container_status_restarts_total"],
    },
    FaultDef {
        kind: FaultKind::CpuThrottle,
        level: Level::Orchestration,
        family: "cpu",
        description: "The service's CPU limit is set too low, so the kernel throttles it.",
        signature: "throttled periods climb while CPU use looks normal (it sits at the low limit), latency rises under load",
        params: &[p("limit_cores", "cores", 0.05, 8.0, 0.2, "the new CPU limit")],
        vias: &[Config],
        target: AnyService,
        propagation: Upstream,
        signals: &["metric:container_cpu_cfs_throttled_periods_total", "event:ConfigChanged", "metric:http_request_duration_seconds"],
    },
    FaultDef {
        kind: FaultKind::DependencyRemoved,
        level: Level::Orchestration,
        family: "availability",
        description: "The service's deployment and route are deleted by a clean-up.",
        signature: "a deletion event, the target disappears from metrics entirely, callers get not-found / NXDOMAIN errors",
        params: &[],
        vias: &[Config],
        target: HasCallers,
        propagation: Upstream,
        signals: &["event:Deleted", "log:no such host", "metric:up"],
    },
    FaultDef {
        kind: FaultKind::PodKill,
        level: Level::Orchestration,
        family: "availability",
        description: "The service's pods are deleted one at a time, again and again (a chaos tool, an eviction loop, a node being drained and undrained): each is replaced by a fresh pod.",
        signature: "`Killing` events for the target's pods one after another with no config change or deploy before them, fresh pods `Started`, connection resets in callers at each kill (refusals too while a lone replica boots), nothing wrong in the target's own logs",
        params: &[int("every_s", "s", 5.0, 600.0, 30.0, "time between two pod deletions")],
        vias: &[Direct],
        target: AnyService,
        propagation: Upstream,
        signals: &["event:Killing", "event:Started", "trace:error"],
    },
    FaultDef {
        kind: FaultKind::ErrorInjection,
        level: Level::Code,
        family: "errors",
        description: "A code change makes a share of the service's requests fail.",
        signature: "5xx on the target with stack traces from one code path, errors propagating to callers, starting at a deploy",
        params: &[p("error_pct", "%", 1.0, 100.0, 30.0, "share of requests that fail")],
        vias: &[Deploy, Direct],
        target: AnyService,
        propagation: Upstream,
        signals: &["deploy", "log:Exception", "trace:error"],
    },
    FaultDef {
        kind: FaultKind::SlowHandler,
        level: Level::Code,
        family: "latency",
        description: "A code change makes one of the service's handlers slow.",
        signature: "the target's own span duration rises (not the network), callers' latency follows, starting at a deploy",
        params: &[
            p("delay_ms", "ms", 10.0, 10000.0, 500.0, "extra time in the handler"),
            p("affected_pct", "%", 1.0, 100.0, 100.0, "share of requests that are slow"),
        ],
        vias: &[Deploy, Direct],
        target: AnyService,
        propagation: Upstream,
        signals: &["deploy", "trace:slow", "metric:http_request_duration_seconds"],
    },
    FaultDef {
        kind: FaultKind::MemoryLeak,
        level: Level::Code,
        family: "memory",
        description: "A code change keeps references it should drop; memory grows until the kernel kills the process.",
        signature: "linear RSS growth, GC time up, OOM kill at the limit, restart and the same climb again, starting at a deploy",
        params: &[p("rate_mb_per_min", "MB/min", 1.0, 2048.0, 20.0, "leak rate")],
        vias: &[Deploy, Direct],
        target: AnyService,
        propagation: Upstream,
        signals: &["deploy", "metric:process_resident_memory_bytes", "event:OOMKilled"],
    },
    FaultDef {
        kind: FaultKind::ConnectionLeak,
        level: Level::Code,
        family: "resources",
        description: "A code change forgets to return connections to its pool.",
        signature: "pool in-use climbs to the maximum, then `timeout acquiring connection` errors in the target and timeouts in its callers",
        params: &[p("leak_per_min", "conn/min", 1.0, 1000.0, 30.0, "connections leaked per minute")],
        vias: &[Deploy, Direct],
        target: HasDownstream,
        propagation: Upstream,
        signals: &["deploy", "metric:db_pool_connections_in_use", "log:timeout acquiring connection"],
    },
    FaultDef {
        kind: FaultKind::RetryStorm,
        level: Level::Code,
        family: "resources",
        description: "A code change retries failed downstream calls at once and without limit.",
        signature: "request rate into the target's dependencies multiplies, they saturate, and the overload looks like theirs",
        params: &[p("multiplier", "x", 2.0, 20.0, 5.0, "how many calls each downstream request becomes")],
        vias: &[Deploy, Config],
        target: HasDownstream,
        propagation: UpstreamAndDownstream,
        signals: &["deploy", "metric:http_client_requests_total", "log:retrying"],
    },
    FaultDef {
        kind: FaultKind::CacheBypass,
        level: Level::Code,
        family: "resources",
        description: "A code change skips the cache, sending every read to the database.",
        signature: "cache hit ratio and cache traffic fall, database load and latency rise, the target slows",
        params: &[p("bypass_pct", "%", 1.0, 100.0, 100.0, "share of reads that skip the cache")],
        vias: &[Deploy, Config],
        target: CallsCache,
        propagation: UpstreamAndDownstream,
        signals: &["deploy", "metric:cache_hit_ratio", "metric:db_queries_total"],
    },
    FaultDef {
        kind: FaultKind::HotLoop,
        level: Level::Code,
        family: "cpu",
        description: "A code change puts a busy loop on a hot path.",
        signature: "the service's own process CPU jumps right after a deploy, latency rises with load, profiles point at one function",
        params: &[p("cpu_cores", "cores", 0.1, 8.0, 1.0, "CPU the loop burns")],
        vias: &[Deploy],
        target: AnyService,
        propagation: Upstream,
        signals: &["deploy", "metric:process_cpu_seconds_total", "metric:http_request_duration_seconds"],
    },
    FaultDef {
        kind: FaultKind::PanicCrash,
        level: Level::Code,
        family: "errors",
        description: "A code change panics on some inputs and takes the process down.",
        signature: "`panicked at` lines with a backtrace, exit code 101, restarts, dropped requests while the process is down",
        params: &[p("panic_pct", "%", 0.01, 100.0, 1.0, "share of requests that panic")],
        vias: &[Deploy],
        target: AnyService,
        propagation: Upstream,
        signals: &["deploy", "log:panicked at", "event:BackOff"],
    },
    FaultDef {
        kind: FaultKind::SlowQuery,
        level: Level::Code,
        family: "latency",
        description: "A code change issues a query the database cannot serve from an index.",
        signature: "slow-query log entries on the database naming the target's query, database CPU up, the target's latency up",
        params: &[p("query_ms", "ms", 10.0, 30000.0, 800.0, "time the query takes")],
        vias: &[Deploy],
        target: CallsDatabase,
        propagation: UpstreamAndDownstream,
        signals: &["deploy", "log:slow query", "metric:db_query_duration_seconds"],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_order_matches_kinds() {
        assert_eq!(CATALOG.len(), FaultKind::ALL.len());
        for (i, kind) in FaultKind::ALL.iter().enumerate() {
            assert_eq!(CATALOG[i].kind, *kind, "CATALOG[{i}] is out of order");
            assert_eq!(CATALOG[i].level, kind.level());
            assert!(kind.as_str().starts_with(kind.level().as_str()));
        }
    }

    #[test]
    fn every_param_default_is_in_range() {
        for def in &CATALOG {
            assert!(!def.vias.is_empty(), "{} has no via", def.kind);
            assert!(!def.signals.is_empty(), "{} has no signals", def.kind);
            for p in def.params {
                assert!(
                    p.min <= p.default && p.default <= p.max,
                    "{}.{}",
                    def.kind,
                    p.name
                );
            }
        }
    }

    #[test]
    fn every_level_has_at_least_eight_kinds() {
        for level in Level::ALL {
            let n = FaultKind::ALL.iter().filter(|k| k.level() == level).count();
            assert!(n >= 8, "{level} has {n}");
        }
    }

    #[test]
    fn short_and_full_names_parse() {
        assert_eq!(FaultKind::parse("memory_leak"), Some(FaultKind::MemoryLeak));
        assert_eq!(
            FaultKind::parse("code.memory_leak"),
            Some(FaultKind::MemoryLeak)
        );
        assert_eq!(FaultKind::parse("memory"), None);
    }

    #[test]
    fn typo_gets_a_suggestion() {
        let err = "code.memory_leek".parse::<FaultKind>().unwrap_err();
        assert_eq!(err.suggestion.as_deref(), Some("code.memory_leak"));
        let err = "memory_leek".parse::<FaultKind>().unwrap_err();
        assert_eq!(err.suggestion.as_deref(), Some("code.memory_leak"));
        let err = "zzzzzzzz".parse::<FaultKind>().unwrap_err();
        assert_eq!(err.suggestion, None);
    }
}
