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
