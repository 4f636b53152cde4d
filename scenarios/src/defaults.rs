//! Defaults for services by kind: the one place that says what a `database` gets when a
//! topology does not say.
//!
//! The numbers are those of a small but realistic deployment: front ends and APIs run a
//! few replicas with modest CPU, datastores one bigger instance.

use crate::model::{Runtime, ServiceKind};

/// What a service of a kind gets for the fields a topology leaves out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServiceDefaults {
    /// Language runtime.
    pub runtime: Runtime,
    /// Replicas.
    pub replicas: u32,
    /// CPU limit per replica, in cores.
    pub cpu_cores: f64,
    /// Memory limit per replica, in MB.
    pub memory_mb: f64,
    /// Median own latency per request, in ms.
    pub latency_ms: f64,
    /// Outbound connection pool size per replica.
    pub pool_size: u32,
}

/// The defaults for `kind`.
pub fn service_defaults(kind: ServiceKind) -> ServiceDefaults {
    match kind {
        ServiceKind::Web => ServiceDefaults {
            runtime: Runtime::Go,
            replicas: 2,
            cpu_cores: 1.0,
            memory_mb: 512.0,
            latency_ms: 5.0,
            pool_size: 100,
        },
        ServiceKind::Api => ServiceDefaults {
            runtime: Runtime::Java,
            replicas: 2,
            cpu_cores: 1.0,
            memory_mb: 1024.0,
            latency_ms: 10.0,
            pool_size: 50,
        },
        ServiceKind::Worker => ServiceDefaults {
            runtime: Runtime::Python,
            replicas: 1,
            cpu_cores: 1.0,
            memory_mb: 512.0,
            latency_ms: 50.0,
            pool_size: 20,
        },
        ServiceKind::Cache => ServiceDefaults {
            runtime: Runtime::Native,
            replicas: 1,
            cpu_cores: 1.0,
            memory_mb: 1024.0,
            latency_ms: 0.5,
            pool_size: 0,
        },
        ServiceKind::Database => ServiceDefaults {
            runtime: Runtime::Native,
            replicas: 1,
            cpu_cores: 2.0,
            memory_mb: 4096.0,
            latency_ms: 2.0,
            pool_size: 0,
        },
        ServiceKind::Queue => ServiceDefaults {
            runtime: Runtime::Native,
            replicas: 1,
            cpu_cores: 1.0,
            memory_mb: 2048.0,
            latency_ms: 1.0,
            pool_size: 0,
        },
    }
}
