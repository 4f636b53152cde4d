//! Reading a service graph: inline in a scenario, or a bundled topology file.

use crate::defaults::service_defaults;
use crate::model::{Engine, Runtime, Service, ServiceKind, Topology};

use super::decode::{Decoder, MapView};
use super::node::{Node, Pos};

const SERVICE_FIELDS: [&str; 9] = [
    "kind",
    "calls",
    "runtime",
    "replicas",
    "cpu",
    "memory",
    "latency_ms",
    "pool_size",
    "engine",
];

/// The fields of an inline topology.
pub const TOPOLOGY_FIELDS: [&str; 4] = ["name", "description", "entry", "services"];

/// Whether `name` is a valid service name: `[a-z][a-z0-9-]*`.
pub fn valid_service_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn service_kinds() -> Vec<(&'static str, ServiceKind)> {
    ServiceKind::ALL.iter().map(|k| (k.as_str(), *k)).collect()
}

fn engines() -> Vec<(&'static str, Engine)> {
    Engine::ALL.iter().map(|e| (e.as_str(), *e)).collect()
}

fn runtimes() -> Vec<(&'static str, Runtime)> {
    Runtime::ALL.iter().map(|r| (r.as_str(), *r)).collect()
}

/// Reads the fields of a topology mapping (`name`, `description`, `entry`, `services`)
/// out of `m`; the caller finishes `m`. `default_name` names inline graphs.
pub fn topology_fields(
    d: &mut Decoder<'_>,
    m: &mut MapView<'_>,
    default_name: &str,
) -> Option<Topology> {
    let name = match m.optional("name") {
        Some(n) => d.string(n, "the topology name"),
        None => Some(default_name.to_owned()),
    };
    let description = match m.optional("description") {
        Some(n) => d.string(n, "the topology description"),
        None => Some(String::new()),
    };
    let entry_node = m.required(d, "entry", "the topology");
    let services_node = m.required(d, "services", "the topology");
    let entry = entry_node.and_then(|n| d.string(n, "the entry service"));
    let before = d.error_count();
    let (services, call_pos) = services(d, services_node?)?;
    if let (Some(entry), Some(node)) = (&entry, entry_node) {
        if !services.iter().any(|s| &s.name == entry) {
            d.error_maybe_hint(
                node.pos,
                format!("entry service `{entry}` is not declared in `services`"),
                d.did_you_mean(entry, services.iter().map(|s| s.name.as_str())),
            );
        }
    }
    let topology = Topology {
        name: name?,
        description: description?,
        entry: entry?,
        services,
    };
    check_cycles(d, &topology, &call_pos);
    (d.error_count() == before).then_some(topology)
}

/// Where each call was written, indexed like `services[i].calls[j]`.
type CallPositions = Vec<Vec<Pos>>;

fn services(d: &mut Decoder<'_>, node: &Node) -> Option<(Vec<Service>, CallPositions)> {
    let mut m = d.map(node, "`services` (a mapping from service name to service)")?;
    let entries: Vec<_> = m.entries().collect();
    if entries.is_empty() {
        d.error(node.pos, "a topology needs at least one service");
        return None;
    }
    if entries.len() > super::MAX_SERVICES {
        d.error(
            node.pos,
            format!(
                "a topology has at most {} services, found {}",
                super::MAX_SERVICES,
                entries.len()
            ),
        );
        return None;
    }
    let mut out = Vec::with_capacity(entries.len());
    let mut positions = Vec::with_capacity(entries.len());
    let mut call_nodes: Vec<Vec<&Node>> = Vec::with_capacity(entries.len());
    for (name, key, body) in &entries {
        if !valid_service_name(name) {
            d.error_hint(
                key.pos,
                format!("service name `{name}` must match `[a-z][a-z0-9-]*`"),
                "use lowercase letters, digits and `-`: exports name columns `<service>_<metric>` \
                 (the RCAEval layout), so a `_` in a service name would make them ambiguous",
            );
        }
        let Some((service, calls)) = service(d, name, body) else {
            continue;
        };
        out.push(service);
        positions.push(calls.iter().map(|c| c.pos).collect());
        call_nodes.push(calls);
    }
    let names: Vec<&str> = entries.iter().map(|(n, _, _)| *n).collect();
    for (service, calls) in out.iter().zip(&call_nodes) {
        for (callee, node) in service.calls.iter().zip(calls) {
            if !names.contains(&callee.as_str()) {
                d.error_maybe_hint(
                    node.pos,
                    format!(
                        "`{}` calls `{callee}`, which is not declared in `services`",
                        service.name
                    ),
                    d.did_you_mean(callee, names.iter().copied()),
                );
            }
        }
    }
    Some((out, positions))
}

