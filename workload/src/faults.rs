//! Code-level faults as failpoints (the `fail` crate). They are "shipped" with a deploy
//! through `OTRASHI_FAILPOINTS` (fail's `FAILPOINTS` syntax, `;`-separated), or switched
//! at runtime through `POST /admin/failpoints`. Each has a real effect on the process:
//!
//! | failpoint | fault kind | effect (`return(arg)` sets the number) |
//! |---|---|---|
//! | `handler_error` | code.error_injection | the request fails with 500 and an `Exception` log line |
//! | `handler_slow` | code.slow_handler | the handler sleeps `arg` ms (default 500) |
//! | `leak_memory` | code.memory_leak | `arg` bytes (default 1 MiB) per request are kept forever |
//! | `leak_connection` | code.connection_leak | each downstream connection used is never returned to its pool |
//! | `retry_storm` | code.retry_storm | each downstream call is sent `arg` times (default 5), no backoff |
//! | `cache_bypass` | code.cache_bypass | cache peers are skipped, reads go to the database |
//! | `hot_loop` | code.hot_loop | the handler burns `arg` ms of CPU (default 50) |
//! | `panic` | code.panic_crash | the handler panics; the process logs it and exits with 101 |
//! | `slow_query` | code.slow_query | queries to database peers ask for `arg` ms (default 800) |
//!
//! Use fail's `return` action (with a probability, e.g. `30%return`); its `sleep`/`delay`
//! actions block a runtime thread and are not what the fault kinds mean.

use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::log::{Level, Logger};

/// `code.error_injection`.
pub const HANDLER_ERROR: &str = "handler_error";
/// `code.slow_handler`.
pub const HANDLER_SLOW: &str = "handler_slow";
/// `code.memory_leak`.
pub const LEAK_MEMORY: &str = "leak_memory";
/// `code.connection_leak`.
pub const LEAK_CONNECTION: &str = "leak_connection";
/// `code.retry_storm`.
pub const RETRY_STORM: &str = "retry_storm";
/// `code.cache_bypass`.
pub const CACHE_BYPASS: &str = "cache_bypass";
/// `code.hot_loop`.
pub const HOT_LOOP: &str = "hot_loop";
/// `code.panic_crash`.
pub const PANIC: &str = "panic";
/// `code.slow_query`.
pub const SLOW_QUERY: &str = "slow_query";

/// `/healthz` waits on a slow dependency check (the Docker backend's flapping-alert
/// red herring; no fault kind).
pub const HEALTHZ_SLOW: &str = "healthz_slow";

/// Every failpoint the workload evaluates.
pub const ALL: [&str; 10] = [
    HANDLER_ERROR,
    HANDLER_SLOW,
    LEAK_MEMORY,
    LEAK_CONNECTION,
    RETRY_STORM,
    CACHE_BYPASS,
    HOT_LOOP,
    PANIC,
    SLOW_QUERY,
    HEALTHZ_SLOW,
];

/// A failpoint configuration that was refused.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// The name is not one of [`ALL`].
    #[error("unknown failpoint {0:?}; known: handler_error, handler_slow, leak_memory, leak_connection, retry_storm, cache_bypass, hot_loop, panic, slow_query")]
    UnknownName(String),
    /// An entry of the list is not `name=actions`.
    #[error("failpoint entry {0:?} is not name=actions")]
    Syntax(String),
    /// fail rejected the actions string.
    #[error("failpoint {name}: invalid actions {actions:?}: {reason}")]
    Actions {
        /// The failpoint.
        name: String,
        /// The actions given.
        actions: String,
        /// fail's parse error.
        reason: String,
    },
}

/// Sets one failpoint; `off` or an empty string removes it.
pub fn set(name: &str, actions: &str) -> Result<(), FaultError> {
    if !ALL.contains(&name) {
        return Err(FaultError::UnknownName(name.to_owned()));
    }
    let actions = actions.trim();
    if actions.is_empty() || actions == "off" {
        fail::remove(name);
        return Ok(());
    }
    fail::cfg(name, actions).map_err(|reason| FaultError::Actions {
        name: name.to_owned(),
        actions: actions.to_owned(),
        reason,
    })
}

/// Applies `name=actions;name=actions` (the `OTRASHI_FAILPOINTS` value) and returns the
/// pairs applied. Nothing is applied when any entry is invalid.
pub fn configure(spec: &str) -> Result<Vec<(String, String)>, FaultError> {
    let mut pairs = Vec::new();
    for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, actions) = entry
            .split_once('=')
            .ok_or_else(|| FaultError::Syntax(entry.to_owned()))?;
        let (name, actions) = (name.trim(), actions.trim());
        if !ALL.contains(&name) {
            return Err(FaultError::UnknownName(name.to_owned()));
        }
        pairs.push((name.to_owned(), actions.to_owned()));
    }
    for (name, actions) in &pairs {
        set(name, actions)?;
    }
    Ok(pairs)
}

/// The failpoints currently set, as `(name, actions)`.
pub fn active() -> Vec<(String, String)> {
    let mut list: Vec<_> = fail::list()
        .into_iter()
        .filter(|(name, _)| ALL.contains(&name.as_str()))
        .collect();
    list.sort();
    list
}

