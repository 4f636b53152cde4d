//! From an incident to containers and a wall-clock schedule. Docker runs real time on
//! a small host, so the scenario is scaled: its timeline is compressed by
//! [`Scale::factor`] (a 6-minute scenario runs in about 45 s; fault times and durations
//! scale the same way, telemetry is reported back in scenario time), the request rate
//! is capped, and per-request CPU is kept small so that a 2-core host copes with an
//! 8-service topology.

use std::time::Duration;

use otrashi_docker::image::WORKLOAD_PORT;
use otrashi_docker::ContainerSpec;
use otrashi_scenarios::incident::Incident;
use otrashi_scenarios::model::{Service, ServiceKind};

/// Label carrying the service a container plays.
pub const SERVICE_LABEL: &str = "otrashi.service";
/// Label carrying the PID of the gym process that owns the episode.
pub const PID_LABEL: &str = "otrashi.pid";
/// Bearer token of the workload's admin endpoint (the containers are only reachable
/// from this host).
pub const ADMIN_TOKEN: &str = "otrashi-gym";

/// Where every workload container has its data volume: a size-limited tmpfs that
/// `infra.disk_full` really fills (real datastores keep their files here too).
pub const DATA_DIR: &str = "/data";
/// Size of the data volume, bytes.
pub const DATA_DISK_BYTES: u64 = 64 << 20;
/// Pooled connections are re-dialled, so names are resolved again, after this long
/// (wall ms; scenarios run compressed, so this is minutes in scenario time).
pub const CONN_MAX_AGE_MS: u64 = 2_000;
/// The good value of a service's `<SERVICE>_UPSTREAM_TIMEOUT` (its call timeout).
pub const UPSTREAM_TIMEOUT: &str = "1000ms";

/// How a scenario is fitted onto a Docker host.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// Wall seconds per scenario second (`<= 1`).
    pub factor: f64,
    /// Requests per second the load generator sends at most.
    pub rps_cap: f64,
}

/// Defaults: a scenario runs in at most this many wall seconds.
pub const DEFAULT_MAX_WALL_S: f64 = 45.0;
/// Default request-rate cap.
pub const DEFAULT_RPS_CAP: f64 = 20.0;

impl Scale {
    /// The scale that fits `incident` into `max_wall_s` seconds.
    pub fn fit(incident: &Incident, max_wall_s: f64, rps_cap: f64) -> Scale {
        let end_s = incident.timeline.end().as_millis() as f64 / 1000.0;
        let factor = if end_s > max_wall_s && end_s > 0.0 {
            max_wall_s / end_s
        } else {
            1.0
        };
        Scale { factor, rps_cap }
    }

    /// The wall time of a scenario time (ms).
    pub fn wall(&self, scenario_ms: u64) -> Duration {
        Duration::from_secs_f64(scenario_ms as f64 * self.factor / 1000.0)
    }

    /// The scenario time (ms) of a wall time since the start.
    pub fn scenario_ms(&self, wall: Duration) -> u64 {
        (wall.as_secs_f64() * 1000.0 / self.factor) as u64
    }

    /// The request rate to send for a scenario rate.
    pub fn rps(&self, scenario_rps: f64) -> f64 {
        scenario_rps.clamp(0.5, self.rps_cap)
    }
}

/// The container name of a service.
pub fn container_name(episode: &str, service: &str) -> String {
    format!("otrashi-{episode}-{service}")
}

/// The network name of an episode.
pub fn network_name(episode: &str) -> String {
    format!("otrashi-{episode}")
}

/// The workload's kind name for a service kind (they mirror each other).
fn kind(k: ServiceKind) -> &'static str {
    k.as_str()
}

