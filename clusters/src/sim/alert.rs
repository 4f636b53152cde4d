//! The page that opens the investigation, from the scraped metrics as an alerting rule
//! would see them (the shared rule in `crate::slo_alert`).

use otrashi_gym::telemetry::Alert;

use super::engine::{Sim, SCRAPE_S};
use crate::slo_alert::{self, SloInput};

impl Sim<'_> {
    /// The alert for this episode.
    pub(crate) fn alert(&self) -> Alert {
        let end_ms = u64::from(self.end_s) * 1000;
        let first_fault_ms = self
            .inc
            .faults
            .first()
            .map_or(end_ms / 2, |f| f.at.as_millis());
        let obs: Vec<Vec<(f64, f64)>> = self
            .obs
            .iter()
            .map(|o| o.iter().map(|&(err, p99, _)| (err, p99)).collect())
            .collect();
        let services: Vec<String> = self.prof.iter().map(|p| p.name.clone()).collect();
        let routes: Vec<String> = self.prof.iter().map(|p| p.route.clone()).collect();
        slo_alert::alert(&SloInput {
            spec: &self.inc.alert,
            services: &services,
            routes: &routes,
            entry: self.entry,
            obs: &obs,
            step_ms: u64::from(SCRAPE_S) * 1000,
            first_fault_ms,
            end_ms,
        })
    }
}