/// Whether `name` fires on this evaluation, and its `return(arg)` argument if any.
pub fn fires(name: &str) -> Option<Option<String>> {
    fail::eval(name, |arg| arg)
}

/// Whether `name` fires, with its numeric argument or `default`.
pub fn fires_with(name: &str, default: u64) -> Option<u64> {
    fires(name).map(|arg| arg.and_then(|a| a.trim().parse().ok()).unwrap_or(default))
}

/// A short id for a failpoint set, logged as the running "build" so a change shows up
/// in the logs the way a deploy does, without naming the failpoints. FNV-1a, 32 bits.
pub fn build_id(spec: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in spec.trim().bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{hash:08x}")
}

static LEAKED: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// The `leak_memory` bug: keeps `bytes` (touched, so they count in RSS) forever.
/// Returns the total leaked so far.
pub fn leak_memory(bytes: usize) -> usize {
    let mut leaked = LEAKED.lock().unwrap_or_else(PoisonError::into_inner);
    leaked.push(vec![0xA5; bytes]);
    leaked.iter().map(Vec::len).sum()
}

/// Does `d` worth of CPU work on the current thread, as CPU-bound code does: a fixed
/// amount of work (calibrated once), not a fixed wall time, so that when CPU is scarce
/// (saturation, a cgroup quota) the request takes longer, as real code would.
pub fn burn_cpu(d: Duration) {
    let iterations = (iterations_per_ms() as f64 * d.as_secs_f64() * 1000.0) as u64;
    spin(iterations);
}

fn spin(iterations: u64) {
    let mut x: u64 = 0x9E37_79B9;
    for _ in 0..iterations {
        x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
    }
}

/// The spin loop's speed, measured once: the best of a few 2 ms rounds, since a round
/// that lost the CPU to another process would underestimate it.
fn iterations_per_ms() -> u64 {
    static RATE: OnceLock<u64> = OnceLock::new();
    *RATE.get_or_init(|| {
        let mut best = 1;
        for _ in 0..8 {
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed() < Duration::from_millis(2) {
                spin(10_000);
                n += 10_000;
            }
            let micros = start.elapsed().as_micros().max(1) as u64;
            best = best.max(n * 1000 / micros);
        }
        best
    })
}

/// Makes any panic log a `panicked at` line and end the process with exit code 101
/// (what an uncaught panic does in a single-threaded program; here a panicking request
/// task would otherwise be swallowed by the runtime).
pub fn install_panic_hook(logger: Logger) {
    std::panic::set_hook(Box::new(move |info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_else(|| "<unknown>".to_owned());
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "Box<dyn Any>".to_owned());
        let thread = std::thread::current();
        let thread = thread.name().unwrap_or("<unnamed>");
        logger.log(
            Level::Fatal,
            &format!("thread '{thread}' panicked at {location}:\n{payload}"),
            None,
            json!({"exit_code": 101}),
        );
        std::process::exit(101);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    // fail's registry is process-wide: this is the only unit test that touches it.
    #[test]
    fn configure_set_and_remove() {
        assert!(matches!(
            configure("handler_error=return;nonsense=return"),
            Err(FaultError::UnknownName(n)) if n == "nonsense"
        ));
        assert!(
            fires(HANDLER_ERROR).is_none(),
            "an invalid list applies nothing"
        );
        assert!(matches!(
            configure("handler_error"),
            Err(FaultError::Syntax(_))
        ));
        assert!(matches!(
            set(HOT_LOOP, "bogus(("),
            Err(FaultError::Actions { .. })
        ));

        let applied = configure("handler_slow=return(250); leak_memory=100%return").unwrap();
        assert_eq!(applied.len(), 2);
        assert_eq!(fires_with(HANDLER_SLOW, 500), Some(250));
        assert_eq!(fires_with(LEAK_MEMORY, 7), Some(7));
        assert_eq!(active().len(), 2);
        set(HANDLER_SLOW, "off").unwrap();
        set(LEAK_MEMORY, "").unwrap();
        assert!(fires(HANDLER_SLOW).is_none());
        assert!(active().is_empty());
    }

    #[test]
    fn build_ids_differ_per_failpoint_set() {
        assert_eq!(build_id(""), build_id("  "));
        assert_ne!(build_id(""), build_id("handler_error=return"));
        assert_eq!(build_id("hot_loop=return(5)").len(), 8);
    }

    #[test]
    fn leaked_memory_accumulates() {
        let before = leak_memory(0);
        assert_eq!(leak_memory(4096), before + 4096);
    }

    #[test]
    fn burn_cpu_does_an_amount_of_work_proportional_to_the_time() {
        let rate = iterations_per_ms();
        assert!(rate > 1000, "{rate} iterations per ms");
        let start = Instant::now();
        burn_cpu(Duration::from_millis(20));
        // Calibration takes the fastest round, so the work takes at least about as long.
        assert!(
            start.elapsed() >= Duration::from_millis(10),
            "{:?}",
            start.elapsed()
        );
    }
}
