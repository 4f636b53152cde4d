//! From an incident to containers and a wall-clock schedule. Docker runs real time on
//! a small host, so the scenario is scaled: its timeline is compressed by
//! [`Scale::factor`] (a 6-minute scenario runs in about 45 s; fault times and durations
//! scale the same way, telemetry is reported back in scenario time), the request rate
//! is capped, and per-request CPU is kept small so that a 2-core host copes with an
//! 8-service topology.

use std::time::Duration;

use otrashi_docker::image::{REDIS_PORT, WORKLOAD_PORT};
use otrashi_docker::ContainerSpec;
use otrashi_scenarios::incident::Incident;
use otrashi_scenarios::model::{Engine, Service, ServiceKind};

/// Label carrying the service a container plays.
pub const SERVICE_LABEL: &str = "otrashi.service";
/// Label carrying which replica of its service a container is (`0`, `1`, …).
pub const REPLICA_LABEL: &str = "otrashi.replica";
/// Default cap on containers per service ([`crate::docker::DockerOptions::max_replicas`]):
/// the shop topology's three front ends fit, and a 20-service topology with two
/// replicas each stays within what a 2-core host runs.
pub const DEFAULT_MAX_REPLICAS: u32 = 3;
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

/// The container name of replica `replica` of a service.
pub fn container_name(episode: &str, service: &str, replica: u32) -> String {
    format!("otrashi-{episode}-{service}-{replica}")
}

/// How many containers play `svc`: its `replicas`, at most `cap` (at least 1). A
/// service played by a real datastore runs one server: independent copies of a
/// datastore would each hold a part of the data, which no scenario means.
pub fn replicas(svc: &Service, cap: u32) -> u32 {
    if svc.engine.is_some() {
        1
    } else {
        svc.replicas.min(cap).max(1)
    }
}

/// The port a service's callers connect to inside the network.
pub fn service_port(svc: &Service) -> u16 {
    match svc.engine {
        Some(Engine::Redis) => REDIS_PORT,
        None => WORKLOAD_PORT,
    }
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
            let scheme = match c.engine {
                Some(Engine::Redis) => "redis",
                None => "http",
            };
            format!(
                "{}:{}={scheme}://{}:{}",
                c.name,
                kind(c.kind),
                c.name,
                service_port(c)
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
        // Keys on a real Redis: a small keyspace with a short expiry gives a cache a
        // hit ratio near 85 % within seconds at the capped rate.
        "OTRASHI_KEYSPACE=200".to_owned(),
        "OTRASHI_CACHE_TTL_S=20".to_owned(),
        "OTRASHI_VALUE_BYTES=1024".to_owned(),
    ]
}

/// The environment variable holding a service's upstream timeout: the one the
/// simulator's `bad_env_config` names, and the workload reads under the same name
/// (`cart-api` → `CART_API_UPSTREAM_TIMEOUT`).
pub fn setting_key(service: &str) -> String {
    crate::sim::effects::env_key(service)
}

/// The memory limit of a service's containers, bytes.
fn memory_bytes(svc: &Service) -> i64 {
    (svc.memory_mb.clamp(64.0, 1024.0) * 1024.0 * 1024.0) as i64
}

fn labels(svc: &Service, replica: u32) -> Vec<(String, String)> {
    vec![
        (SERVICE_LABEL.to_owned(), svc.name.clone()),
        (REPLICA_LABEL.to_owned(), replica.to_string()),
        (PID_LABEL.to_owned(), std::process::id().to_string()),
    ]
}

/// The container of a service played by a real Redis: `maxmemory` at three quarters of
/// the container's limit (the rest is the server's own overhead and the AOF rewrite
/// buffer), evicting least-recently-used keys for a cache and refusing writes for a
/// database (`noeviction`, as a datastore that must not lose data); commands slower
/// than 10 ms go to the slow log, which the gym reads.
pub fn redis_container(svc: &Service, episode: &str, image: &str, network: &str) -> ContainerSpec {
    let limit = memory_bytes(svc);
    let policy = if svc.kind == ServiceKind::Cache {
        "allkeys-lru"
    } else {
        "noeviction"
    };
    ContainerSpec {
        name: container_name(episode, &svc.name, 0),
        image: image.to_owned(),
        env: Vec::new(),
        cmd: vec![
            "--maxmemory".to_owned(),
            (limit / 4 * 3).to_string(),
            "--maxmemory-policy".to_owned(),
            policy.to_owned(),
            "--slowlog-log-slower-than".to_owned(),
            "10000".to_owned(),
            "--slowlog-max-len".to_owned(),
            "1024".to_owned(),
            "--latency-tracking".to_owned(),
            "yes".to_owned(),
        ],
        network: Some((network.to_owned(), svc.name.clone())),
        publish: Some(REDIS_PORT),
        memory_bytes: Some(limit),
        cpus: Some(svc.cpu_cores.clamp(0.25, 1.0)),
        restart_on_failure: Some(5),
        labels: labels(svc, 0),
        healthcheck: Some((
            vec![
                "/usr/local/bin/otrashi-workload".to_owned(),
                "redis-ping".to_owned(),
                REDIS_PORT.to_string(),
            ],
            Duration::from_secs(4),
        )),
        // The image keeps its append-only file in /data: size-limited here like every
        // container's, so `infra.disk_full` fills it as it would a real volume.
        tmpfs: vec![(DATA_DIR.to_owned(), DATA_DISK_BYTES)],
    }
}

