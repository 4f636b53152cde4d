//! The alerting rule both backends page with, so that an agent meets the same kind of
//! page on the simulator and on real containers.
//!
//! From per-scrape `(error ratio, p99 ms)` observations of every service: a 2 % error
//! SLO or a p99 SLO of twice the healthy p99 (at least 300 ms), breached for 4
//! consecutive scrapes, on the entry service first, else on the first service that
//! breaches; an entry that cannot be scraped for 6 scrapes is `EndpointDown`. When
//! nothing breaches, a ticket states the entry's closest signal against its baseline (an
//! anomaly, not an SLO breach). A fixed alert in the scenario is passed through.

use otrashi_gym::telemetry::Alert;
use otrashi_scenarios::model::AlertSpec;

/// Error ratio above which the error SLO is breached.
const ERROR_SLO: f64 = 0.02;
/// Consecutive breaching scrapes before the alert fires (the rule's `for:`).
const SUSTAIN: usize = 4;

/// What the rule reads.
pub(crate) struct SloInput<'a> {
    /// The scenario's alert setting.
    pub spec: &'a AlertSpec,
    /// Service names, by index.
    pub services: &'a [String],
    /// The path the synthetic checks of each service probe (for `EndpointDown`).
    pub routes: &'a [String],
    /// The entry service's index.
    pub entry: usize,
    /// Per service, per scrape: `(error ratio, p99 in ms)`; `NaN` when not scraped.
    pub obs: &'a [Vec<(f64, f64)>],
    /// Time between scrapes, ms.
    pub step_ms: u64,
    /// Start of the first fault, ms (the end of the healthy baseline).
    pub first_fault_ms: u64,
    /// End of the episode, ms.
    pub end_ms: u64,
}

/// Why the rule fired.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Breach {
    Errors(f64),
    Latency(f64, f64),
    Down,
    /// No sustained breach: the worst p99, the healthy p99 and the SLO.
    LatencyAnomaly(f64, f64, f64),
    /// No SLO breached: the worst error ratio, below the SLO.
    ErrorAnomaly(f64),
}

