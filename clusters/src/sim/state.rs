//! The simulator's mutable state: pods, per-tick modifiers set by faults and noise,
//! per-tick results, and the accumulators the scrapes read.

use super::dist::{Mix, Moments};

/// One replica.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Pod {
    /// The pod serves from this tick on (boot and back-off included).
    pub down_until: u32,
    /// The container started at this tick (the process's age).
    pub started: u32,
    /// Crashes in the current back-off streak.
    pub streak: u32,
    /// Tick of the last crash.
    pub last_crash: u32,
    /// A scheduled exit (crash loop), 0 for none.
    pub exit_at: u32,
    /// Memory held by a leak, MB.
    pub leak_mb: f64,
    /// Connections taken from the pool and never returned.
    pub leaked_conns: f64,
    /// Relative leak speed of this replica (traffic is never split perfectly).
    pub leak_speed: f64,
}

impl Pod {
    /// Whether the pod is serving at tick `t`.
    pub fn up(&self, t: u32) -> bool {
        t >= self.down_until
    }
}

/// Which code path a service's own errors come from; picks its log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum OwnError {
    /// No own errors.
    #[default]
    None,
    /// An exception on one code path (a bad deploy).
    Exception,
    /// A broken setting in the environment.
    BadConfig,
    /// A panic that takes the process down.
    Panic,
}

/// What faults and noise do to a service during one tick. Reset every tick.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mods {
    /// Extra own work per request (slow handler, disk waits, GC pauses), ms.
    pub extra: Moments,
    /// Share of requests failing in the service's own code.
    pub own_err: f64,
    pub own_err_kind: OwnError,
    /// CPU limit override, cores (0: the profile's).
    pub cpu_limit: f64,
    /// Share of the CPU allowance a stray process takes.
    pub stray: f64,
    /// Cores the app's own busy loop burns.
    pub hot_loop: f64,
    /// Share of the capacity that is serving.
    pub capacity: f64,
    /// Memory limit override, MB (0: the profile's).
    pub mem_limit: f64,
    /// Share of the memory limit taken by another tenant.
    pub mem_fill: f64,
    /// Memory leak, MB per second per replica.
    pub leak_mb_s: f64,
    /// Connections leaked per second per replica.
    pub conn_leak_s: f64,
    /// One-way network delay into the service, ms, and its jitter.
    pub net_delay: f64,
    pub net_jitter: f64,
    /// Packet loss on the service's link.
    pub loss: f64,
    /// Bandwidth cap, kbit/s (0: none).
    pub bw_kbit: f64,
    /// Share of name lookups for the service that fail.
    pub dns_fail: f64,
    pub partition: bool,
    pub misroute: bool,
    pub removed: bool,
    pub scaled_zero: bool,
    pub frozen: bool,
    /// Calls per downstream request (a retry storm multiplies them).
    pub call_mult: f64,
    /// Share of reads skipping the cache.
    pub bypass: f64,
    /// Time the service's database query takes, ms (0: normal).
    pub slow_query: f64,
    /// How full the volume is (0: normal).
    pub disk_fill: f64,
    /// Extra latency per disk operation, ms.
    pub disk_lat: f64,
    /// The container exits right after it starts.
    pub crash_loop: bool,
    /// Initial back-off for crash loops, s.
    pub backoff_s: f64,
    /// A liveness probe kills each replica every this many seconds (0: never).
    pub liveness_period: u32,
    /// Share of requests that panic.
    pub panic_frac: f64,
    /// A stuck rollout.
    pub stuck_rollout: bool,
    /// A periodic job's or a neighbour's CPU, cores (no effect on latency).
    pub cpu_bump: f64,
    /// Extra CPU per database query (slow scans), core-seconds per second.
    pub db_scan_cpu: f64,
    /// Benign client errors (4xx) as a share of requests.
    pub client_err: f64,
    /// The replica whose pod is deleted this tick (`pod_kill`).
    pub kill_pod: Option<usize>,
}

impl Default for Mods {
    fn default() -> Self {
        Mods {
            extra: Moments::default(),
            own_err: 0.0,
            own_err_kind: OwnError::None,
            cpu_limit: 0.0,
            stray: 0.0,
            hot_loop: 0.0,
            capacity: 1.0,
            mem_limit: 0.0,
            mem_fill: 0.0,
            leak_mb_s: 0.0,
            conn_leak_s: 0.0,
            net_delay: 0.0,
            net_jitter: 0.0,
            loss: 0.0,
            bw_kbit: 0.0,
            dns_fail: 0.0,
            partition: false,
            misroute: false,
            removed: false,
            scaled_zero: false,
            frozen: false,
            call_mult: 1.0,
            bypass: 0.0,
            slow_query: 0.0,
            disk_fill: 0.0,
            disk_lat: 0.0,
            crash_loop: false,
            backoff_s: 10.0,
            liveness_period: 0,
            panic_frac: 0.0,
            stuck_rollout: false,
            cpu_bump: 0.0,
            db_scan_cpu: 0.0,
            client_err: 0.0,
            kill_pod: None,
        }
    }
}