/// The environment of a service's workload container (failpoints and overrides are
/// appended by faults that need them).
pub fn env(incident: &Incident, svc: &Service) -> Vec<String> {
    let downstreams: Vec<String> = svc
        .calls
        .iter()
        .filter_map(|c| incident.topology.service(c))
        .map(|c| {
            format!(
                "{}:{}=http://{}:{WORKLOAD_PORT}",
                c.name,
                kind(c.kind),
                c.name
            )
        })
        .collect();
    // Waits are real time: keep them, bounded, so timeouts and slow paths behave. CPU
    // per request is small: 20 rps through 8 services must fit in 2 cores.
    let latency = svc.latency_ms.clamp(0.0, 200.0).round() as u64;
    vec![
        format!("OTRASHI_SERVICE={}", svc.name),
        format!("OTRASHI_KIND={}", kind(svc.kind)),
        format!("OTRASHI_DOWNSTREAMS={}", downstreams.join(",")),
        format!("OTRASHI_LATENCY_MS={latency}"),
        "OTRASHI_CPU_MS=0.5".to_owned(),
        "OTRASHI_MEMORY_KB_PER_REQUEST=16".to_owned(),
        format!("OTRASHI_POOL_SIZE={}", svc.pool_size.clamp(2, 64)),
        "OTRASHI_CALL_TIMEOUT_MS=1000".to_owned(),
        format!("OTRASHI_ADMIN_TOKEN={ADMIN_TOKEN}"),
        // The data volume, connection lifetime and the service's own timeout setting
        // (what disk_full, dns_failure and bad_env_config act on).
        format!("OTRASHI_DATA_DIR={DATA_DIR}"),
        format!("OTRASHI_CONN_MAX_AGE_MS={CONN_MAX_AGE_MS}"),
        format!("{}={UPSTREAM_TIMEOUT}", setting_key(&svc.name)),
    ]
}

/// The environment variable holding a service's upstream timeout: the one the
/// simulator's `bad_env_config` names, and the workload reads under the same name
/// (`cart-api` → `CART_API_UPSTREAM_TIMEOUT`).
pub fn setting_key(service: &str) -> String {
    crate::sim::effects::env_key(service)
}

/// The container of a service (one per service: replicas are not modelled on Docker).
pub fn container(
    incident: &Incident,
    svc: &Service,
    episode: &str,
    image: &str,
    network: &str,
) -> ContainerSpec {
    ContainerSpec {
        name: container_name(episode, &svc.name),
        image: image.to_owned(),
        env: env(incident, svc),
        cmd: Vec::new(),
        network: Some((network.to_owned(), svc.name.clone())),
        publish: Some(WORKLOAD_PORT),
        memory_bytes: Some((svc.memory_mb.clamp(64.0, 1024.0) * 1024.0 * 1024.0) as i64),
        cpus: Some(svc.cpu_cores.clamp(0.25, 1.0)),
        restart_on_failure: Some(5),
        labels: vec![
            (SERVICE_LABEL.to_owned(), svc.name.clone()),
            (PID_LABEL.to_owned(), std::process::id().to_string()),
        ],
        // Every few seconds: an exec per check costs CPU on a small host.
        healthcheck: Some((
            vec![
                "/usr/local/bin/otrashi-workload".to_owned(),
                "health".to_owned(),
            ],
            Duration::from_secs(4),
        )),
        tmpfs: vec![(DATA_DIR.to_owned(), DATA_DISK_BYTES)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_container_gets_a_data_volume_and_its_own_timeout_setting() {
        let yaml = "apiVersion: otrashi/v1
kind: Scenario
metadata: {name: plan}
topology:
  name: mini
  entry: web
  services:
    web: {kind: web, calls: [orders-db]}
    orders-db: {kind: database}
load: {rps: 10, pattern: steady}
timeline: {warmup: 2s, duration: 10s}
faults:
  - {id: f, kind: infra.disk_full, target: orders-db, at: 4s}
";
        let sc = otrashi_scenarios::parse::parse_str(yaml, "plan").unwrap();
        let incident = otrashi_scenarios::incident::sample(&sc, 1).unwrap();
        let db = incident.topology.service("orders-db").unwrap();
        let spec = container(&incident, db, "ep", "img", "net");
        assert_eq!(spec.tmpfs, vec![(DATA_DIR.to_owned(), DATA_DISK_BYTES)]);
        assert_eq!(DATA_DIR, "/data");
        for entry in [
            "OTRASHI_DATA_DIR=/data".to_owned(),
            format!("OTRASHI_CONN_MAX_AGE_MS={CONN_MAX_AGE_MS}"),
            "ORDERS_DB_UPSTREAM_TIMEOUT=1000ms".to_owned(),
        ] {
            assert!(
                spec.env.contains(&entry),
                "{entry} missing from {:?}",
                spec.env
            );
        }
        // The key the simulator's bad_env_config names.
        assert_eq!(setting_key("orders-db"), "ORDERS_DB_UPSTREAM_TIMEOUT");
    }
}
