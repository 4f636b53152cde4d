//! `list_services`: the service catalog a real engineer would look at first.
//!
//! The topology is not ground truth: it is the map of the system, the same before and
//! during the incident.

use otrashi_scenarios::Topology;
use serde::{Deserialize, Serialize};

/// One service as the catalog lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// Its name.
    pub name: String,
    /// Its role (`web`, `api`, `worker`, `cache`, `database`, `queue`).
    pub kind: String,
    /// Its language runtime.
    pub runtime: String,
    /// Replicas it is configured to run.
    pub replicas: u32,
    /// Services it calls.
    pub calls: Vec<String>,
    /// Services that call it.
    pub called_by: Vec<String>,
}

/// Result of `list_services`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicesResult {
    /// The service that receives user traffic.
    pub entry: String,
    /// Every service, callers before callees where the graph allows.
    pub services: Vec<ServiceInfo>,
}

/// Answers `list_services`.
pub fn list_services(topology: &Topology) -> ServicesResult {
    let order = topology
        .call_order()
        .unwrap_or_else(|| (0..topology.services.len()).collect());
    let services = order
        .into_iter()
        .filter_map(|i| topology.services.get(i))
        .map(|s| ServiceInfo {
            name: s.name.clone(),
            kind: s.kind.as_str().to_owned(),
            runtime: s.runtime.as_str().to_owned(),
            replicas: s.replicas,
            calls: s.calls.clone(),
            called_by: topology
                .callers_of(&s.name)
                .map(|c| c.name.clone())
                .collect(),
        })
        .collect();
    ServicesResult {
        entry: topology.entry.clone(),
        services,
    }
}
