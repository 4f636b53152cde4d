//! The page that opens the investigation, from the scraped metrics with the
//! simulator's rules (`sim/alert.rs`): a 2% error SLO or a p99 SLO of twice the healthy
//! p99 (at least 300 ms), breached for 4 consecutive scrapes, on the entry first; an
//! entry that cannot be scraped for 6 scrapes is `EndpointDown`; nothing breached gives
//! a ticket with the closest signal.

use otrashi_gym::telemetry::{Alert, ServiceId};
use otrashi_scenarios::model::AlertSpec;

use super::store::Store;

const ERROR_SLO: f64 = 0.02;
const SUSTAIN: usize = 4;

/// `(error ratio, p99 ms)` of each scrape of a service; `NaN` when it was not scraped.
fn observations(store: &Store, svc: ServiceId, samples: usize) -> Vec<(f64, f64)> {
    let l = |c: &str| vec![("code".to_owned(), c.to_owned())];
    let total = |k: usize| -> f64 {
        ["2xx", "4xx", "5xx"]
            .iter()
            .map(|c| {
                store
                    .get(svc, "http_requests_total", &l(c), k)
                    .unwrap_or(f64::NAN)
            })
            .sum()
    };
    let q99 = vec![("quantile".to_owned(), "0.99".to_owned())];
    (0..samples)
        .map(|k| {
            let up = store.get(svc, "up", &[], k).unwrap_or(f64::NAN);
            if up != 1.0 || k == 0 {
                return (if up == 1.0 { 0.0 } else { f64::NAN }, f64::NAN);
            }
            let (t1, t0) = (total(k), total(k - 1));
            let e1 = store
                .get(svc, "http_requests_total", &l("5xx"), k)
                .unwrap_or(0.0);
            let e0 = store
                .get(svc, "http_requests_total", &l("5xx"), k - 1)
                .unwrap_or(0.0);
            let err = if t1.is_finite() && t0.is_finite() && t1 > t0 {
                ((e1 - e0).max(0.0) / (t1 - t0)).min(1.0)
            } else {
                0.0
            };
            let p99 = store
                .get(svc, "http_request_duration_seconds", &q99, k)
                .map_or(f64::NAN, |s| s * 1000.0);
            (err, p99)
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Breach {
    Errors(f64),
    Latency(f64, f64),
    Down,
}

/// The alert for an episode.
#[allow(clippy::too_many_arguments)]
pub fn alert(
    spec: &AlertSpec,
    store: &Store,
    services: &[String],
    entry: ServiceId,
    samples: usize,
    step_ms: u64,
    first_fault_ms: u64,
    end_ms: u64,
) -> Alert {
    if let AlertSpec::Fixed { service, summary } = spec {
        return Alert {
            t_ms: (first_fault_ms + 60_000).min(end_ms),
            name: "Page".to_owned(),
            service: service.clone(),
            severity: "page".to_owned(),
            summary: summary.clone(),
        };
    }
    let from = (first_fault_ms / step_ms) as usize;
    let obs: Vec<Vec<(f64, f64)>> = (0..services.len())
        .map(|i| observations(store, i as ServiceId, samples))
        .collect();
    let slo = |o: &[(f64, f64)]| {
        let mut healthy: Vec<f64> = o
            .iter()
            .take(from.max(1))
            .map(|x| x.1)
            .filter(|v| v.is_finite())
            .collect();
        healthy.sort_by(f64::total_cmp);
        (2.0 * healthy.get(healthy.len() / 2).copied().unwrap_or(100.0)).max(300.0)
    };
    let breach = |i: usize| -> Option<(usize, Breach)> {
        let o = &obs[i];
        let slo = slo(o);
        let (mut run, mut down) = (0, 0);
        for (k, &(err, p99)) in o.iter().enumerate().skip(from) {
            if !err.is_finite() && i == usize::from(entry) {
                down += 1;
                if down >= SUSTAIN + 2 {
                    return Some((k, Breach::Down));
                }
            } else {
                down = 0;
            }
            let b = (err.is_finite() && err > ERROR_SLO) || (p99.is_finite() && p99 > slo);
            run = if b { run + 1 } else { 0 };
            if run >= SUSTAIN {
                return Some((
                    k,
                    if err > ERROR_SLO {
                        Breach::Errors(err)
                    } else {
                        Breach::Latency(p99, slo)
                    },
                ));
            }
        }
        None
    };
    let mut best = breach(usize::from(entry)).map(|(k, b)| (usize::from(entry), k, b));
    if best.is_none() {
        for i in 0..services.len() {
            if let Some((k, b)) = breach(i) {
                if best.is_none_or(|(_, bk, _)| k < bk) {
                    best = Some((i, k, b));
                }
            }
        }
    }
    let (i, t_ms, b, severity) = match best {
        Some((i, k, b)) => (i, ((k as u64 + 1) * step_ms).min(end_ms), b, "page"),
        None => {
            let i = usize::from(entry);
            let s = slo(&obs[i]);
            let (mut we, mut wp) = (0.0f64, 0.0f64);
            for &(e, p) in obs[i].iter().skip(from) {
                if e.is_finite() {
                    we = we.max(e);
                }
                if p.is_finite() {
                    wp = wp.max(p);
                }
            }
            let b = if we / ERROR_SLO >= wp / s {
                Breach::Errors(we)
            } else {
                Breach::Latency(wp, s)
            };
            (i, (first_fault_ms + 60_000).min(end_ms), b, "ticket")
        }
    };
    let svc = services.get(i).cloned().unwrap_or_default();
    let (name, summary) = match b {
        Breach::Errors(r) => (
            "HighErrorRate",
            format!(
                "{svc}: {:.1}% of requests failing with 5xx over the last minute (SLO {:.0}%)",
                r * 100.0,
                ERROR_SLO * 100.0
            ),
        ),
        Breach::Latency(p99, slo) => (
            "HighLatencyP99",
            format!(
                "{svc}: p99 latency {:.2}s over the last minute (SLO {:.2}s)",
                p99 / 1000.0,
                slo / 1000.0
            ),
        ),
        Breach::Down => (
            "EndpointDown",
            format!("{svc}: synthetic checks of / failing for the last minute"),
        ),
    };
    Alert {
        t_ms,
        name: name.to_owned(),
        service: svc,
        severity: severity.to_owned(),
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store where service 0 serves 100 requests per scrape and, from scrape
    /// `bad_from`, fails `err_pct` of them.
    fn store(samples: usize, bad_from: usize, err_pct: f64) -> Store {
        let mut s = Store::default();
        let (mut ok, mut err) = (0.0, 0.0);
        for k in 0..samples {
            let failing = if k >= bad_from { err_pct } else { 0.0 };
            ok += 100.0 - failing;
            err += failing;
            s.scrape(
                k,
                0,
                &format!("http_requests_total{{code=\"200\"}} {ok}\nhttp_requests_total{{code=\"500\"}} {err}\n"),
            );
            s.put(
                k,
                0,
                "up",
                Vec::new(),
                otrashi_gym::telemetry::MetricKind::Gauge,
                1.0,
            );
        }
        s
    }

    #[test]
    fn a_sustained_error_breach_pages_on_the_entry() {
        let s = store(20, 8, 30.0);
        let a = alert(
            &AlertSpec::Auto,
            &s,
            &["web".to_owned()],
            0,
            20,
            10_000,
            75_000,
            200_000,
        );
        assert_eq!(a.name, "HighErrorRate");
        assert_eq!(a.severity, "page");
        // Breaching scrapes 8..=11: fires after the fourth, at the end of scrape 11.
        assert_eq!(a.t_ms, 120_000);
    }

    #[test]
    fn no_breach_gives_a_ticket() {
        let s = store(20, 8, 1.0);
        let a = alert(
            &AlertSpec::Auto,
            &s,
            &["web".to_owned()],
            0,
            20,
            10_000,
            75_000,
            200_000,
        );
        assert_eq!(a.severity, "ticket");
        assert_eq!(a.t_ms, 135_000);
    }
}
