//! One scrape of a service, whatever plays it and however many replicas run: the
//! replicas' `/metrics` merged into one service-level exposition (counters and
//! histogram buckets summed, ratios averaged), their container stats and states summed
//! the way a Kubernetes dashboard shows a deployment, and a real Redis' `INFO` mapped
//! to the metric names the simulator writes for a datastore.

use std::collections::BTreeMap;

use otrashi_gym::telemetry::{MetricKind, ServiceId};
use otrashi_scenarios::model::ServiceKind;

use super::prom;
use super::store::Store;

/// What the replicas of one service yielded in one scrape.
#[derive(Debug, Default)]
pub struct ServiceScrape {
    /// Containers of the service.
    pub replicas: u32,
    /// Containers that answered their scrape (`/metrics` or `INFO`).
    pub answered: u32,
    /// `/metrics` bodies of the workload replicas that answered.
    pub texts: Vec<String>,
    /// `INFO` fields of a Redis that answered.
    pub info: Option<Vec<(String, String)>>,
    /// Summed container counters and gauges, by series name (absent: no replica had it).
    pub container: BTreeMap<&'static str, (MetricKind, f64)>,
}

impl ServiceScrape {
    /// Adds one container's value of a container-level series.
    pub fn add(&mut self, name: &'static str, kind: MetricKind, v: f64) {
        self.container.entry(name).or_insert((kind, 0.0)).1 += v;
    }

    /// Writes the service's sample `k` into `store`.
    pub fn write(self, k: usize, svc: ServiceId, kind: ServiceKind, store: &mut Store) {
        if !self.texts.is_empty() {
            store.scrape(k, svc, &merge(&self.texts));
        }
        if let Some(info) = &self.info {
            redis_metrics(k, svc, kind, info, store);
        }
        let up = if self.replicas == 0 {
            0.0
        } else {
            f64::from(self.answered) / f64::from(self.replicas)
        };
        store.put(k, svc, "up", Vec::new(), MetricKind::Gauge, up);
        for (name, (kind, v)) in self.container {
            store.put(k, svc, name, Vec::new(), kind, v);
        }
    }
}

/// Merges the expositions of a service's replicas into one: samples with the same name
/// and labels are summed (counters, histogram buckets, gauges such as memory and pool
/// connections), except ratios, which are averaged.
pub fn merge(texts: &[String]) -> String {
    if texts.len() == 1 {
        return texts[0].clone();
    }
    // (name, labels) -> (sum, replicas that had it)
    type Merged = BTreeMap<(String, Vec<(String, String)>), (f64, u32)>;
    let mut merged = Merged::new();
    for text in texts {
        for s in prom::parse(text) {
            let e = merged.entry((s.name, s.labels)).or_insert((0.0, 0));
            e.0 += s.value;
            e.1 += 1;
        }
    }
    let mut out = String::new();
    for ((name, labels), (sum, n)) in merged {
        let v = if name.contains("ratio") {
            sum / f64::from(n.max(1))
        } else {
            sum
        };
        out.push_str(&name);
        if !labels.is_empty() {
            let inner: Vec<String> = labels
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}=\"{}\"",
                        v.replace('\\', "\\\\")
                            .replace('"', "\\\"")
                            .replace('\n', "\\n")
                    )
                })
                .collect();
            out.push('{');
            out.push_str(&inner.join(","));
            out.push('}');
        }
        let v = if v.is_infinite() && v > 0.0 {
            "+Inf".to_owned()
        } else {
            v.to_string()
        };
        out.push(' ');
        out.push_str(&v);
        out.push('\n');
    }
    out
}

/// Commands the gym itself sends to a Redis (its scrapes and health checks), left out
/// of the service's own traffic.
const GYM_COMMANDS: [&str; 5] = ["info", "slowlog", "ping", "config", "command"];

