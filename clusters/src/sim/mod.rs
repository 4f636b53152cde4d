//! The embedded simulator: realistic incidents with full CoMELT telemetry, in
//! milliseconds.
//!
//! [`simulate`] runs an [`Incident`] in discrete 1 s ticks. Each tick, demand flows down
//! the call graph (callers first: the entry gets the load, every service calls its
//! callees, clients retry after timeouts and resets, caches absorb reads), then answers
//! flow back up (callees first: a caller's latency is its own work plus its calls,
//! queueing grows latency as CPU utilization nears 1, callers' timeouts turn slow
//! callees into timeouts, failures propagate). Faults change that machinery the way they change a
//! real system (see `effects`), and every modality is written from the same state so
//! that metrics, logs, traces and events agree. All randomness comes from the
//! incident's seed: the same incident gives byte-identical telemetry.
//!
//! Work is per service per tick, never per request, so a 10-service, 10-minute episode
//! takes a few milliseconds.

mod alert;
mod bench;
mod diffs;
mod dist;
pub(crate) mod effects;
mod engine;
mod logs;
mod metrics;
mod noise;
mod out;
mod profile;
mod resources;
mod state;
mod traces;

use async_trait::async_trait;
use otrashi_gym::backend::{Backend, BackendError, Env};
use otrashi_gym::context::EpisodeContext;
use otrashi_gym::telemetry::Telemetry;
use otrashi_scenarios::incident::Incident;
use otrashi_scenarios::rng::stable_hash;

pub use bench::bench_incident;

/// Time between metric samples, ms (see `engine::SCRAPE_S` for why 10 s).
pub const SCRAPE_INTERVAL_MS: u64 = engine::SCRAPE_S as u64 * 1000;

/// 2026-01-01T00:00:00Z, the wall-clock anchor episodes are placed after.
const EPOCH_2026_MS: i64 = 1_767_225_600_000;

/// Runs an incident in the simulator and returns its telemetry. Pure and
/// deterministic: no clock, no IO, the same incident gives the same bytes.
pub fn simulate(incident: &Incident) -> Telemetry {
    if incident.topology.services.is_empty() {
        // Nothing to run; validation rejects such scenarios, this keeps `simulate` total.
        return Telemetry {
            start_unix_ms: start_unix_ms(incident.seed),
            end_ms: incident.timeline.end().as_millis(),
            ..Telemetry::default()
        };
    }
    let mut sim = engine::Sim::new(incident);
    sim.run();
    let alert = sim.alert();
    let end_ms = u64::from(sim.end_s) * 1000;
    let services = sim.prof.iter().map(|p| p.name.clone()).collect();
    let metrics = std::mem::take(&mut sim.metrics.series);
    let out = std::mem::take(&mut sim.out);
    let out = out.finish();
    Telemetry {
        start_unix_ms: start_unix_ms(incident.seed),
        end_ms,
        services,
        metrics,
        log_templates: out.log_templates,
        logs: out.logs.into_iter().filter(|l| l.t_ms < end_ms).collect(),
        operations: out.operations,
        spans: out.spans,
        events: out.events.into_iter().filter(|e| e.t_ms < end_ms).collect(),
        deploys: out.deploys,
        alert,
    }
}

/// The wall-clock time of `t = 0`: 2026-01-01 plus a seed-derived number of hours
/// (within about half a year), so episodes do not all claim the same moment.
pub fn start_unix_ms(seed: u64) -> i64 {
    let hours = (stable_hash(&seed.to_le_bytes()) % (24 * 180)) as i64;
    EPOCH_2026_MS + hours * 3_600_000
}

/// The simulator as a gym backend (`sim`). It can run every fault kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimBackend;

impl SimBackend {
    /// The backend.
    pub fn new() -> Self {
        SimBackend
    }
}

#[async_trait]
impl Backend for SimBackend {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn check(&self, _incident: &Incident) -> Result<(), BackendError> {
        // Every catalog kind has an effect model here.
        Ok(())
    }

    async fn provision(
        &self,
        incident: &Incident,
        cx: &EpisodeContext,
    ) -> Result<Box<dyn Env>, BackendError> {
        if cx.cancel.is_cancelled() {
            return Err(BackendError::Cancelled);
        }
        if incident.topology.call_order().is_none() {
            return Err(BackendError::Provision {
                message: format!(
                    "topology `{}` has a call cycle; the simulator needs an acyclic call graph",
                    incident.topology.name
                ),
                source: None,
            });
        }
        if incident
            .topology
            .index_of(&incident.topology.entry)
            .is_none()
        {
            return Err(BackendError::Provision {
                message: format!(
                    "entry `{}` is not a service of topology `{}`",
                    incident.topology.entry, incident.topology.name
                ),
                source: None,
            });
        }
        Ok(Box::new(SimEnv {
            incident: Some(incident.clone()),
        }))
    }
}

/// One provisioned simulator episode: nothing but the incident to run.
#[derive(Debug)]
struct SimEnv {
    incident: Option<Incident>,
}

#[async_trait]
impl Env for SimEnv {
    async fn run(&mut self, cx: &EpisodeContext) -> Result<Telemetry, BackendError> {
        if cx.cancel.is_cancelled() {
            return Err(BackendError::Cancelled);
        }
        let incident = self.incident.as_ref().ok_or_else(|| BackendError::Run {
            message: "the simulator environment was already torn down".to_owned(),
            source: None,
        })?;
        let telemetry = simulate(incident);
        if cx.cancel.is_cancelled() {
            return Err(BackendError::Cancelled);
        }
        Ok(telemetry)
    }

    async fn teardown(&mut self, _cx: &EpisodeContext) -> Result<(), BackendError> {
        // Nothing outside this process exists; dropping the incident is all there is.
        self.incident = None;
        Ok(())
    }
}
