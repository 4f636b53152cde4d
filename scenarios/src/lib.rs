//! Scenario files for otrashi: the model, parsing and validation with line/column
//! diagnostics, seeded sampling into concrete incidents, derived ground truth, the fault
//! catalog and the bundled library.
//!
//! This crate is pure: no IO beyond reading the bundled files compiled into it (and the
//! one file [`parse_file`] is asked to read), no async, no network. Everything that
//! runs a scenario builds on it.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let scenario = otrashi_scenarios::library::load("shop-cart-memory-leak")?;
//! let incident = otrashi_scenarios::sample(&scenario, 7)?;
//! let truth = otrashi_scenarios::GroundTruth::derive(&incident);
//! assert_eq!(truth.root_causes[0].fault.as_str(), "code.memory_leak");
//!
//! // A file with problems reports all of them, with positions and hints.
//! let err = otrashi_scenarios::parse_str("apiVersion: otrashi/v2\n", "x.yaml").unwrap_err();
//! assert!(err.to_string().contains("x.yaml:1:13: error: unsupported apiVersion `otrashi/v2`"));
//! # Ok(())
//! # }
//! ```

// Tests may unwrap: a panic there is a failed test, which is what we want.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod catalog;
pub mod defaults;
pub mod diag;
pub mod docs;
pub mod duration;
pub mod incident;
pub mod library;
pub mod model;
pub mod parse;
pub mod rng;
pub mod schema;

pub use catalog::{FaultDef, FaultKind, Level, ParamDef, Via, CATALOG};
pub use diag::{Diagnostic, Diagnostics, Severity};
pub use duration::Duration;
pub use incident::{sample, ConcreteFault, ConcreteRedHerring, GroundTruth, Incident, TrueCause};
pub use library::{BundledScenario, BundledTopology};
pub use model::{Engine, Scenario, Service, ServiceKind, Topology};
pub use parse::{parse_bytes, parse_file, parse_str, parse_topology_str};
pub use schema::scenario_schema;