impl SloInput<'_> {
    /// The median p99 of service `i` before the first fault, ms.
    fn healthy_p99(&self, i: usize) -> f64 {
        let warm = (self.first_fault_ms / self.step_ms.max(1)) as usize;
        let mut healthy: Vec<f64> = self.obs[i]
            .iter()
            .take(warm.max(1))
            .map(|o| o.1)
            .filter(|v| v.is_finite())
            .collect();
        healthy.sort_by(f64::total_cmp);
        healthy.get(healthy.len() / 2).copied().unwrap_or(100.0)
    }

    /// The p99 SLO of service `i`: twice its healthy p99, at least 300 ms.
    fn latency_slo(&self, i: usize) -> f64 {
        (2.0 * self.healthy_p99(i)).max(300.0)
    }

    /// The first sustained breach of service `i` at or after scrape `from`.
    fn first_breach(&self, i: usize, from: usize) -> Option<(usize, Breach)> {
        let slo = self.latency_slo(i);
        let (mut run, mut down) = (0, 0);
        for (k, &(err, p99)) in self.obs[i].iter().enumerate().skip(from) {
            if !err.is_finite() && i == self.entry {
                down += 1;
                if down >= SUSTAIN + 2 {
                    return Some((k, Breach::Down));
                }
            } else {
                down = 0;
            }
            let breach = (err.is_finite() && err > ERROR_SLO) || (p99.is_finite() && p99 > slo);
            run = if breach { run + 1 } else { 0 };
            if run >= SUSTAIN {
                let b = if err > ERROR_SLO {
                    Breach::Errors(err)
                } else {
                    Breach::Latency(p99, slo)
                };
                return Some((k, b));
            }
        }
        None
    }

    fn page(&self, i: usize, t_ms: u64, b: Breach, severity: &str) -> Alert {
        let svc = self.services.get(i).cloned().unwrap_or_default();
        let route = self.routes.get(i).map_or("/", String::as_str);
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
            Breach::LatencyAnomaly(p99, base, slo) => (
                "LatencyAnomaly",
                format!(
                    "{svc}: p99 latency reached {:.2}s, {:.1}× its usual {:.2}s ({})",
                    p99 / 1000.0,
                    p99 / base.max(1e-9),
                    base / 1000.0,
                    short_of_slo(
                        p99 > slo,
                        &format!("{:.2}s", slo / 1000.0),
                        input_sustain_s(self.step_ms)
                    )
                ),
            ),
            Breach::ErrorAnomaly(r) => (
                "ErrorRateAnomaly",
                format!(
                    "{svc}: {:.2}% of requests failing with 5xx, up from its usual level ({})",
                    r * 100.0,
                    short_of_slo(
                        r > ERROR_SLO,
                        &format!("{:.0}%", ERROR_SLO * 100.0),
                        input_sustain_s(self.step_ms)
                    )
                ),
            ),
            Breach::Down => (
                "EndpointDown",
                format!("{svc}: synthetic checks of {route} failing for the last minute"),
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
}

/// How long the rule needs a breach to last, in seconds.
fn input_sustain_s(step_ms: u64) -> u64 {
    step_ms * SUSTAIN as u64 / 1000
}

/// The parenthesis of an anomaly ticket: why it is not a page.
fn short_of_slo(above: bool, slo: &str, sustain_s: u64) -> String {
    if above {
        format!("above the {slo} SLO, but not for the {sustain_s}s the paging rule needs")
    } else {
        format!("within the {slo} SLO")
    }
}

/// The alert of an episode.
pub(crate) fn alert(input: &SloInput<'_>) -> Alert {
    let late = (input.first_fault_ms + 60_000).min(input.end_ms);
    if let AlertSpec::Fixed { service, summary } = input.spec {
        return Alert {
            t_ms: late,
            name: "Page".to_owned(),
            service: service.clone(),
            severity: "page".to_owned(),
            summary: summary.clone(),
        };
    }
    let from = (input.first_fault_ms / input.step_ms.max(1)) as usize;
    let entry = input.entry;
    let mut best = input.first_breach(entry, from).map(|(k, b)| (entry, k, b));
    if best.is_none() {
        for i in 0..input.obs.len() {
            if let Some((k, b)) = input.first_breach(i, from) {
                if best.is_none_or(|(_, bk, _)| k < bk) {
                    best = Some((i, k, b));
                }
            }
        }
    }
    match best {
        Some((i, k, b)) => {
            let t = ((k as u64 + 1) * input.step_ms).min(input.end_ms);
            input.page(i, t, b, "page")
        }
        None => {
            let (mut worst_err, mut worst_p99) = (0.0f64, 0.0f64);
            for &(err, p99) in input.obs.get(entry).into_iter().flatten().skip(from) {
                if err.is_finite() {
                    worst_err = worst_err.max(err);
                }
                if p99.is_finite() {
                    worst_p99 = worst_p99.max(p99);
                }
            }
            let b = if worst_err / ERROR_SLO >= worst_p99 / input.latency_slo(entry) {
                Breach::ErrorAnomaly(worst_err)
            } else {
                Breach::LatencyAnomaly(
                    worst_p99,
                    input.healthy_p99(entry),
                    input.latency_slo(entry),
                )
            };
            input.page(entry, late, b, "ticket")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(obs: Vec<Vec<(f64, f64)>>) -> Alert {
        let services: Vec<String> = (0..obs.len()).map(|i| format!("s{i}")).collect();
        let routes = vec!["/api".to_owned(); obs.len()];
        alert(&SloInput {
            spec: &AlertSpec::Auto,
            services: &services,
            routes: &routes,
            entry: 0,
            obs: &obs,
            step_ms: 10_000,
            first_fault_ms: 75_000,
            end_ms: 200_000,
        })
    }

    fn series(bad_from: usize, bad: (f64, f64)) -> Vec<(f64, f64)> {
        (0..20)
            .map(|k| if k >= bad_from { bad } else { (0.0, 50.0) })
            .collect()
    }

    #[test]
    fn a_sustained_breach_on_the_entry_pages_after_four_scrapes() {
        let a = run(vec![series(8, (0.3, 50.0))]);
        assert_eq!(
            (a.name.as_str(), a.severity.as_str()),
            ("HighErrorRate", "page")
        );
        // Breaching scrapes 8..=11: fires at the end of scrape 11.
        assert_eq!(a.t_ms, 120_000);
    }

    #[test]
    fn a_breach_elsewhere_pages_there_when_the_entry_holds() {
        let a = run(vec![series(8, (0.0, 60.0)), series(9, (0.0, 900.0))]);
        assert_eq!(
            (a.name.as_str(), a.service.as_str()),
            ("HighLatencyP99", "s1")
        );
    }

    #[test]
    fn an_unscrapable_entry_is_endpoint_down() {
        let a = run(vec![series(8, (f64::NAN, f64::NAN))]);
        assert_eq!(a.name, "EndpointDown");
        assert!(a.summary.contains("/api"), "{}", a.summary);
    }

    #[test]
    fn no_breach_is_an_anomaly_ticket_not_an_slo_breach() {
        // Regression: the ticket used to read "p99 0.32s (SLO 0.38s)", an SLO breach
        // below its own SLO.
        let a = run(vec![series(8, (0.0, 120.0))]);
        assert_eq!(
            (a.name.as_str(), a.severity.as_str()),
            ("LatencyAnomaly", "ticket")
        );
        assert!(a.summary.contains("2.4× its usual"), "{}", a.summary);
        assert!(a.summary.contains("within the 0.30s SLO"), "{}", a.summary);
        let a = run(vec![series(8, (0.01, 50.0))]);
        assert_eq!(a.name, "ErrorRateAnomaly");
        assert_eq!(a.t_ms, 135_000);
    }

    #[test]
    fn a_breach_too_short_to_page_says_so() {
        // Three bad scrapes: above the SLO, but the rule needs four.
        let obs = vec![(0..12)
            .map(|k| {
                if (8..11).contains(&k) {
                    (0.3, 50.0)
                } else {
                    (0.0, 50.0)
                }
            })
            .collect()];
        let a = run(obs);
        assert_eq!(
            (a.name.as_str(), a.severity.as_str()),
            ("ErrorRateAnomaly", "ticket")
        );
        assert!(
            a.summary.contains("above the 2% SLO, but not for the 40s"),
            "{}",
            a.summary
        );
    }
}
