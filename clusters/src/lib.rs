//! The backends of the otrashi chaos gym.
//!
//! [`sim`] is the embedded simulator: it turns a concrete incident into full CoMELT
//! telemetry (code changes, metrics, events, logs, traces) in milliseconds, with no
//! containers, so that RL training can run thousands of episodes per minute and tests
//! can pin what each fault looks like. Real backends (Docker, Kubernetes) come behind
//! cargo features and deliver the same [`otrashi_gym::Telemetry`]; their spans arrive
//! over OTLP at the receiver in `otlp` (feature `otlp`, which `docker` turns on).
//!
//! ```
//! let incident = otrashi_clusters::bench_incident(7);
//! let telemetry = otrashi_clusters::simulate(&incident);
//! assert_eq!(telemetry.services.len(), 10);
//! // The same incident always gives the same telemetry.
//! assert_eq!(telemetry, otrashi_clusters::simulate(&incident));
//! ```

#[cfg(feature = "docker")]
pub mod collect;
#[cfg(feature = "docker")]
pub mod docker;
#[cfg(feature = "kubernetes")]
pub mod kubernetes;
#[cfg(feature = "otlp")]
pub mod otlp;
pub mod sim;
mod slo_alert;

pub use sim::{bench_incident, simulate, SimBackend};
