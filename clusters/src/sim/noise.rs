//! Background noise and red herrings: what makes a real incident hard to read. Benign
//! warnings, client errors, a periodic job, and distractions that look alarming at a
//! glance but do not move the signals the real fault moves.

use otrashi_gym::telemetry::{EventType, LogLevel};
use otrashi_scenarios::model::{RedHerringKind, Runtime, ServiceKind};

use super::engine::Sim;

/// How long a red herring lasts, s.
const HERRING_S: u32 = 150;
/// The periodic job's period and length, s.
const JOB_EVERY_S: u32 = 300;
const JOB_LEN_S: u32 = 25;

impl Sim<'_> {
    /// Background noise and red herrings for tick `t`.
    pub(crate) fn apply_noise(&mut self, t: u32) {
        let scale = self.noise_scale;
        self.mods[self.entry].client_err = 0.004 * scale;
        self.periodic_job(t);
        self.benign_lines(t);
        for h in 0..self.inc.red_herrings.len() {
            let rh = &self.inc.red_herrings[h];
            let Some(i) = self.inc.topology.index_of(&rh.target) else {
                continue;
            };
            let at = (rh.at.as_millis() / 1000) as u32;
            if t < at || t >= at + HERRING_S {
                continue;
            }
            let since = t - at;
            match rh.kind {
                RedHerringKind::UnrelatedDeploy => {
                    if since == 0 {
                        self.ship_deploy(i, rh.at.as_millis(), None, t);
                        self.prof[i].previous = None;
                    }
                }
                RedHerringKind::NoisyNeighbour => {
                    // A neighbour's burst shows in the container's CPU, well under the
                    // quota: no throttling, no queueing.
                    self.mods[i].cpu_bump = 0.3 * self.prof[i].cores;
                }
                RedHerringKind::FlappingAlert => self.flap(i, t, since),
                RedHerringKind::BenignErrors => {
                    self.mods[i].client_err = 0.12;
                    if self.rng.noise.chance(0.4) {
                        self.benign_error_line(i, t);
                    }
                }
            }
        }
    }

    fn periodic_job(&mut self, t: u32) {
        let Some(w) = self
            .prof
            .iter()
            .position(|p| p.kind == ServiceKind::Worker)
            .or_else(|| self.prof.iter().position(|p| p.kind == ServiceKind::Api))
        else {
            return;
        };
        let phase = (w as u32 * 37 + 120) % JOB_EVERY_S;
        let k = (t + JOB_EVERY_S - phase) % JOB_EVERY_S;
        if k < JOB_LEN_S {
            self.mods[w].cpu_bump += 0.25 * self.prof[w].cores;
        }
        let t_ms = u64::from(t) * 1000;
        if k == 0 {
            self.out.log(
                t_ms,
                w,
                LogLevel::Info,
                "cron: job {} started (schedule \"*/5 * * * *\")",
                vec!["reconcile-inventory".into()],
            );
        } else if k == JOB_LEN_S {
            let records = 1200 + self.rng.noise.below(800);
            self.out.log(
                t_ms,
                w,
                LogLevel::Info,
                "cron: job {} finished in {}s, {} records processed",
                vec![
                    "reconcile-inventory".into(),
                    JOB_LEN_S.to_string(),
                    records.to_string(),
                ],
            );
        }
    }

    fn benign_lines(&mut self, t: u32) {
        let scale = self.noise_scale;
        for i in 0..self.prof.len() {
            if self.tick[i].up_pods == 0 || self.mods[i].frozen || self.mods[i].removed {
                continue;
            }
            if !self.rng.noise.chance(0.012 * scale) {
                continue;
            }
            let t_ms = u64::from(t) * 1000 + self.rng.noise.below(1000) as u64;
            let p = &self.prof[i];
            let pick = self.rng.noise.below(3);
            let (tpl, args): (&'static str, Vec<String>) = match (p.runtime, p.kind, pick) {
                (Runtime::Java, _, 0) => ("HikariPool-1 - Thread starvation or clock leap detected (housekeeper delta={}s).", vec![(61 + t % 20).to_string()]),
                (Runtime::Java, _, 1) => ("[gc] GC(1{}) Pause Young (Normal) (G1 Evacuation Pause) {}M->{}M 8.214ms", vec![(t % 1000).to_string(), "212".into(), "118".into()]),
                (Runtime::Go, _, 0) => ("level=warn msg=\"deprecated API version called\" path=/v1{} client={}", vec![p.route.clone(), "mobile-ios/5.2.1".into()]),
                (Runtime::Python, _, 0) => ("{}: DeprecationWarning: datetime.datetime.utcnow() is deprecated and scheduled for removal", vec![format!("/app/{}/util.py:12", p.name.replace('-', ""))]),
                (Runtime::Node, _, 0) => ("(node:1) [DEP0005] DeprecationWarning: Buffer() is deprecated due to security and usability issues. ({})", vec!["node_modules/legacy-sdk/index.js".into()]),
                (Runtime::Rust, _, 0) => ("WARN {}::config: unknown field `legacy_mode` in config, ignoring", vec![p.name.replace('-', "")]),
                (Runtime::Native, ServiceKind::Database, _) => {
                    let table = self
                        .edges
                        .iter()
                        .find(|e| e.to == i)
                        .map_or_else(|| "events".to_owned(), |e| self.prof[e.from].table.clone());
                    ("LOG:  automatic vacuum of table \"shop.public.{}\": index scans: 1", vec![table])
                }
                (Runtime::Native, ServiceKind::Cache, _) => ("* {} changes in 60 seconds. Saving...", vec![(100 + t % 900).to_string()]),
                (Runtime::Native, _, _) => ("closing AMQP connection <0.{}.0> ({}:51234 -> {}:5672, vhost: '/', user: 'shop')", vec![(700 + t % 300).to_string(), p.ip.clone(), p.ip.clone()]),
                (_, _, 1) if !p.calls.is_empty() => {
                    let peer = self.prof[p.calls[(t as usize) % p.calls.len()]].name.clone();
                    ("retrying request to {} after transient error (attempt 2/3): succeeded", vec![peer])
                }
                _ => ("configuration reloaded from {} (no changes)", vec![format!("/etc/{}/config.yaml", p.name)]),
            };
            self.out.log(t_ms, i, LogLevel::Warn, tpl, args);
        }
    }

    fn flap(&mut self, i: usize, t: u32, since: u32) {
        let t_ms = u64::from(t) * 1000;
        let phase = since % 60;
        if phase == 0 {
            let ms = 210 + self.rng.noise.below(150);
            self.out.log(
                t_ms,
                i,
                LogLevel::Warn,
                "health check latency above threshold: {}ms (threshold 200ms), dependency {}",
                vec![ms.to_string(), "metadata-api".into()],
            );
            self.out.event(
                t_ms + 400,
                i,
                EventType::Warning,
                "Unhealthy",
                format!(
                    "Readiness probe failed: Get \"http://{}:8080/ready\": context deadline exceeded",
                    self.prof[i].ip
                ),
            );
        } else if phase == 25 {
            let ms = 40 + self.rng.noise.below(60);
            self.out.log(
                t_ms,
                i,
                LogLevel::Info,
                "health check latency back to normal: {}ms",
                vec![ms.to_string()],
            );
        }
    }

    fn benign_error_line(&mut self, i: usize, t: u32) {
        let t_ms = u64::from(t) * 1000 + self.rng.noise.below(1000) as u64;
        let who = format!("203.0.113.{}", 10 + self.rng.noise.below(200));
        if self.rng.noise.chance(0.5) {
            self.out.log(
                t_ms,
                i,
                LogLevel::Error,
                "request validation failed: ValidationError: field \"{}\" must match pattern ^[^@]+@[^@]+$ (client {})\n  at validateBody (validators/checkout.js:88)\n  status=400",
                vec!["email".into(), who],
            );
        } else {
            self.out.log(
                t_ms,
                i,
                LogLevel::Error,
                "authentication failed for client {}: invalid JWT signature; rejecting with 401",
                vec![who],
            );
        }
    }
}
