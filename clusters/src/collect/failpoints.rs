//! Code faults as the workload's failpoints: the same mapping on every real backend.

use otrashi_scenarios::catalog::FaultKind;
use otrashi_scenarios::incident::ConcreteFault;

/// The workload failpoint that plays a code fault, and its actions, at the wall-clock
/// request rate `rps` and timeline factor `factor` (rates per scenario minute become
/// amounts per request); `None` for a kind that is not a failpoint.
pub fn failpoint(f: &ConcreteFault, rps: f64, factor: f64) -> Option<(&'static str, String)> {
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
