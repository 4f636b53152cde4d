//! What each service is like when healthy: derived once per episode from the topology
//! and the load, with per-service variation drawn from the seed.

use otrashi_scenarios::model::{Runtime, ServiceKind, Topology};
use otrashi_scenarios::rng::Rng;

/// The static description of one service.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub name: String,
    pub kind: ServiceKind,
    pub runtime: Runtime,
    /// Callees, by index, in call order.
    pub calls: Vec<usize>,
    pub replicas: usize,
    pub cores: f64,
    pub mem_mb: f64,
    /// Median own work per request, ms.
    pub own_ms: f64,
    pub own_sigma: f64,
    /// `lognormal_factors(own_sigma)`.
    pub own_k: (f64, f64),
    /// Multipliers `exp(own_sigma * z)` over the normal table, for span durations.
    pub own_mult: Vec<f64>,
    /// CPU seconds per request (per core).
    pub cpu_per_req: f64,
    /// Healthy utilization at the baseline load, the zero point of the queueing factor.
    pub rho0: f64,
    pub base_rss_mb: f64,
    pub pool_size: f64,
    /// Client-side timeout for calls this service makes, ms.
    pub timeout_ms: f64,
    /// Seconds from container start to serving.
    pub boot_s: u32,
    /// Response size, KB.
    pub resp_kb: f64,
    pub fs_cap_bytes: f64,
    pub fs_base_frac: f64,
    /// Share of requests that write to the local volume.
    pub write_frac: f64,
    /// Share of reads served from cache, for services that call a cache.
    pub hit_ratio: f64,
    /// Baseline requests per second, from the pre-pass.
    pub base_rps: f64,
    /// Requests a self-driven service (a queue consumer nobody calls) makes on its own.
    pub self_rps: f64,
    /// Index of the cache it calls, if any.
    pub cache: Option<usize>,
    /// Index of the database it calls, if any.
    pub db: Option<usize>,
    /// Replica-set hash and pod suffixes (`cart-7d9f8b6c4-x2k8p`).
    pub rs_hash: String,
    pub pods: Vec<String>,
    pub version: (u32, u32, u32),
    /// The HTTP route (or verb for datastores) it serves.
    pub route: String,
    /// The table a database call from this service touches.
    pub table: String,
    pub ip: String,
    /// The replica set and version before the last deploy, for a rollback.
    pub previous: Option<(String, (u32, u32, u32))>,
    /// The replica set of a rollout that never became ready.
    pub pending_rs: Option<String>,
}

const HEX: &[u8] = b"0123456789abcdef";
pub(crate) const POD_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `n` random characters from `alphabet`.
pub(crate) fn random_chars(rng: &mut Rng, alphabet: &[u8], n: usize) -> String {
    (0..n)
        .map(|_| char::from(alphabet[rng.below(alphabet.len())]))
        .collect()
}

/// `n` random lowercase hex digits.
pub(crate) fn hex(rng: &mut Rng, n: usize) -> String {
    random_chars(rng, HEX, n)
}

fn route(name: &str, kind: ServiceKind) -> String {
    match kind {
        ServiceKind::Web => "/".to_owned(),
        ServiceKind::Api => format!("/api/{name}"),
        ServiceKind::Worker => format!("/jobs/{name}"),
        ServiceKind::Cache => "GET".to_owned(),
        ServiceKind::Database => "SELECT".to_owned(),
        ServiceKind::Queue => "PUBLISH".to_owned(),
    }
}

fn table(name: &str) -> String {
    let base: String = name
        .chars()
        .map(|c| if c == '-' { '_' } else { c })
        .collect();
    if base.ends_with('s') {
        base
    } else {
        format!("{base}_items")
    }
}

