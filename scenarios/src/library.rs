//! The bundled library: topologies and scenarios compiled into the binary, so that
//! `otrashi run shop-cart-memory-leak` works without any file at hand.

use std::sync::OnceLock;

use crate::diag::Diagnostics;
use crate::model::{Scenario, Topology};

/// A topology file bundled with otrashi.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundledTopology {
    /// Its name (`shop`), as scenarios refer to it.
    pub name: &'static str,
    /// Its path in the repository (`library/topologies/shop.yaml`).
    pub file: &'static str,
    /// Its YAML text.
    pub source: &'static str,
}

/// A scenario file bundled with otrashi.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundledScenario {
    /// Its name (`shop-cart-memory-leak`), equal to its `metadata.name`.
    pub name: &'static str,
    /// Its path in the repository (`library/shop-cart-memory-leak.yaml`).
    pub file: &'static str,
    /// Its YAML text.
    pub source: &'static str,
}

macro_rules! topology {
    ($name:literal) => {
        BundledTopology {
            name: $name,
            file: concat!("library/topologies/", $name, ".yaml"),
            source: include_str!(concat!("../library/topologies/", $name, ".yaml")),
        }
    };
}

macro_rules! bundled {
    ($name:literal) => {
        BundledScenario {
            name: $name,
            file: concat!("library/", $name, ".yaml"),
            source: include_str!(concat!("../library/", $name, ".yaml")),
        }
    };
}

static TOPOLOGIES: [BundledTopology; 3] =
    [topology!("chain"), topology!("shop"), topology!("platform")];

static SCENARIOS: &[BundledScenario] = &[
    bundled!("chain-any-slow-handler"),
    bundled!("chain-api-crash-loop"),
    bundled!("chain-api-error-injection"),
    bundled!("chain-db-disk-full"),
    bundled!("chain-db-network-delay"),
    bundled!("chain-hot-loop"),
    bundled!("ingest-worker-panic-crash"),
    bundled!("platform-bandwidth-limit"),
    bundled!("platform-cpu-saturation"),
    bundled!("platform-mailer-dependency-removed"),
    bundled!("platform-network-partition"),
    bundled!("platform-notifications-memory-leak"),
    bundled!("platform-orders-retry-storm-and-db-saturation"),
    bundled!("platform-pricing-liveness-probe"),
    bundled!("platform-scale-to-zero"),
    bundled!("platform-sessions-process-freeze"),
    bundled!("platform-users-db-dns-failure"),
    bundled!("shop-bad-env-config-with-noisy-neighbour"),
    bundled!("shop-cache-bypass"),
    bundled!("shop-cart-memory-leak"),
    bundled!("shop-cpu-throttle"),
    bundled!("shop-failed-deploy"),
    bundled!("shop-network-loss"),
    bundled!("shop-oom-kill"),
    bundled!("shop-pod-kill"),
    bundled!("shop-payment-connection-leak"),
    bundled!("shop-payment-misrouted-port"),
    bundled!("shop-postgres-disk-slow"),
    bundled!("shop-recommendation-panic-crash"),
    bundled!("shop-redis-memory-pressure"),
    bundled!("shop-retry-storm-with-unrelated-deploy"),
    bundled!("shop-slow-query"),
];

/// Every bundled topology file.
pub fn topologies() -> &'static [BundledTopology] {
    &TOPOLOGIES
}

/// The names of the bundled topologies.
pub fn topology_names() -> Vec<&'static str> {
    TOPOLOGIES.iter().map(|t| t.name).collect()
}

/// The bundled topologies, parsed once. A bundled file that fails to parse is left
/// out here; a unit test guarantees that none does.
fn parsed_topologies() -> &'static [Topology] {
    static PARSED: OnceLock<Vec<Topology>> = OnceLock::new();
    PARSED.get_or_init(|| {
        TOPOLOGIES
            .iter()
            .filter_map(|t| crate::parse::parse_topology_str(t.source, t.file).ok())
            .collect()
    })
}

/// The bundled topology called `name`.
pub fn topology(name: &str) -> Option<Topology> {
    parsed_topologies().iter().find(|t| t.name == name).cloned()
}

/// Every bundled scenario file.
pub fn scenarios() -> &'static [BundledScenario] {
    SCENARIOS
}

/// Parses the bundled scenario called `name`. An unknown name is reported as a
/// diagnostic with the closest bundled name as a hint.
pub fn load(name: &str) -> Result<Scenario, Diagnostics> {
    match SCENARIOS.iter().find(|s| s.name == name) {
        Some(s) => crate::parse::parse_str(s.source, s.file),
        None => {
            let mut d = crate::diag::Diagnostic::file_error(
                name,
                format!("`{name}` is not a bundled scenario"),
            );
            if let Some(s) = crate::catalog::closest(name, SCENARIOS.iter().map(|s| s.name)) {
                d = d.with_hint(format!("did you mean `{s}`?"));
            }
            Err(Diagnostics(vec![d]))
        }
    }
}
