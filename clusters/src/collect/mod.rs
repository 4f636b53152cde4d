//! Backend-neutral telemetry collection, shared by the real backends (Docker,
//! Kubernetes): the workload's JSON log lines into templated records and spans
//! ([`logs`]), the Prometheus text format ([`prom`]), scraped samples into the
//! simulator's series (`store`), the alert from the shared SLO rule (`alert`), and code
//! faults as the workload's failpoints ([`failpoint`]).

pub(crate) mod alert;
mod failpoints;
pub mod logs;
pub mod prom;
pub(crate) mod store;

pub use failpoints::failpoint;

use otrashi_gym::backend::BackendError;
use otrashi_gym::telemetry::{Deploy, Event, ServiceId, Telemetry};
use otrashi_scenarios::catalog::FaultKind;
use otrashi_scenarios::incident::Incident;

/// What a real backend collected over one run, in scenario time.
pub(crate) struct Collected<'a> {
    /// The incident that ran (its alert rule and fault times).
    pub incident: &'a Incident,
    /// Wall-clock start of the run, Unix ms.
    pub start_unix_ms: i64,
    /// End of the window, scenario ms.
    pub end_ms: u64,
    /// Service names, by id.
    pub services: &'a [String],
    /// The entry service.
    pub entry: ServiceId,
    /// The scraped samples.
    pub store: Store,
    /// Number of scrapes.
    pub samples: usize,
    /// Interval between scrapes, ms.
    pub step_ms: u64,
    /// Logs, templates and spans, already sorted.
    pub sink: logs::LogSink,
    /// Events, in any order.
    pub events: Vec<Event>,
    /// Deploys, in any order.
    pub deploys: Vec<Deploy>,
}

use store::Store;

/// The episode's telemetry from what a real backend collected: events and deploys in
/// time order, metric series, and the alert from the shared SLO rule.
pub(crate) fn telemetry(c: Collected<'_>) -> Telemetry {
    let Collected {
        incident,
        start_unix_ms,
        end_ms,
        services,
        entry,
        store,
        samples,
        step_ms,
        sink,
        mut events,
        mut deploys,
    } = c;
    events.sort_by_key(|e| e.t_ms);
    deploys.sort_by_key(|d| d.t_ms);
    let first_fault = incident
        .faults
        .iter()
        .map(|f| f.at.as_millis())
        .min()
        .unwrap_or(end_ms / 2);
    let alert = alert::alert(
        &incident.alert,
        &store,
        services,
        entry,
        samples,
        step_ms,
        first_fault,
        end_ms,
    );
    Telemetry {
        start_unix_ms,
        end_ms,
        services: services.to_vec(),
        metrics: store.finish(samples, step_ms),
        log_templates: sink.templates,
        logs: sink.records,
        operations: sink.operations,
        spans: sink.spans,
        events,
        deploys,
        alert,
    }
}

/// Refuses an incident whose entry is not a service of its topology (the load
/// generator would have nothing to call), naming the backend.
pub(crate) fn check_entry(backend: &'static str, incident: &Incident) -> Result<(), BackendError> {
    if incident
        .topology
        .service(&incident.topology.entry)
        .is_some()
    {
        return Ok(());
    }
    Err(BackendError::Unsupported {
        backend,
        fault: incident
            .faults
            .first()
            .map_or(FaultKind::CrashLoop, |f| f.kind),
        reason: format!("the entry `{}` is not a service", incident.topology.entry),
    })
}
