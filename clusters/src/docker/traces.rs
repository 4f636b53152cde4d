//! Traces of a Docker episode: an OTLP/HTTP receiver ([`crate::otlp`]) bound to the
//! episode network's gateway on an ephemeral port — the address containers reach the
//! host at — and `OTEL_EXPORTER_OTLP_ENDPOINT` on every workload container, so the
//! workloads' real spans become the episode's spans.
//!
//! Fallback: spans rebuilt from access-log lines ([`super::logs`]) are kept only for
//! services that exported no span during the episode — all of them when the receiver
//! could not bind (a gym that cannot reach the network's gateway, e.g. an engine on
//! another host). The rebuilt spans share the OTLP ids (the access line logs the
//! server span id and the caller's span), so a trace mixing both still links up.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::query_parameters::InspectNetworkOptions;
use otrashi_docker::Engine;
use otrashi_gym::telemetry::Span;
use tokio_util::sync::CancellationToken;

use super::plan::Scale;
use crate::otlp::{Receiver, ReceiverStats, SpanStore, DEFAULT_MAX_BODY};

/// How long the spans must stop arriving before the run is considered flushed: more
/// than the workload's export interval (500 ms).
const QUIET: Duration = Duration::from_millis(800);
/// The longest wait for the last spans.
const FLUSH_LIMIT: Duration = Duration::from_secs(4);

/// The episode's receiver, and the clock origin its spans are placed against.
#[derive(Debug, Default)]
pub(super) struct Traces {
    receiver: Option<Receiver>,
    /// Unix µs of scenario time 0; 0 until the run starts (spans before are refused).
    origin_us: Arc<AtomicI64>,
    /// Why the receiver is not running, when it is not.
    pub unavailable: Option<String>,
}

impl Traces {
    /// Starts the receiver on the gateway of network `network` (an id or name);
    /// `services` are the episode's services, `end_ms` the end of the scenario. A
    /// receiver that cannot start leaves the episode with access-log spans.
    pub async fn start(
        engine: &Engine,
        network: &str,
        services: Vec<String>,
        scale: Scale,
        end_ms: u64,
    ) -> Traces {
        let mut traces = Traces::default();
        let gateway = match gateway(engine, network).await {
            Ok(ip) => ip,
            Err(reason) => {
                traces.unavailable = Some(reason);
                return traces;
            }
        };
        let origin = traces.origin_us.clone();
        let clock = Arc::new(move |ns: u64| {
            let origin = origin.load(Ordering::Relaxed);
            let wall_us = i64::try_from(ns / 1000).ok()?.checked_sub(origin)?;
            if origin == 0 || wall_us < 0 {
                return None;
            }
            let t = (wall_us as f64 / scale.factor) as u64;
            (t < end_ms * 1000).then_some(t)
        });
        match Receiver::bind(
            SocketAddr::new(gateway, 0),
            services,
            clock,
            DEFAULT_MAX_BODY,
        )
        .await
        {
            Ok(r) => traces.receiver = Some(r),
            Err(e) => traces.unavailable = Some(e.to_string()),
        }
        traces
    }

    /// The environment a workload container exports its spans with (empty without a
    /// receiver). `service.instance.id` is left to the workload's default, the
    /// container's hostname (its short id), which stays right when a fault recreates
    /// the container from the same spec under another name.
    pub fn env(&self) -> Vec<String> {
        match &self.receiver {
            Some(r) => vec![format!("OTEL_EXPORTER_OTLP_ENDPOINT={}", r.endpoint())],
            None => Vec::new(),
        }
    }

    /// Scenario time 0 is now (`unix_ms`).
    pub fn begin(&self, unix_ms: i64) {
        self.origin_us.store(unix_ms * 1000, Ordering::Relaxed);
    }

