//! The page that opens the investigation, from the scraped metrics as an alerting rule
//! would see them: a sustained SLO breach, preferring the entry service.

use otrashi_gym::telemetry::Alert;
use otrashi_scenarios::model::AlertSpec;

use super::engine::{Sim, SCRAPE_S};

/// Error ratio above which the error SLO is breached.
const ERROR_SLO: f64 = 0.02;
/// Consecutive breaching scrapes before the alert fires (the rule's `for: 40s`).
const SUSTAIN: usize = 4;

/// Why a rule fired.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Breach {
    Errors(f64),
    Latency(f64, f64),
    Down,
    /// No SLO breached: the worst p99 against the healthy p99 (an anomaly ticket).
    LatencyAnomaly(f64, f64),
    /// No SLO breached: the worst error ratio, below the SLO but above zero.
    ErrorAnomaly(f64),
}

impl Sim<'_> {
    /// The alert for this episode.
    pub(crate) fn alert(&self) -> Alert {
        let first_fault_ms = self
            .inc
            .faults
            .first()
            .map_or(u64::from(self.end_s) * 500, |f| f.at.as_millis());
        match &self.inc.alert {
            AlertSpec::Fixed { service, summary } => Alert {
                t_ms: (first_fault_ms + 60_000).min(u64::from(self.end_s) * 1000),
                name: "Page".to_owned(),
                service: service.clone(),
                severity: "page".to_owned(),
                summary: summary.clone(),
            },
            AlertSpec::Auto => self.auto_alert(first_fault_ms),
        }
    }

    /// The p99 SLO of service `i`: twice its healthy p99, at least 300 ms.
    fn latency_slo(&self, i: usize, first_fault_ms: u64) -> f64 {
        (2.0 * self.healthy_p99(i, first_fault_ms)).max(300.0)
    }

    /// The median p99 of service `i` before the first fault, ms.
    fn healthy_p99(&self, i: usize, first_fault_ms: u64) -> f64 {
        let warm = (first_fault_ms / 1000 / u64::from(SCRAPE_S)) as usize;
        let mut healthy: Vec<f64> = self.obs[i]
            .iter()
            .take(warm.max(1))
            .map(|o| o.1)
            .filter(|v| v.is_finite())
            .collect();
        healthy.sort_by(f64::total_cmp);
        healthy.get(healthy.len() / 2).copied().unwrap_or(100.0)
    }

    /// The first sustained breach of service `i` at or after `from` (scrape index).
    fn first_breach(&self, i: usize, from: usize, slo: f64) -> Option<(usize, Breach)> {
        let obs = &self.obs[i];
        let mut run = 0;
        let mut down = 0;
        for (k, &(err, p99, _)) in obs.iter().enumerate().skip(from) {
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

    fn auto_alert(&self, first_fault_ms: u64) -> Alert {
        let from = (first_fault_ms / 1000 / u64::from(SCRAPE_S)) as usize;
        let entry_slo = self.latency_slo(self.entry, first_fault_ms);
        let mut best = self
            .first_breach(self.entry, from, entry_slo)
            .map(|(k, b)| (self.entry, k, b));
        if best.is_none() {
            for i in 0..self.prof.len() {
                let slo = self.latency_slo(i, first_fault_ms);
                if let Some((k, b)) = self.first_breach(i, from, slo) {
                    if best.is_none_or(|(_, bk, _)| k < bk) {
                        best = Some((i, k, b));
                    }
                }
            }
        }
        match best {
            Some((i, k, b)) => self.page(i, (k as u64 + 1) * u64::from(SCRAPE_S) * 1000, b, "page"),
            None => {
                // Nothing breached an SLO: an anomaly ticket on the entry with its
                // closest signal, stated against its own baseline.
                let i = self.entry;
                let slo = self.latency_slo(i, first_fault_ms);
                let base = self.healthy_p99(i, first_fault_ms);
                let (mut worst_err, mut worst_p99) = (0.0f64, 0.0f64);
                for &(err, p99, _) in self.obs[i].iter().skip(from) {
                    if err.is_finite() {
                        worst_err = worst_err.max(err);
                    }
                    if p99.is_finite() {
                        worst_p99 = worst_p99.max(p99);
                    }
                }
                let b = if worst_err / ERROR_SLO >= worst_p99 / slo {
                    Breach::ErrorAnomaly(worst_err)
                } else {
                    Breach::LatencyAnomaly(worst_p99, base)
                };
                let t = (first_fault_ms + 60_000).min(u64::from(self.end_s) * 1000);
                self.page(i, t, b, "ticket")
            }
        }
    }

    fn page(&self, i: usize, t_ms: u64, b: Breach, severity: &str) -> Alert {
        let svc = self.prof[i].name.clone();
        let route = self.prof[i].route.clone();
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
            Breach::LatencyAnomaly(p99, base) => (
                "LatencyAnomaly",
                format!(
                    "{svc}: p99 latency reached {:.2}s, {:.1}× its usual {:.2}s (no SLO breached yet)",
                    p99 / 1000.0,
                    p99 / base.max(1e-9),
                    base / 1000.0
                ),
            ),
            Breach::ErrorAnomaly(r) => (
                "ErrorRateAnomaly",
                format!(
                    "{svc}: {:.2}% of requests failing with 5xx, up from its usual level (SLO {:.0}% not breached yet)",
                    r * 100.0,
                    ERROR_SLO * 100.0
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
