//! The scenario model: what a valid scenario file means, after parsing and validation.
//!
//! Values that may be randomized are [`Sampled`] (a number or a distribution) and
//! [`Target`] (a service or a choice of services); [`crate::sample`] turns them into a
//! concrete [`crate::Incident`].

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::catalog::{FaultKind, Via};
use crate::duration::Duration;

/// The only scenario format version this build reads.
pub const API_VERSION: &str = "otrashi/v1";

/// A parsed and validated scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Always [`API_VERSION`].
    pub api_version: String,
    /// Name, description and tags.
    pub metadata: Metadata,
    /// Where the topology came from.
    pub topology_source: TopologySource,
    /// The resolved service graph.
    pub topology: Topology,
    /// The traffic the load generator drives into the entry service.
    pub load: Load,
    /// Warm-up and incident window.
    pub timeline: Timeline,
    /// The faults to inject; at least one.
    pub faults: Vec<FaultSpec>,
    /// Background noise and red herrings.
    pub noise: Noise,
    /// What the agent is told.
    pub alert: AlertSpec,
}

/// Scenario metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// A short, unique, kebab-case name (`cart-memory-leak`).
    pub name: String,
    /// One paragraph for people browsing the library.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Free-form tags (`code`, `memory`, `red-herring`).
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Where a scenario's topology came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TopologySource {
    /// A topology bundled with otrashi, by name (`shop`).
    Bundled(String),
    /// A service graph written in the scenario file.
    Inline,
}

/// The role a service plays. It decides its default resources, latency and log
/// vocabulary, and which faults make sense on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// A user-facing web front end or gateway.
    Web,
    /// A backend API service.
    Api,
    /// A background worker consuming a queue.
    Worker,
    /// An in-memory cache (Redis, memcached).
    Cache,
    /// A database (PostgreSQL, MySQL).
    Database,
    /// A message queue (Kafka, RabbitMQ).
    Queue,
}

impl ServiceKind {
    /// Every kind.
    pub const ALL: [ServiceKind; 6] = [
        ServiceKind::Web,
        ServiceKind::Api,
        ServiceKind::Worker,
        ServiceKind::Cache,
        ServiceKind::Database,
        ServiceKind::Queue,
    ];

    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Web => "web",
            ServiceKind::Api => "api",
            ServiceKind::Worker => "worker",
            ServiceKind::Cache => "cache",
            ServiceKind::Database => "database",
            ServiceKind::Queue => "queue",
        }
    }

    /// Whether services of this kind run the workload's own code (and so can carry
    /// code-level faults and have deploys), as opposed to an off-the-shelf datastore.
    pub fn runs_own_code(self) -> bool {
        matches!(
            self,
            ServiceKind::Web | ServiceKind::Api | ServiceKind::Worker
        )
    }
}

/// The language runtime a service is written in; it shapes its log lines, stack traces
/// and runtime metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Runtime {
    /// Go.
    Go,
    /// Java on the JVM.
    Java,
    /// Python.
    Python,
    /// Node.js.
    Node,
    /// Rust.
    Rust,
    /// An off-the-shelf server (the datastores).
    Native,
}

impl Runtime {
    /// Every runtime.
    pub const ALL: [Runtime; 6] = [
        Runtime::Go,
        Runtime::Java,
        Runtime::Python,
        Runtime::Node,
        Runtime::Rust,
        Runtime::Native,
    ];

    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Go => "go",
            Runtime::Java => "java",
            Runtime::Python => "python",
            Runtime::Node => "node",
            Runtime::Rust => "rust",
            Runtime::Native => "native",
        }
    }
}

/// The off-the-shelf server that plays a datastore service on container backends
/// (`engine: redis`). The simulator models the service from its kind either way; the
/// container backends run the real server instead of the workload binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// Redis (from the host's `redis-server` package), spoken to over RESP.
    Redis,
}

impl Engine {
    /// Every engine.
    pub const ALL: [Engine; 1] = [Engine::Redis];

    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Redis => "redis",
        }
    }

    /// Whether a service of `kind` may be played by this engine.
    pub fn fits(self, kind: ServiceKind) -> bool {
        match self {
            Engine::Redis => matches!(kind, ServiceKind::Cache | ServiceKind::Database),
        }
    }
}

