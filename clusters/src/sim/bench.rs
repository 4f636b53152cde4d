//! A fixed 10-service, 10-minute incident built in code, for `otrashi bench` and the
//! speed example: the same work on every machine, no scenario files needed.

use std::collections::BTreeMap;

use otrashi_scenarios::catalog::{FaultKind, Via};
use otrashi_scenarios::duration::Duration;
use otrashi_scenarios::incident::{ConcreteFault, ConcreteRedHerring, Incident};
use otrashi_scenarios::model::{
    AlertSpec, Load, LoadPattern, NoiseLevel, RedHerringKind, Runtime, Service, ServiceKind,
    Timeline, Topology,
};

fn svc(
    name: &str,
    kind: ServiceKind,
    runtime: Runtime,
    calls: &[&str],
    replicas: u32,
    latency_ms: f64,
) -> Service {
    let (cpu_cores, memory_mb) = match kind {
        ServiceKind::Database => (2.0, 4096.0),
        ServiceKind::Cache => (1.0, 1024.0),
        ServiceKind::Queue => (1.0, 1024.0),
        _ => (1.0, 512.0),
    };
    Service {
        name: name.to_owned(),
        kind,
        runtime,
        calls: calls.iter().map(|c| (*c).to_owned()).collect(),
        replicas,
        cpu_cores,
        memory_mb,
        latency_ms,
        pool_size: 20,
        engine: None,
    }
}

/// A 10-service shop with a memory leak shipped to `cart` three minutes in, an
/// unrelated deploy and a noisy neighbour as distractions, over a 10-minute window.
pub fn bench_incident(seed: u64) -> Incident {
    use Runtime::{Go, Java, Native, Node, Python, Rust};
    use ServiceKind::{Api, Cache, Database, Queue, Web, Worker};
    let services = vec![
        svc(
            "frontend",
            Web,
            Node,
            &["auth", "catalog", "cart", "checkout"],
            3,
            8.0,
        ),
        svc("auth", Api, Go, &["postgres"], 2, 3.0),
        svc("catalog", Api, Java, &["redis", "postgres"], 2, 6.0),
        svc("cart", Api, Python, &["redis", "postgres"], 2, 5.0),
        svc(
            "checkout",
            Api,
            Go,
            &["payment", "cart", "orders-queue"],
            2,
            7.0,
        ),
        svc("payment", Api, Rust, &["postgres"], 2, 12.0),
        svc("redis", Cache, Native, &[], 1, 0.5),
        svc("postgres", Database, Native, &[], 1, 2.5),
        svc("orders-queue", Queue, Native, &[], 1, 1.0),
        svc(
            "fulfillment",
            Worker,
            Python,
            &["orders-queue", "postgres"],
            1,
            20.0,
        ),
    ];
    let topology = Topology {
        name: "bench-shop".to_owned(),
        description: "A ten-service web shop.".to_owned(),
        entry: "frontend".to_owned(),
        services,
    };
    Incident {
        scenario: "bench-cart-memory-leak".to_owned(),
        scenario_digest: "0000000000000000".to_owned(),
        seed,
        topology,
        load: Load {
            rps: 60.0,
            pattern: LoadPattern::Diurnal,
        },
        timeline: Timeline {
            warmup: Duration::from_secs(120),
            duration: Duration::from_secs(480),
        },
        faults: vec![ConcreteFault {
            id: "leak".to_owned(),
            kind: FaultKind::MemoryLeak,
            target: "cart".to_owned(),
            at: Duration::from_secs(180),
            until: Duration::from_secs(600),
            via: Via::Deploy,
            params: BTreeMap::from([("rate_mb_per_min".to_owned(), 90.0)]),
        }],
        noise: NoiseLevel::Normal,
        red_herrings: vec![
            ConcreteRedHerring {
                kind: RedHerringKind::UnrelatedDeploy,
                target: "catalog".to_owned(),
                at: Duration::from_secs(150),
            },
            ConcreteRedHerring {
                kind: RedHerringKind::NoisyNeighbour,
                target: "auth".to_owned(),
                at: Duration::from_secs(300),
            },
        ],
        alert: AlertSpec::Auto,
    }
}