fn service<'n>(
    d: &mut Decoder<'_>,
    name: &str,
    node: &'n Node,
) -> Option<(Service, Vec<&'n Node>)> {
    let what = format!("service `{name}`");
    let mut m = d.map(node, &what)?;
    let kind = m
        .required(d, "kind", &what)
        .and_then(|n| d.one_of(n, "service kind", &service_kinds()));
    let calls = m.optional("calls");
    let runtime = m.optional("runtime");
    let replicas = m.optional("replicas");
    let cpu = m.optional("cpu");
    let memory = m.optional("memory");
    let latency = m.optional("latency_ms");
    let pool = m.optional("pool_size");
    let engine = m.optional("engine");
    m.finish(d, &what, &SERVICE_FIELDS);
    let kind = kind?;
    let defaults = service_defaults(kind);
    let before = d.error_count();

    let mut call_names = Vec::new();
    let mut call_nodes = Vec::new();
    let calls = calls.and_then(|n| d.seq(n, "`calls` (service names)").map(|items| (n, items)));
    if let Some((n, items)) = calls {
        if items.len() > super::MAX_SERVICES {
            d.error(
                n.pos,
                format!("`{name}` calls more than {} services", super::MAX_SERVICES),
            );
            return None;
        }
        for item in items {
            if let Some(callee) = d.string(item, "a called service name") {
                if call_names.contains(&callee) {
                    d.error(item.pos, format!("`{name}` calls `{callee}` twice"));
                }
                call_names.push(callee);
                call_nodes.push(item);
            }
        }
    }
    let runtime = match runtime {
        Some(n) => d.one_of(n, "runtime", &runtimes()),
        None => Some(defaults.runtime),
    };
    let replicas = match replicas {
        Some(n) => d.integer(n, "`replicas`", 1, 100),
        None => Some(defaults.replicas),
    };
    let cpu_cores = match cpu {
        Some(n) => positive(d, n, "`cpu` (cores)", 64.0),
        None => Some(defaults.cpu_cores),
    };
    let memory_mb = match memory {
        Some(n) => super::values::memory_mb(d, n, "`memory`"),
        None => Some(defaults.memory_mb),
    };
    let latency_ms = match latency {
        Some(n) => positive(d, n, "`latency_ms`", 60_000.0),
        None => Some(defaults.latency_ms),
    };
    let pool_size = match pool {
        Some(n) => d.integer(n, "`pool_size`", 0, 100_000),
        None => Some(defaults.pool_size),
    };
    let engine = match engine {
        Some(n) => match d.one_of(n, "engine", &engines()) {
            Some(e) if !e.fits(kind) => {
                d.error_hint(
                    n.pos,
                    format!(
                        "`engine: {}` cannot play `{name}` (kind `{}`)",
                        e.as_str(),
                        kind.as_str()
                    ),
                    "an engine plays a datastore: use it on services of kind `cache` or `database`",
                );
                None
            }
            e => e.map(Some),
        },
        None => Some(None),
    };
    if d.error_count() != before {
        return None;
    }
    Some((
        Service {
            name: name.to_owned(),
            kind,
            runtime: runtime?,
            calls: call_names,
            replicas: replicas?,
            cpu_cores: cpu_cores?,
            memory_mb: memory_mb?,
            latency_ms: latency_ms?,
            pool_size: pool_size?,
            engine: engine?,
        },
        call_nodes,
    ))
}

fn positive(d: &mut Decoder<'_>, node: &Node, what: &str, max: f64) -> Option<f64> {
    let v = d.number(node, what)?;
    if v <= 0.0 || v > max {
        d.error(
            node.pos,
            format!("{what} must be greater than 0 and at most {max}, found {v}"),
        );
        return None;
    }
    Some(v)
}

/// Reports one cycle of the call graph, naming it `a -> b -> a`, at the call that closes
/// it. Iterative, so that a hostile 50 000-service chain cannot overflow the stack.
fn check_cycles(d: &mut Decoder<'_>, topology: &Topology, call_pos: &CallPositions) {
    if topology.call_order().is_some() {
        return;
    }
    let n = topology.services.len();
    // (callee, index of the call in the service's `calls`), so that the position of the
    // closing call can be found even when some calls do not resolve.
    let edges: Vec<Vec<(usize, usize)>> = topology
        .services
        .iter()
        .map(|s| {
            s.calls
                .iter()
                .enumerate()
                .filter_map(|(j, c)| topology.index_of(c).map(|i| (i, j)))
                .collect()
        })
        .collect();
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut state = vec![0u8; n];
    for start in 0..n {
        if state[start] != 0 {
            continue;
        }
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some(&mut (node, ref mut next)) = path.last_mut() {
            if *next >= edges[node].len() {
                state[node] = 2;
                path.pop();
                continue;
            }
            let edge = *next;
            *next += 1;
            let (to, call) = edges[node][edge];
            match state[to] {
                0 => {
                    state[to] = 1;
                    path.push((to, 0));
                }
                1 => {
                    let from = path.iter().position(|(s, _)| *s == to).unwrap_or(0);
                    let mut names: Vec<&str> = path[from..]
                        .iter()
                        .map(|(s, _)| topology.services[*s].name.as_str())
                        .collect();
                    names.push(topology.services[to].name.as_str());
                    let pos = call_pos
                        .get(node)
                        .and_then(|p| p.get(call))
                        .copied()
                        .unwrap_or_default();
                    d.error_hint(
                        pos,
                        format!("the call graph has a cycle: {}", names.join(" -> ")),
                        "requests must flow one way, from the entry service towards the datastores",
                    );
                    return;
                }
                _ => {}
            }
        }
    }
}
