//! Prometheus metrics with the names the simulator uses, so a query written against
//! one backend works on the other.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::procfs;

/// Latency buckets in seconds, 1 ms to 10 s.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// Labels of `http_requests_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    /// The HTTP status code.
    pub code: String,
}

/// Labels of `http_client_requests_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClientLabels {
    /// The downstream service.
    pub peer: String,
    /// `ok`, `error` (5xx), `timeout`, `connect_error` or `pool_timeout`.
    pub outcome: String,
}

/// Labels of per-downstream metrics.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PeerLabels {
    /// The downstream service.
    pub peer: String,
}

/// Labels of `cache_requests_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// `hit`, `miss` or `bypass`.
    pub result: String,
}

/// Labels of `otel_spans_dropped_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DropLabels {
    /// `queue_full` (spans arrived faster than they were exported), `export_failed`
    /// (the receiver did not answer 2xx) or `rejected` (the receiver refused some).
    pub reason: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric one workload process exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `http_requests_total{code}`: requests served.
    pub requests: Family<CodeLabels, Counter>,
    /// `http_request_duration_seconds`: time to serve `GET /`.
    pub request_duration: Histogram,
    /// `http_client_requests_total{peer,outcome}`: downstream attempts.
    pub client_requests: Family<ClientLabels, Counter>,
    /// `http_client_request_duration_seconds{peer}`: downstream attempt time.
    pub client_duration: HistogramFamily<PeerLabels>,
    /// `db_pool_connections_in_use{peer}`: pool slots taken (leaked ones included).
    pub pool_in_use: Family<PeerLabels, Gauge>,
    /// `db_pool_connections_max{peer}`: pool size.
    pub pool_max: Family<PeerLabels, Gauge>,
    /// `db_queries_total`: calls to downstreams of kind `database`.
    pub db_queries: Counter,
    /// `db_query_duration_seconds`: their duration.
    pub db_query_duration: Histogram,
    /// `cache_requests_total{result}`: cache lookups by result.
    pub cache_requests: Family<CacheLabels, Counter>,
    /// `otel_spans_exported_total`: spans the OTLP receiver accepted.
    pub spans_exported: Counter,
    /// `otel_spans_dropped_total{reason}`: spans lost on the way to the receiver.
    pub spans_dropped: Family<DropLabels, Counter>,
    cache_hit_ratio: Gauge<f64, AtomicU64>,
    cache_hits: AtomicU64,
    cache_lookups: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<CodeLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests served, by status code",
            requests.clone(),
        );
        let request_duration = histogram();
        registry.register(
            "http_request_duration_seconds",
            "Time to serve a request",
            request_duration.clone(),
        );
        let client_requests = Family::<ClientLabels, Counter>::default();
        registry.register(
            "http_client_requests",
            "Downstream call attempts, by peer and outcome",
            client_requests.clone(),
        );
        let client_duration: HistogramFamily<PeerLabels> =
            Family::new_with_constructor(histogram as fn() -> Histogram);
        registry.register(
            "http_client_request_duration_seconds",
            "Time of one downstream attempt",
            client_duration.clone(),
        );
        let pool_in_use = Family::<PeerLabels, Gauge>::default();
        registry.register(
            "db_pool_connections_in_use",
            "Connection pool slots taken, by peer",
            pool_in_use.clone(),
        );
        let pool_max = Family::<PeerLabels, Gauge>::default();
        registry.register(
            "db_pool_connections_max",
            "Connection pool size, by peer",
            pool_max.clone(),
        );
        let db_queries = Counter::default();
        registry.register(
            "db_queries",
            "Queries sent to database peers",
            db_queries.clone(),
        );
        let db_query_duration = histogram();
        registry.register(
            "db_query_duration_seconds",
            "Time of a query to a database peer",
            db_query_duration.clone(),
        );
        let cache_requests = Family::<CacheLabels, Counter>::default();
        registry.register(
            "cache_requests",
            "Cache lookups, by result",
            cache_requests.clone(),
        );
        let cache_hit_ratio = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "cache_hit_ratio",
            "Share of lookups answered by the cache since start (bypasses count as misses)",
            cache_hit_ratio.clone(),
        );
        let spans_exported = Counter::default();
        registry.register(
            "otel_spans_exported",
            "Spans the OTLP trace receiver accepted",
            spans_exported.clone(),
        );
        let spans_dropped = Family::<DropLabels, Counter>::default();
        registry.register(
            "otel_spans_dropped",
            "Spans lost before the OTLP trace receiver accepted them, by reason",
            spans_dropped.clone(),
        );
        registry.register_collector(Box::new(ProcessCollector));
        Metrics {
            registry,
            requests,
            request_duration,
            client_requests,
            client_duration,
            pool_in_use,
            pool_max,
            db_queries,
            db_query_duration,
            cache_requests,
            spans_exported,
            spans_dropped,
            cache_hit_ratio,
            cache_hits: AtomicU64::new(0),
            cache_lookups: AtomicU64::new(0),
        }
    }

    /// Counts one cache lookup and refreshes `cache_hit_ratio`.
    pub fn record_cache(&self, result: &str) {
        self.cache_requests
            .get_or_create(&CacheLabels {
                result: result.to_owned(),
            })
            .inc();
        let hits = self
            .cache_hits
            .fetch_add(u64::from(result == "hit"), Ordering::Relaxed)
            + u64::from(result == "hit");
        let lookups = self.cache_lookups.fetch_add(1, Ordering::Relaxed) + 1;
        self.cache_hit_ratio.set(hits as f64 / lookups as f64);
    }

    /// Counts one downstream attempt.
    pub fn record_client(&self, peer: &str, outcome: &str, seconds: f64) {
        self.client_requests
            .get_or_create(&ClientLabels {
                peer: peer.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.client_duration
            .get_or_create(&PeerLabels {
                peer: peer.to_owned(),
            })
            .observe(seconds);
    }

    /// Exports `container_fs_usage_bytes`: the bytes of the files on the data volume
    /// at `dir`, read at scrape time.
    pub fn watch_data_dir(&mut self, dir: std::path::PathBuf) {
        self.registry
            .register_collector(Box::new(DataDirCollector { dir }));
    }

    /// The exposition text (OpenMetrics, which Prometheus scrapes as text format).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Reads `/proc/self` at scrape time, so the values are never stale.
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        if let Some(rss) = procfs::resident_memory_bytes() {
            let gauge = ConstGauge::new(i64::try_from(rss).unwrap_or(i64::MAX));
            let metric = encoder.encode_descriptor(
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                None,
                gauge.metric_type(),
            )?;
            gauge.encode(metric)?;
        }
        if let Some(cpu) = procfs::cpu_seconds() {
            let counter = ConstCounter::new(cpu);
            let metric = encoder.encode_descriptor(
                "process_cpu_seconds",
                "User and system CPU time spent, in seconds",
                None,
                counter.metric_type(),
            )?;
            counter.encode(metric)?;
        }
        Ok(())
    }
}