/// How callers can reach a service this tick, before it does any work.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Gate {
    pub refused: f64,
    pub dns: f64,
    pub conn_timeout: f64,
}

impl Gate {
    /// Share of calls that reach the service.
    pub fn reach(&self) -> f64 {
        (1.0 - self.refused - self.dns - self.conn_timeout).max(0.0)
    }
}

/// How a service answers the requests that reach it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Resp {
    /// Never answered (frozen, queue overflow): the caller times out.
    pub hang: f64,
    /// 5xx at once (includes `dropped`).
    pub fast_fail: f64,
    /// Of `fast_fail`: requests in flight on a pod that was killed; callers see the
    /// connection reset rather than an answer.
    pub dropped: f64,
    pub fast_ms: f64,
    /// 5xx after waiting (its own downstream timeouts, pool waits).
    pub slow_fail: f64,
    pub slow_ms: f64,
    /// Share of normally-timed answers that are 5xx.
    pub body_err: f64,
    /// Latency of normally-timed answers.
    pub body: Moments,
}

/// The results of one service in one tick.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Tick {
    /// Requests per second arriving (reaching the process).
    pub demand: f64,
    /// Pods serving.
    pub up_pods: usize,
    /// CPU utilization of the serving capacity.
    pub rho: f64,
    /// Latency factor from queueing.
    pub qfactor: f64,
    pub resp: Resp,
    /// Requests answered per second, and those answered 5xx / 4xx.
    pub completed: f64,
    pub err5: f64,
    pub err4: f64,
    /// Per-pod CPU: the app's process, and the container (app + anything else).
    pub cpu_proc: f64,
    pub cpu_container: f64,
    pub cpu_limit: f64,
    pub throttled: f64,
    pub rss_mb: f64,
    pub ws_mb: f64,
    pub mem_limit: f64,
    pub pool_in_use: f64,
    /// Share of requests that could not get a pool connection (applies next tick).
    pub pool_fail: f64,
    pub fs_bytes: f64,
    pub disk_busy: f64,
    pub net_tx: f64,
    pub retrans: f64,
    pub db_queries: f64,
    pub gc_pressure: f64,
    /// Share of requests lost because a pod died under them (applies next tick).
    pub dropped: f64,
}

/// One call edge in one tick, as the caller sees it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Edge {
    pub from: usize,
    pub to: usize,
    /// Whether a failure of the call fails the caller's request.
    pub critical: bool,
    /// Calls attempted per second.
    pub calls: f64,
    /// Shares of calls by outcome.
    pub ok: f64,
    pub refused: f64,
    pub dns: f64,
    pub conn_timeout: f64,
    pub read_timeout: f64,
    pub upstream_5xx: f64,
    /// The part of `upstream_5xx` answered only after the callee's own wait.
    pub slow_5xx: f64,
    /// Latency of those slow answers, ms.
    pub slow_5xx_ms: f64,
    pub reset: f64,
    /// Latency of answered calls, as the caller measures it.
    pub body: Moments,
    pub mix: Mix,
    /// The query this edge runs takes this long (slow query), ms.
    pub slow_query: f64,
}

impl Edge {
    /// Share of calls that failed.
    pub fn failed(&self) -> f64 {
        (1.0 - self.ok).clamp(0.0, 1.0)
    }

    /// Share of calls that timed out.
    pub fn timeouts(&self) -> f64 {
        self.conn_timeout + self.read_timeout
    }
}

/// Counters and window sums a scrape reads.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Acc {
    pub req2: f64,
    pub req4: f64,
    pub req5: f64,
    pub cpu_s: f64,
    pub proc_cpu_s: f64,
    pub throttled: f64,
    pub disk_io_s: f64,
    pub net_tx: f64,
    pub retrans: f64,
    pub db_queries: f64,
    pub restarts: f64,
    /// Window sums for latency quantiles, weighted by answered requests.
    pub w: f64,
    pub w_fast: f64,
    pub w_fast_ms: f64,
    pub w_slow: f64,
    pub w_slow_ms: f64,
    pub w_mean: f64,
    pub w_m2: f64,
    /// Window sums for the error ratio the alert rules read.
    pub w_req: f64,
    pub w_err: f64,
    /// Window sums for database query latency.
    pub w_db: f64,
    pub w_db_mean: f64,
    pub w_db_m2: f64,
}

/// Counters and window sums of one edge.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EdgeAcc {
    pub ok: f64,
    pub error: f64,
    pub timeout: f64,
    pub w: f64,
    pub w_fast: f64,
    pub w_slow: f64,
    pub w_slow_ms: f64,
    pub w_mean: f64,
    pub w_m2: f64,
}