/// One service of a topology.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Its name: lowercase letters, digits and `-` (no `_`, so that exported column
    /// names `<service>_<metric>` stay unambiguous).
    pub name: String,
    /// Its role.
    pub kind: ServiceKind,
    /// Its language runtime.
    pub runtime: Runtime,
    /// The services it calls on every request, in call order.
    pub calls: Vec<String>,
    /// How many replicas run.
    pub replicas: u32,
    /// CPU limit per replica, in cores.
    pub cpu_cores: f64,
    /// Memory limit per replica, in MB.
    pub memory_mb: f64,
    /// Median time the service spends on a request itself, in ms, excluding calls.
    pub latency_ms: f64,
    /// Size of its outbound connection pool per replica.
    pub pool_size: u32,
    /// The real server that plays it on container backends (`None`: the workload
    /// binary plays it, as on the simulator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<Engine>,
}

/// A service graph with an entry point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Its name (`shop`, or the scenario's name for inline graphs).
    pub name: String,
    /// One paragraph on what system it models.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The service the load generator calls.
    pub entry: String,
    /// The services.
    pub services: Vec<Service>,
}

impl Topology {
    /// The service named `name`.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The position of the service named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s.name == name)
    }

    /// Service names, in declaration order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(|s| s.name.as_str())
    }

    /// The services that call `name` directly.
    pub fn callers_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Service> + 'a {
        self.services
            .iter()
            .filter(move |s| s.calls.iter().any(|c| c == name))
    }

    /// Every service that reaches `name` through calls (its transitive callers), in
    /// breadth-first order, without `name` itself.
    pub fn upstream_of(&self, name: &str) -> Vec<String> {
        self.walk(name, |t, n| {
            t.callers_of(n).map(|s| s.name.clone()).collect()
        })
    }

    /// Every service that `name` reaches through calls, breadth-first, without `name`.
    pub fn downstream_of(&self, name: &str) -> Vec<String> {
        self.walk(name, |t, n| {
            t.service(n).map(|s| s.calls.clone()).unwrap_or_default()
        })
    }

    fn walk(&self, start: &str, next: impl Fn(&Self, &str) -> Vec<String>) -> Vec<String> {
        let mut seen: Vec<String> = vec![start.to_owned()];
        let mut queue: VecDeque<String> = VecDeque::from([start.to_owned()]);
        while let Some(n) = queue.pop_front() {
            for m in next(self, &n) {
                if !seen.contains(&m) {
                    seen.push(m.clone());
                    queue.push_back(m);
                }
            }
        }
        seen.remove(0);
        seen
    }

    /// Hops between two services in the call graph, ignoring direction; `None` when
    /// either is unknown or they are not connected. Used for partial localization credit.
    pub fn distance(&self, a: &str, b: &str) -> Option<usize> {
        let start = self.index_of(a)?;
        let goal = self.index_of(b)?;
        let n = self.services.len();
        let mut dist = vec![usize::MAX; n];
        dist[start] = 0;
        let mut queue = VecDeque::from([start]);
        while let Some(i) = queue.pop_front() {
            if i == goal {
                return Some(dist[i]);
            }
            let name = &self.services[i].name;
            let neighbours = self.services[i]
                .calls
                .iter()
                .filter_map(|c| self.index_of(c))
                .chain(self.callers_of(name).filter_map(|s| self.index_of(&s.name)))
                .collect::<Vec<_>>();
            for j in neighbours {
                if dist[j] == usize::MAX {
                    dist[j] = dist[i] + 1;
                    queue.push_back(j);
                }
            }
        }
        None
    }

    /// Services ordered so that every service comes after all services that call it
    /// (entry first, datastores last). `None` if the graph has a cycle.
    pub fn call_order(&self) -> Option<Vec<usize>> {
        let n = self.services.len();
        let mut indegree = vec![0usize; n];
        for s in &self.services {
            for c in &s.calls {
                if let Some(j) = self.index_of(c) {
                    indegree[j] += 1;
                }
            }
        }
        let mut queue: VecDeque<usize> = (0..n).filter(|i| indegree[*i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = queue.pop_front() {
            order.push(i);
            for c in &self.services[i].calls {
                if let Some(j) = self.index_of(c) {
                    indegree[j] -= 1;
                    if indegree[j] == 0 {
                        queue.push_back(j);
                    }
                }
            }
        }
        (order.len() == n).then_some(order)
    }
}

/// The shape of the traffic over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadPattern {
    /// A constant rate with small jitter.
    Steady,
    /// A slow sine wave (a compressed day), ±30 %.
    Diurnal,
    /// The base rate with short bursts of 2–3×.
    Bursty,
    /// A linear ramp from half the rate to the full rate.
    Ramp,
}

impl LoadPattern {
    /// Every pattern.
    pub const ALL: [LoadPattern; 4] = [
        LoadPattern::Steady,
        LoadPattern::Diurnal,
        LoadPattern::Bursty,
        LoadPattern::Ramp,
    ];

    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadPattern::Steady => "steady",
            LoadPattern::Diurnal => "diurnal",
            LoadPattern::Bursty => "bursty",
            LoadPattern::Ramp => "ramp",
        }
    }
}

