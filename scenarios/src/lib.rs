//! Scenario files for otrashi: the model, parsing and validation with line/column
//! diagnostics, seeded sampling into concrete incidents, derived ground truth, the fault
//! catalog and the bundled library.
//!
//! This crate is pure: no IO beyond reading the bundled files compiled into it, no
//! async, no network. Everything that runs a scenario builds on it.

pub mod catalog;
pub mod duration;
pub mod incident;
pub mod model;
pub mod rng;

pub use catalog::{FaultDef, FaultKind, Level, ParamDef, Via, CATALOG};
pub use duration::Duration;
pub use incident::{sample, ConcreteFault, ConcreteRedHerring, GroundTruth, Incident, TrueCause};
pub use model::{Scenario, Service, ServiceKind, Topology};
