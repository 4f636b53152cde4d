//! Ranking the services by suspicion.

use super::findings::Findings;
use crate::query::{format_rfc3339, parse_rfc3339};

/// One scored suspect.
#[derive(Debug, Clone, PartialEq)]
pub struct Suspect {
    /// The service.
    pub service: String,
    /// Its suspicion score.
    pub score: f64,
    /// When its trouble began (Unix ms), if seen.
    pub onset_ms: Option<i64>,
    /// Why, one phrase per clue.
    pub reasons: Vec<String>,
}

/// How much a change in a signal family points at the service it was seen on. Resource
/// signals (memory, CPU, restarts, disk) are usually where a problem lives; request
/// signals (errors, latency, pool waits) also show on every caller of a broken service,
/// so they weigh less.
fn signal_weight(signal: &str) -> f64 {
    match signal {
        "restarts" | "throttling" | "up" | "available" | "disk_usage" => 2.0,
        "memory" | "disk_io" | "retransmits" => 1.8,
        "process_cpu" | "cache_hit" | "client_requests" => 1.5,
        "cpu" => 1.2,
        "errors" | "pool" => 0.8,
        "latency" => 0.7,
        "db_latency" => 0.6,
        _ => 1.0,
    }
}

/// How much an event says "something broke here". Scaling events are left out: every
/// rolling deploy scales an old replica set to 0.
fn event_weight(reason: &str) -> f64 {
    match reason {
        "Deleted" => 3.0,
        "OOMKilled" => 2.0,
        "BackOff" | "Unhealthy" | "ConfigChanged" => 1.5,
        "Killing" => 1.0,
        _ => 0.0,
    }
}

impl Findings {
    fn calls_of(&self, service: &str) -> Vec<String> {
        self.services
            .iter()
            .find(|s| s.name == service)
            .map(|s| s.calls.clone())
            .unwrap_or_default()
    }

    /// A deploy of `service` shortly before `at` (within 15 minutes, or 1 minute after).
    pub fn deploy_before(
        &self,
        service: &str,
        at: Option<i64>,
    ) -> Option<&crate::query::DeployInfo> {
        let at = at.unwrap_or(self.alert_ms);
        self.deploys.iter().rfind(|d| {
            d.service == service
                && parse_rfc3339(&d.time).is_ok_and(|t| t <= at + 60_000 && t >= at - 900_000)
        })
    }

    /// Whether a Warning-ish event with this reason concerns `service`.
    pub fn has_event(&self, service: &str, reason: &str) -> bool {
        self.events
            .iter()
            .any(|e| e.service == service && e.reason == reason)
    }

    /// Whether `service`'s own logs (or failing spans) show this phrase class.
    pub fn has_class(&self, service: &str, class: &str) -> bool {
        self.log_classes
            .iter()
            .any(|(s, c)| s == service && *c == class)
    }

    /// Whether an event with this reason and a message containing `word` concerns
    /// `service`.
    pub fn event_says(&self, service: &str, reason: &str, word: &str) -> bool {
        self.events.iter().any(|e| {
            e.service == service && e.reason == reason && e.message.to_lowercase().contains(word)
        })
    }

    /// Whether other services' logs name `service` with this phrase class.
    pub fn mentioned(&self, service: &str, class: &str) -> bool {
        self.mentions
            .iter()
            .any(|m| m.target == service && m.class == class)
    }

    /// Whether a metric signal changed on `service`.
    pub fn has_hit(&self, service: &str, signal: &str) -> bool {
        self.hits
            .iter()
            .any(|h| h.service == service && h.signal == signal)
    }

    /// The alerting service and everything it calls, directly or not: where a cause of
    /// the alert can sit. Empty when the catalog is unknown.
    fn request_path(&self) -> Vec<String> {
        if self.services.is_empty() || self.alert_service.is_empty() {
            return Vec::new();
        }
        let mut path = vec![self.alert_service.clone()];
        let mut i = 0;
        while let Some(s) = path.get(i).cloned() {
            for c in self.calls_of(&s) {
                if !path.contains(&c) {
                    path.push(c);
                }
            }
            i += 1;
        }
        path
    }

    /// Whether a time is well after the alert fired (30 s of slack for scrape and
    /// evaluation delays).
    fn after_alert(&self, t_ms: i64) -> bool {
        self.alert_ms > 0 && t_ms > self.alert_ms + 30_000
    }