/// Maps a Redis `INFO stats clients memory commandstats` to the series the simulator
/// writes for a datastore: requests (commands, with error replies as 5xx), a cache's hit
/// ratio or a database's query count, latency quantiles from `commandstats` (the mean
/// time per command since the last scrape for p50 and p90, the slowest command's mean
/// for p99), resident memory; plus `redis_*` series with what only Redis knows.
pub fn redis_metrics(
    k: usize,
    svc: ServiceId,
    kind: ServiceKind,
    info: &[(String, String)],
    store: &mut Store,
) {
    use MetricKind::{Counter, Gauge};
    let num = |key: &str| {
        info.iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.parse::<f64>().ok())
    };
    let no_labels = Vec::new;
    // Per command: (calls, usec), the gym's own commands left out.
    let mut commands: Vec<(String, f64, f64)> = Vec::new();
    for (key, value) in info {
        let Some(cmd) = key.strip_prefix("cmdstat_") else {
            continue;
        };
        let field = |name: &str| {
            value
                .split(',')
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .and_then(|v| v.parse::<f64>().ok())
        };
        let (Some(calls), Some(usec)) = (field("calls"), field("usec")) else {
            continue;
        };
        let base = cmd.split('|').next().unwrap_or(cmd);
        if GYM_COMMANDS.contains(&base) {
            continue;
        }
        commands.push((cmd.to_owned(), calls, usec));
    }
    let calls: f64 = commands.iter().map(|c| c.1).sum();
    let errors = num("total_error_replies").unwrap_or(0.0);
    let label = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
    store.put(
        k,
        svc,
        "http_requests_total",
        label("code", "2xx"),
        Counter,
        (calls - errors).max(0.0),
    );
    store.put(
        k,
        svc,
        "http_requests_total",
        label("code", "4xx"),
        Counter,
        0.0,
    );
    store.put(
        k,
        svc,
        "http_requests_total",
        label("code", "5xx"),
        Counter,
        errors,
    );
    if kind == ServiceKind::Database {
        store.put(k, svc, "db_queries_total", no_labels(), Counter, calls);
    }
    if let (Some(hits), Some(misses)) = (num("keyspace_hits"), num("keyspace_misses")) {
        let dh = store.delta(svc, "redis:hits", hits);
        let dm = store.delta(svc, "redis:misses", misses);
        if let (Some(dh), Some(dm)) = (dh, dm) {
            if kind == ServiceKind::Cache && dh + dm > 0.0 {
                store.put(
                    k,
                    svc,
                    "cache_hit_ratio",
                    no_labels(),
                    Gauge,
                    dh / (dh + dm),
                );
            }
        }
        store.put(
            k,
            svc,
            "redis_keyspace_hits_total",
            no_labels(),
            Counter,
            hits,
        );
        store.put(
            k,
            svc,
            "redis_keyspace_misses_total",
            no_labels(),
            Counter,
            misses,
        );
    }
    // Latency from the change in calls and time per command since the last scrape.
    let mut total = (0.0, 0.0);
    let mut slowest: f64 = 0.0;
    for (cmd, c, u) in &commands {
        let dc = store.delta(svc, &format!("redis:calls:{cmd}"), *c);
        let du = store.delta(svc, &format!("redis:usec:{cmd}"), *u);
        if let (Some(dc), Some(du)) = (dc, du) {
            if dc > 0.0 {
                total.0 += dc;
                total.1 += du;
                slowest = slowest.max(du / dc);
            }
        }
        store.put(
            k,
            svc,
            "redis_commands_total",
            label("command", cmd),
            Counter,
            *c,
        );
    }
    if total.0 > 0.0 {
        let mean = total.1 / total.0 / 1e6;
        for name in ["http_request_duration_seconds", "db_query_duration_seconds"] {
            if name.starts_with("db_") && kind != ServiceKind::Database {
                continue;
            }
            for (q, v) in [("0.5", mean), ("0.9", mean), ("0.99", slowest / 1e6)] {
                store.put(k, svc, name, label("quantile", q), Gauge, v);
            }
        }
    }
    let gauges = [
        ("used_memory_rss", "process_resident_memory_bytes"),
        ("used_memory", "redis_memory_used_bytes"),
        ("maxmemory", "redis_memory_max_bytes"),
        ("connected_clients", "redis_connected_clients"),
        ("blocked_clients", "redis_blocked_clients"),
    ];
    for (field, name) in gauges {
        if let Some(v) = num(field) {
            store.put(k, svc, name, no_labels(), Gauge, v);
        }
    }
    let counters = [
        ("evicted_keys", "redis_evicted_keys_total"),
        ("rejected_connections", "redis_rejected_connections_total"),
        (
            "total_connections_received",
            "redis_connections_received_total",
        ),
    ];
    for (field, name) in counters {
        if let Some(v) = num(field) {
            store.put(k, svc, name, no_labels(), Counter, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_are_summed_and_ratios_averaged() {
        let a =
            "http_requests_total{code=\"200\"} 10\ncache_hit_ratio 0.5\nh_bucket{le=\"+Inf\"} 3\n";
        let b = "http_requests_total{code=\"200\"} 5\ncache_hit_ratio 1\nh_bucket{le=\"+Inf\"} 4\n";
        let merged = prom::parse(&merge(&[a.to_owned(), b.to_owned()]));
        let get = |name: &str| merged.iter().find(|s| s.name == name).unwrap().value;
        assert_eq!(get("http_requests_total"), 15.0);
        assert_eq!(get("cache_hit_ratio"), 0.75);
        assert_eq!(get("h_bucket"), 7.0);
    }

    fn info(
        hits: u32,
        misses: u32,
        get_calls: u32,
        get_usec: u32,
        eval: (u32, u32),
    ) -> Vec<(String, String)> {
        otrashi_workload::resp::info_fields(&format!(
            "# Stats\r\nkeyspace_hits:{hits}\r\nkeyspace_misses:{misses}\r\ntotal_error_replies:1\r\n\
             # Memory\r\nused_memory_rss:1000\r\n# Commandstats\r\n\
             cmdstat_get:calls={get_calls},usec={get_usec},usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n\
             cmdstat_eval:calls={},usec={},usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n\
             cmdstat_info:calls=99,usec=99999,usec_per_call=1010.10,rejected_calls=0,failed_calls=0\r\n",
            eval.0, eval.1
        ))
    }

    #[test]
    fn redis_info_becomes_datastore_series() {
        let mut store = Store::default();
        redis_metrics(
            0,
            0,
            ServiceKind::Database,
            &info(0, 0, 10, 100, (0, 0)),
            &mut store,
        );
        redis_metrics(
            1,
            0,
            ServiceKind::Database,
            &info(0, 0, 20, 200, (2, 600_000)),
            &mut store,
        );
        let get = |name: &str, l: &[(&str, &str)], k| {
            let labels: Vec<(String, String)> = l
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect();
            store.get(0, name, &labels, k).unwrap()
        };
        // The gym's own INFO calls are not the service's traffic.
        assert_eq!(get("db_queries_total", &[], 1), 22.0);
        assert_eq!(get("http_requests_total", &[("code", "5xx")], 1), 1.0);
        // 10 GETs of 10 us and 2 EVALs of 300 ms since the last scrape.
        let p99 = get("db_query_duration_seconds", &[("quantile", "0.99")], 1);
        assert!((p99 - 0.3).abs() < 1e-9, "{p99}");
        let p50 = get("db_query_duration_seconds", &[("quantile", "0.5")], 1);
        assert!((p50 - 600_100.0 / 12.0 / 1e6).abs() < 1e-9, "{p50}");
        assert_eq!(get("process_resident_memory_bytes", &[], 1), 1000.0);
        // No latency before there is a previous scrape to difference against.
        assert!(store
            .get(
                0,
                "db_query_duration_seconds",
                &[("quantile".into(), "0.5".into())],
                0
            )
            .is_none_or(f64::is_nan));

        let mut cache = Store::default();
        redis_metrics(
            0,
            1,
            ServiceKind::Cache,
            &info(10, 10, 20, 20, (0, 0)),
            &mut cache,
        );
        redis_metrics(
            1,
            1,
            ServiceKind::Cache,
            &info(19, 11, 30, 30, (0, 0)),
            &mut cache,
        );
        assert_eq!(cache.get(1, "cache_hit_ratio", &[], 1), Some(0.9));
        assert_eq!(cache.get(1, "db_queries_total", &[], 1), None);
    }
}