    /// Waits until the exporters' last batches are in (no span for [`QUIET`], at most
    /// [`FLUSH_LIMIT`], less when `cancel` fires) and takes the spans; `None` without
    /// a receiver.
    pub async fn finish(&mut self, cancel: &CancellationToken) -> Option<SpanStore> {
        let receiver = self.receiver.as_ref()?;
        let begin = Instant::now();
        let mut seen = receiver.stats().accepted + receiver.stats().rejected;
        let mut quiet_since = Instant::now();
        while begin.elapsed() < FLUSH_LIMIT && quiet_since.elapsed() < QUIET {
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
            let now = receiver.stats().accepted + receiver.stats().rejected;
            if now != seen {
                seen = now;
                quiet_since = Instant::now();
            }
        }
        Some(receiver.take())
    }

    /// Stops the receiver and closes its port (idempotent).
    pub async fn shutdown(&mut self) {
        if let Some(mut r) = self.receiver.take() {
            r.shutdown().await;
        }
    }
}

impl super::DockerEnv {
    /// What the episode's OTLP receiver has seen (`None` when it is not running: the
    /// reason is in [`DockerEnv::otlp_unavailable`](super::DockerEnv::otlp_unavailable)).
    /// Valid until teardown.
    pub fn otlp_stats(&self) -> Option<ReceiverStats> {
        self.traces.receiver.as_ref().map(Receiver::stats)
    }

    /// Why the episode has no OTLP receiver (its spans then come from access logs).
    pub fn otlp_unavailable(&self) -> Option<&str> {
        self.traces.unavailable.as_deref()
    }

    /// The endpoint the workloads export to (`http://gateway:port`).
    pub fn otlp_endpoint(&self) -> Option<String> {
        self.traces.receiver.as_ref().map(Receiver::endpoint)
    }
}

/// The gateway address of a network.
async fn gateway(engine: &Engine, network: &str) -> Result<IpAddr, String> {
    let inspect = engine
        .docker()
        .inspect_network(network, None::<InspectNetworkOptions>)
        .await
        .map_err(|e| format!("inspecting network {network}: {e}"))?;
    inspect
        .ipam
        .and_then(|i| i.config)
        .into_iter()
        .flatten()
        .filter_map(|c| c.gateway)
        .find_map(|g| g.parse::<IpAddr>().ok().filter(IpAddr::is_ipv4))
        .ok_or_else(|| format!("network {network} has no IPv4 gateway"))
}

/// The episode's spans: OTLP spans, plus access-log spans of the services that
/// exported none (see the module docs). `operations`/`spans` hold the access-log
/// ones on entry and the result on return.
pub(super) fn merge(otlp: Option<SpanStore>, operations: &mut Vec<String>, spans: &mut Vec<Span>) {
    let Some(otlp) = otlp else {
        return;
    };
    let exporting: std::collections::HashSet<_> = otlp.spans.iter().map(|s| s.service).collect();
    spans.retain(|s| !exporting.contains(&s.service));
    otlp.merge_into(operations, spans);
    spans.sort_by_key(|s| (s.trace_id, s.start_us));
}

#[cfg(test)]
mod tests {
    use super::*;
    use otrashi_gym::telemetry::SpanStatus;

    fn span(service: u16, span_id: u64, operation: u32) -> Span {
        Span {
            trace_id: 7,
            span_id,
            parent_id: None,
            service,
            operation,
            start_us: span_id,
            duration_us: 1,
            status: SpanStatus::Ok,
            http_status: 200,
            error: None,
        }
    }

    #[test]
    fn access_log_spans_remain_only_for_services_without_otlp_spans() {
        let mut ops = vec!["GET /".to_owned()];
        let mut spans = vec![span(0, 1, 0), span(1, 2, 0)];
        let mut otlp = SpanStore::default();
        otlp.operations = vec!["call cart".to_owned(), "GET /".to_owned()];
        otlp.spans = vec![span(0, 1, 1), span(0, 3, 0)];
        merge(Some(otlp), &mut ops, &mut spans);
        assert_eq!(ops, ["GET /", "call cart"]);
        let got: Vec<_> = spans
            .iter()
            .map(|s| (s.service, s.span_id, s.operation))
            .collect();
        assert_eq!(got, [(0, 1, 0), (1, 2, 0), (0, 3, 1)]);

        let mut unchanged = vec![span(1, 2, 0)];
        merge(None, &mut ops, &mut unchanged);
        assert_eq!(unchanged.len(), 1);
    }
}