    /// Every service ranked by suspicion, most suspect first.
    pub fn rank(&self) -> Vec<Suspect> {
        let mut names = self.service_names();
        if names.is_empty() {
            names.push(self.alert_service.clone());
        }
        let total_origins: usize = self.origins.iter().map(|o| o.1).sum();
        let mut suspects: Vec<Suspect> = names
            .iter()
            .map(|s| {
                let mut score = 0.0;
                let mut reasons = Vec::new();
                let mut onset: Option<i64> = None;
                for h in self.hits.iter().filter(|h| &h.service == s) {
                    let strength = 1.0 + h.peak_z.min(50.0).ln_1p() / 4.0;
                    if self.after_alert(h.onset_ms) {
                        // A change that began after the page cannot have caused it.
                        score += 0.3 * signal_weight(h.signal) * strength;
                        continue;
                    }
                    score += signal_weight(h.signal) * strength;
                    reasons.push(format!("{} changed", h.metric));
                    onset = Some(onset.map_or(h.onset_ms, |o| o.min(h.onset_ms)));
                }
                if let Some((_, metric, at)) = self.gaps.iter().find(|g| &g.0 == s) {
                    score += 1.5;
                    reasons.push(format!("{metric} has no data from {}", format_rfc3339(*at)));
                    onset = Some(onset.map_or(*at, |o| o.min(*at)));
                }
                if let Some((_, n, _)) = self.origins.iter().find(|o| &o.0 == s) {
                    let share = *n as f64 / total_origins.max(1) as f64;
                    score += 3.0 * share;
                    reasons.push(format!(
                        "failing requests originate here in {n} sampled traces"
                    ));
                }
                for e in self.events.iter().filter(|e| &e.service == s) {
                    let w = event_weight(&e.reason);
                    if w > 0.0 {
                        score += w;
                        reasons.push(format!("{} event", e.reason));
                    }
                }
                let own_errors = self
                    .logs
                    .iter()
                    .filter(|g| {
                        g.services.contains(s) && g.level >= crate::telemetry::LogLevel::Error
                    })
                    .count();
                score += (own_errors as f64 * 0.4).min(1.5);
                let mut peer_signals: Vec<&str> = self
                    .peer_hits
                    .iter()
                    .filter(|p| &p.peer == s)
                    .map(|p| p.signal)
                    .collect();
                peer_signals.dedup();
                for sig in peer_signals {
                    score += 2.0;
                    reasons.push(format!("its callers' {sig} rose"));
                }
                if let Some(at) = self
                    .peer_hits
                    .iter()
                    .filter(|p| &p.peer == s)
                    .map(|p| p.onset_ms)
                    .min()
                {
                    onset = Some(onset.map_or(at, |o| o.min(at)));
                }
                // Some lines name their own service as the culprit.
                for (class, bonus, why) in [
                    ("slow_query", 3.0, "its own logs report slow queries"),
                    (
                        "pool",
                        1.5,
                        "its own logs report an exhausted connection pool",
                    ),
                ] {
                    if self.has_class(s, class) {
                        score += bonus;
                        reasons.push(why.into());
                    }
                }
                for class in ["dns", "refused", "timeout"] {
                    if self.mentioned(s, class) {
                        score += 2.5;
                        reasons.push(format!("callers report `{class}` errors naming it"));
                    }
                }
                if self.deploy_before(s, onset).is_some() {
                    // "What changed?" is the first question on call; a change on a
                    // service that then misbehaves is the classic cause.
                    score += if score > 0.0 { 2.5 } else { 1.0 };
                    reasons.push("deployed shortly before the trouble began".into());
                }
                Suspect {
                    service: s.clone(),
                    score,
                    onset_ms: onset,
                    reasons,
                }
            })
            .collect();

        // The deepest troubled service explains its callers' trouble, not the reverse.
        let raw: Vec<(String, f64)> = suspects
            .iter()
            .map(|s| (s.service.clone(), s.score))
            .collect();
        let earliest = suspects
            .iter()
            .filter(|s| s.score >= 1.0)
            .filter_map(|s| s.onset_ms)
            .min();
        let reach = self.request_path();
        for s in &mut suspects {
            if s.score < 1.0 {
                continue;
            }
            let callees = self.calls_of(&s.service);
            let raw_of = |c: &String| raw.iter().find(|(n, _)| n == c).map_or(0.0, |(_, sc)| *sc);
            if callees.iter().all(|c| raw_of(c) < 0.5 * s.score) {
                s.score += 1.5;
                s.reasons
                    .push("none of its dependencies look as troubled".into());
            } else if callees.iter().any(|c| raw_of(c) >= 0.8 * s.score) {
                // A caller of a troubled dependency shows its symptoms.
                s.score *= 0.7;
            }
            if earliest.is_some() && s.onset_ms == earliest {
                s.score += 1.0;
                s.reasons.push("its trouble began first".into());
            }
            if !reach.is_empty() && !reach.contains(&s.service) {
                // It is not on the alerting service's request path, so it can hardly
                // have caused the alert.
                s.score *= 0.4;
            }
        }
        suspects.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.service.cmp(&b.service)));
        suspects
    }
}
