//! The state one workload process serves from: its config, metrics, logger and one
//! connection pool per downstream.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use crate::config::{Config, ConfigError, Kind};
use crate::log::Logger;
use crate::metrics::{Metrics, PeerLabels};
use crate::otlp::{Tracer, QUEUE_CAPACITY};
use crate::pool::Pool;

/// A downstream with its pool.
#[derive(Debug)]
pub struct Peer {
    /// Service name.
    pub name: String,
    /// Its kind, when declared.
    pub kind: Option<Kind>,
    /// Request path.
    pub path: String,
    /// Bounded connections to it.
    pub pool: Arc<Pool>,
}

/// Everything a request handler needs.
#[derive(Debug)]
pub struct Service {
    /// The validated configuration.
    pub config: Config,
    /// Log writer stamped with the service name.
    pub logger: Logger,
    /// Exported metrics.
    pub metrics: Metrics,
    /// Downstreams in call order.
    pub peers: Vec<Peer>,
    /// Span recorder; disabled when no OTLP endpoint is configured.
    pub tracer: Tracer,
    /// Lookups served, for a cache's even spread of hits.
    pub(crate) cache_lookups: AtomicU64,
}

impl Service {
    /// Builds the state, logging to stdout; fails on an invalid configuration.
    pub fn new(config: Config) -> Result<Arc<Service>, ConfigError> {
        let logger = Logger::new(config.service.clone());
        Service::with_logger(config, logger)
    }

    /// Builds the state with the given logger (e.g. [`Logger::in_memory`] in tests).
    pub fn with_logger(config: Config, logger: Logger) -> Result<Arc<Service>, ConfigError> {
        config.validate()?;
        let metrics = Metrics::new();
        let mut peers = Vec::with_capacity(config.downstreams.len());
        for d in &config.downstreams {
            let endpoint = d.endpoint()?;
            let labels = PeerLabels {
                peer: d.name.clone(),
            };
            metrics
                .pool_max
                .get_or_create(&labels)
                .set(i64::try_from(config.pool_size).unwrap_or(i64::MAX));
            let in_use = metrics.pool_in_use.get_or_create(&labels).clone();
            peers.push(Peer {
                name: d.name.clone(),
                kind: d.kind,
                path: endpoint.path,
                pool: Pool::new(&d.name, &endpoint.authority, config.pool_size, in_use),
            });
        }
        let tracer = if config.otlp_traces_endpoint.is_some() {
            Tracer::new(
                &config.service,
                &config.resource_attributes,
                &metrics,
                QUEUE_CAPACITY,
            )
        } else {
            Tracer::disabled()
        };
        Ok(Arc::new(Service {
            tracer,
            logger,
            config,
            metrics,
            peers,
            cache_lookups: AtomicU64::new(0),
        }))
    }
}