/// Reads the data volume's usage at scrape time.
#[derive(Debug)]
struct DataDirCollector {
    dir: std::path::PathBuf,
}

impl Collector for DataDirCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        if let Ok(bytes) = crate::disk::usage_bytes(&self.dir) {
            let gauge = ConstGauge::new(i64::try_from(bytes).unwrap_or(i64::MAX));
            let metric = encoder.encode_descriptor(
                "container_fs_usage_bytes",
                "Bytes used on the service's data volume",
                None,
                gauge.metric_type(),
            )?;
            gauge.encode(metric)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_uses_the_simulator_names() {
        let m = Metrics::new();
        m.requests
            .get_or_create(&CodeLabels {
                code: "200".to_owned(),
            })
            .inc();
        m.request_duration.observe(0.02);
        m.record_client("db", "ok", 0.003);
        m.record_cache("hit");
        m.record_cache("bypass");
        let text = m.encode().unwrap();
        for needle in [
            "http_requests_total{code=\"200\"} 1",
            "http_request_duration_seconds_bucket{le=\"0.025\"} 1",
            "http_client_requests_total{peer=\"db\",outcome=\"ok\"} 1",
            "http_client_request_duration_seconds_count{peer=\"db\"} 1",
            "cache_hit_ratio 0.5",
            "process_resident_memory_bytes ",
            "process_cpu_seconds_total ",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }
}