/// Builds the profiles. `order` is the topology's call order (callers first).
pub(crate) fn build(topology: &Topology, order: &[usize], rps: f64, rng: &Rng) -> Vec<Profile> {
    let n = topology.services.len();
    let index = |name: &str| topology.index_of(name);
    let mut profiles: Vec<Profile> = Vec::with_capacity(n);
    for s in &topology.services {
        let mut r = rng.fork(&format!("profile/{}", s.name));
        let calls: Vec<usize> = s.calls.iter().filter_map(|c| index(c)).collect();
        let find = |kind| {
            calls
                .iter()
                .copied()
                .find(|c| topology.services[*c].kind == kind)
        };
        let (cache, db) = (find(ServiceKind::Cache), find(ServiceKind::Database));
        let boot_s = match s.runtime {
            Runtime::Java => 22,
            Runtime::Go => 3,
            Runtime::Rust => 2,
            Runtime::Python => 6,
            Runtime::Node => 4,
            Runtime::Native => 5,
        };
        let replicas = s.replicas.max(1) as usize;
        let rs_hash = random_chars(&mut r, POD_CHARS, 10);
        let pods = (0..replicas)
            .map(|_| random_chars(&mut r, POD_CHARS, 5))
            .collect();
        let (write_frac, fs_gb) = match s.kind {
            ServiceKind::Database => (0.3, 50.0),
            ServiceKind::Queue => (0.8, 20.0),
            ServiceKind::Cache => (0.05, 5.0),
            _ => (0.25, 10.0),
        };
        profiles.push(Profile {
            name: s.name.clone(),
            kind: s.kind,
            runtime: s.runtime,
            calls,
            replicas,
            cores: s.cpu_cores.max(0.05),
            mem_mb: s.memory_mb.max(16.0),
            own_ms: s.latency_ms.max(0.2),
            own_sigma: 0.0,
            own_k: (1.0, 0.0),
            own_mult: Vec::new(),
            cpu_per_req: 0.0,
            rho0: r.uniform(0.12, 0.3),
            base_rss_mb: s.memory_mb.max(16.0) * r.uniform(0.35, 0.55),
            pool_size: f64::from(s.pool_size.max(1)),
            timeout_ms: 0.0,
            boot_s,
            resp_kb: match s.kind {
                ServiceKind::Web => r.uniform(20.0, 60.0),
                ServiceKind::Database => r.uniform(2.0, 12.0),
                ServiceKind::Cache => r.uniform(0.5, 4.0),
                _ => r.uniform(2.0, 16.0),
            },
            fs_cap_bytes: fs_gb * 1e9,
            fs_base_frac: r.uniform(0.3, 0.6),
            write_frac,
            hit_ratio: r.uniform(0.85, 0.95),
            base_rps: 0.0,
            self_rps: 0.0,
            cache,
            db,
            rs_hash,
            pods,
            version: (1, r.below(20) as u32, r.below(10) as u32),
            route: route(&s.name, s.kind),
            table: table(&s.name),
            ip: format!(
                "10.{}.{}.{}",
                1 + r.below(3),
                r.below(250),
                2 + r.below(250)
            ),
            previous: None,
            pending_rs: None,
        });
    }

    // Depth from the entry decides client timeouts: outer services wait longer than
    // inner ones, as well-run systems configure them.
    let mut depth = vec![0usize; n];
    for &i in order {
        for &c in &profiles[i].calls {
            depth[c] = depth[c].max(depth[i] + 1);
        }
    }
    let entry = topology.index_of(&topology.entry);
    // Baseline demand pre-pass, with the same fan-out rules as the engine.
    let mut demand = vec![0.0f64; n];
    for &i in order {
        if Some(i) == entry {
            demand[i] += rps;
        } else if demand[i] == 0.0 && profiles[i].kind.runs_own_code() {
            // Nobody calls it: a consumer driven by its own queue or schedule.
            profiles[i].self_rps = (rps * 0.2).max(1.0);
            demand[i] = profiles[i].self_rps;
        }
        let p = &profiles[i];
        for &c in &p.calls {
            demand[c] += demand[i] * fanout(p, c, 0.0);
        }
    }
    let table = super::dist::normal_table::<64>();
    let mut r = rng.fork("shapes");
    for (i, p) in profiles.iter_mut().enumerate() {
        p.own_sigma = r.uniform(0.25, 0.45);
        p.own_k = super::dist::lognormal_factors(p.own_sigma);
        p.own_mult = table.iter().map(|z| libm::exp(p.own_sigma * z)).collect();
        p.timeout_ms = match depth[i] {
            0 => 5000.0,
            1 => 3000.0,
            _ => 2000.0,
        };
        p.base_rps = demand[i].max(0.1);
        let capacity = p.replicas as f64 * p.cores;
        // CPU per request that gives the drawn healthy utilization, but never more CPU
        // than the request's own wall time.
        p.cpu_per_req = (p.rho0 * capacity / p.base_rps).min(p.own_ms / 1000.0 * 0.8);
        p.rho0 = p.cpu_per_req * p.base_rps / capacity;
    }
    profiles
}

/// Calls to `callee` per request of `p`: reads go to the cache first and to the
/// database only on a miss. `bypass` is the share of reads that skip the cache.
pub(crate) fn fanout(p: &Profile, callee: usize, bypass: f64) -> f64 {
    let hit = p.hit_ratio * (1.0 - bypass);
    if Some(callee) == p.cache {
        1.0 - bypass
    } else if Some(callee) == p.db && p.cache.is_some() {
        1.0 - hit
    } else {
        1.0
    }
}

impl Profile {
    /// The pod name of replica `k`.
    pub fn pod(&self, k: usize) -> String {
        let suffix = self.pods.get(k).map_or("0", String::as_str);
        format!("{}-{}-{}", self.name, self.rs_hash, suffix)
    }

    /// The current version string.
    pub fn version_string(&self) -> String {
        let (a, b, c) = self.version;
        format!("v{a}.{b}.{c}")
    }
}