/// The traffic driven into the entry service.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// Requests per second (mean).
    pub rps: f64,
    /// Shape over time.
    pub pattern: LoadPattern,
}

/// The episode's time window: warm-up, then the incident window. Fault start times count
/// from the start of the warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeline {
    /// Time before any fault may start, so that telemetry has a healthy baseline.
    pub warmup: Duration,
    /// Length of the incident window after the warm-up.
    pub duration: Duration,
}

impl Timeline {
    /// The end of the episode: warm-up plus duration.
    pub fn end(&self) -> Duration {
        self.warmup.saturating_add(self.duration)
    }
}

/// A probability distribution over numbers. For times, values are in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// Uniform on `[low, high]`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Normal with the given mean and standard deviation.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation, > 0.
        std_dev: f64,
    },
    /// `exp(N(mu, sigma))`.
    Lognormal {
        /// Mean of the underlying normal.
        mu: f64,
        /// Standard deviation of the underlying normal, > 0.
        sigma: f64,
    },
    /// Exponential with the given rate (mean `1 / rate`).
    Exponential {
        /// Rate, > 0.
        rate: f64,
    },
    /// One of the listed values, each equally likely.
    Choice {
        /// The values; at least one.
        values: Vec<f64>,
    },
}

/// A number that is either fixed or drawn from a distribution when the scenario is
/// sampled. Sampled values are clamped into the field's allowed range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sampled {
    /// Always this value.
    Fixed(f64),
    /// Drawn from this distribution.
    Random(Distribution),
}

/// Which service a fault or red herring hits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// This service.
    Service(String),
    /// One of these services, chosen by the seed.
    AnyOf(Vec<String>),
    /// Any service that meets the fault's target requirement, chosen by the seed.
    Any,
}

/// One fault to inject, possibly with randomized fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Unique within the scenario (`leak`).
    pub id: String,
    /// What to inject.
    pub kind: FaultKind,
    /// Where.
    pub target: Target,
    /// When, in seconds from the start of the warm-up.
    pub at: Sampled,
    /// How long, in seconds; `None` means until the end of the episode.
    pub duration: Option<Sampled>,
    /// Parameters by name; missing ones take the catalog default.
    pub params: BTreeMap<String, Sampled>,
    /// How it arrives; `None` means the catalog default for the kind.
    pub via: Option<Via>,
}

/// How much background noise the telemetry carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NoiseLevel {
    /// Little jitter, few benign warnings.
    Low,
    /// Realistic jitter, benign warnings and periodic jobs.
    #[default]
    Normal,
    /// Noisy: more jitter, more benign errors.
    High,
}

/// A distraction that is not the cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedHerringKind {
    /// A harmless deploy of another service near the fault time, with a plausible diff.
    UnrelatedDeploy,
    /// A CPU-hungry neighbour on another service's host: a CPU bump without harm.
    NoisyNeighbour,
    /// An alert on another service that fires and clears repeatedly.
    FlappingAlert,
    /// A burst of benign but scary-looking errors (a client sending bad requests).
    BenignErrors,
}

impl RedHerringKind {
    /// Every kind.
    pub const ALL: [RedHerringKind; 4] = [
        RedHerringKind::UnrelatedDeploy,
        RedHerringKind::NoisyNeighbour,
        RedHerringKind::FlappingAlert,
        RedHerringKind::BenignErrors,
    ];

    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            RedHerringKind::UnrelatedDeploy => "unrelated_deploy",
            RedHerringKind::NoisyNeighbour => "noisy_neighbour",
            RedHerringKind::FlappingAlert => "flapping_alert",
            RedHerringKind::BenignErrors => "benign_errors",
        }
    }
}

/// One red herring, possibly with randomized target and time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedHerringSpec {
    /// What kind of distraction.
    pub kind: RedHerringKind,
    /// Where; `Any` picks a service that is not a fault target.
    pub target: Target,
    /// When, in seconds from the start of the warm-up.
    pub at: Sampled,
}

/// Background noise and red herrings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Noise {
    /// Overall noise level.
    pub level: NoiseLevel,
    /// Distractions to add.
    pub red_herrings: Vec<RedHerringSpec>,
}

/// What the agent is told when the episode starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AlertSpec {
    /// The first SLO breach the backend observes (latency or errors), preferring the
    /// entry service, as a real pager would.
    #[default]
    Auto,
    /// A fixed alert on a service.
    Fixed {
        /// The service the alert names.
        service: String,
        /// The alert's text.
        summary: String,
    },
}