/// The workload container of replica `replica` of a service. Every replica joins the
/// network under the service's name, so Docker's DNS spreads callers over them.
pub fn container(
    incident: &Incident,
    svc: &Service,
    replica: u32,
    episode: &str,
    image: &str,
    network: &str,
) -> ContainerSpec {
    ContainerSpec {
        name: container_name(episode, &svc.name, replica),
        image: image.to_owned(),
        env: env(incident, svc),
        cmd: Vec::new(),
        network: Some((network.to_owned(), svc.name.clone())),
        publish: Some(WORKLOAD_PORT),
        memory_bytes: Some(memory_bytes(svc)),
        cpus: Some(svc.cpu_cores.clamp(0.25, 1.0)),
        restart_on_failure: Some(5),
        labels: labels(svc, replica),
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

/// One container of the plan: the service it plays (index into the topology), which
/// replica, and its spec.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Index of the service in the topology.
    pub service: usize,
    /// Replica number, from 0.
    pub replica: u32,
    /// What to run.
    pub spec: ContainerSpec,
}

/// Every container of an episode: [`replicas`] per service (at most `cap`), workload
/// containers from `workload_image`, datastores with an engine from `redis_image`.
pub fn containers(
    incident: &Incident,
    episode: &str,
    workload_image: &str,
    redis_image: Option<&str>,
    network: &str,
    cap: u32,
) -> Vec<Planned> {
    let mut out = Vec::new();
    for (i, svc) in incident.topology.services.iter().enumerate() {
        for replica in 0..replicas(svc, cap) {
            let spec = match (svc.engine, redis_image) {
                (Some(Engine::Redis), Some(image)) => redis_container(svc, episode, image, network),
                _ => container(incident, svc, replica, episode, workload_image, network),
            };
            out.push(Planned {
                service: i,
                replica,
                spec,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop() -> Incident {
        let s = otrashi_scenarios::library::load("shop-cart-memory-leak").unwrap();
        otrashi_scenarios::sample(&s, 1).unwrap()
    }

    fn label<'a>(spec: &'a ContainerSpec, key: &str) -> &'a str {
        spec.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap()
    }

    #[test]
    fn every_replica_gets_a_container_under_the_service_alias() {
        let incident = shop();
        let plan = containers(&incident, "ep1", "wl:1", Some("redis:1"), "net", 3);
        let frontends: Vec<&Planned> = plan
            .iter()
            .filter(|p| incident.topology.services[p.service].name == "frontend")
            .collect();
        assert_eq!(frontends.len(), 3);
        for (n, p) in frontends.iter().enumerate() {
            assert_eq!(p.spec.name, format!("otrashi-ep1-frontend-{n}"));
            assert_eq!(
                p.spec.network,
                Some(("net".to_owned(), "frontend".to_owned()))
            );
            assert_eq!(label(&p.spec, SERVICE_LABEL), "frontend");
            assert_eq!(label(&p.spec, REPLICA_LABEL), n.to_string());
        }
        // api services default to 2 replicas; the datastores run one server each.
        let count = |name: &str| {
            plan.iter()
                .filter(|p| incident.topology.services[p.service].name == name)
                .count()
        };
        assert_eq!(count("cart"), 2);
        assert_eq!(count("redis"), 1);
        assert_eq!(count("postgres"), 1);
        assert_eq!(plan.len(), 3 + 5 * 2 + 1 + 1);
        let names: std::collections::HashSet<&str> =
            plan.iter().map(|p| p.spec.name.as_str()).collect();
        assert_eq!(names.len(), plan.len(), "container names are unique");
        // The cap bounds every service.
        let capped = containers(&incident, "ep1", "wl:1", Some("redis:1"), "net", 1);
        assert_eq!(capped.len(), incident.topology.services.len());
    }

    #[test]
    fn a_redis_played_service_runs_redis_and_its_callers_speak_resp() {
        let incident = shop();
        let plan = containers(&incident, "ep1", "wl:1", Some("redis:1"), "net", 3);
        let redis = plan
            .iter()
            .find(|p| incident.topology.services[p.service].name == "redis")
            .unwrap();
        assert_eq!(redis.spec.image, "redis:1");
        assert_eq!(redis.spec.publish, Some(REDIS_PORT));
        let arg = |k: &str| {
            let i = redis.spec.cmd.iter().position(|a| a == k).unwrap();
            redis.spec.cmd[i + 1].clone()
        };
        // 2Gi asked, the container capped at 1 GiB, maxmemory three quarters of it.
        assert_eq!(arg("--maxmemory"), (768u64 << 20).to_string());
        assert_eq!(arg("--maxmemory-policy"), "allkeys-lru");
        assert_eq!(
            redis.spec.healthcheck.as_ref().unwrap().0[1],
            "redis-ping".to_owned()
        );
        let cart = plan
            .iter()
            .find(|p| incident.topology.services[p.service].name == "cart")
            .unwrap();
        let downstreams = cart
            .spec
            .env
            .iter()
            .find(|e| e.starts_with("OTRASHI_DOWNSTREAMS="))
            .unwrap();
        assert_eq!(
            downstreams,
            "OTRASHI_DOWNSTREAMS=redis:cache=redis://redis:6379"
        );
        let catalog = plan
            .iter()
            .find(|p| incident.topology.services[p.service].name == "catalog")
            .unwrap();
        assert!(catalog
            .spec
            .env
            .iter()
            .any(|e| e.contains("postgres:database=http://postgres:8080")));
    }

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
        let spec = container(&incident, db, 0, "ep", "img", "net");
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
