//! The state one workload process serves from: its config, metrics, logger and one
//! connection pool per downstream.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, ConfigError, Kind, Protocol};
use crate::disk::DataLog;
use crate::log::Logger;
use crate::metrics::{Metrics, PeerLabels};
use crate::otlp::{Tracer, QUEUE_CAPACITY};
use crate::pool::Pool;
use crate::resp::RespPool;

/// How a downstream is reached.
#[derive(Debug)]
pub enum Transport {
    /// Another workload, over HTTP/1.1.
    Http(Arc<Pool>),
    /// A real Redis, over RESP.
    Redis(Arc<RespPool>),
}

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
    pub transport: Transport,
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
    /// The record file on the data volume, when the service has one.
    pub data: Option<DataLog>,
    /// Whether the last health check was slow.
    pub(crate) health_slow: std::sync::atomic::AtomicBool,
    /// Requests handled, for the spread of keys on a real Redis downstream.
    pub(crate) key_counter: AtomicU64,
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
        let mut metrics = Metrics::new();
        let data = config.data_dir.as_deref().map(|dir| {
            metrics.watch_data_dir(std::path::PathBuf::from(dir));
            DataLog::new(std::path::Path::new(dir), &config.service)
        });
        let max_age = Duration::from_millis(config.conn_max_age_ms);
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
                transport: match endpoint.protocol {
                    Protocol::Http => Transport::Http(Pool::new(
                        &d.name,
                        &endpoint.authority,
                        config.pool_size,
                        max_age,
                        in_use,
                    )),
                    Protocol::Redis => Transport::Redis(RespPool::new(
                        &d.name,
                        &endpoint.authority,
                        config.pool_size,
                        in_use,
                    )),
                },
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
            data,
            health_slow: std::sync::atomic::AtomicBool::new(false),
            key_counter: AtomicU64::new(0),
        }))
    }
}
