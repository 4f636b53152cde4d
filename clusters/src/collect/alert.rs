//! The page that opens the investigation: the scraped entry and service metrics read as
//! `(error ratio, p99)` per scrape, judged by the rule the simulator uses too
//! (`crate::slo_alert`).

use otrashi_gym::telemetry::{Alert, ServiceId};
use otrashi_scenarios::model::AlertSpec;

use super::store::Store;
use crate::slo_alert::{self, SloInput};

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

/// The alert for an episode: the shared rule (`crate::slo_alert`) over the scraped
/// observations.
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
    let obs: Vec<Vec<(f64, f64)>> = (0..services.len())
        .map(|i| observations(store, i as ServiceId, samples))
        .collect();
    // The load generator calls the entry's main handler.
    let routes = vec!["/".to_owned(); services.len()];
    slo_alert::alert(&SloInput {
        spec,
        services,
        routes: &routes,
        entry: usize::from(entry),
        obs: &obs,
        step_ms,
        first_fault_ms,
        end_ms,
    })
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
    fn no_breach_gives_an_anomaly_ticket() {
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
