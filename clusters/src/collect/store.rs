//! Scraped samples turned into the simulator's series: the same names, labels, kinds
//! and units, one value per scrape, `NaN` where a scrape failed.

use std::collections::{BTreeMap, HashMap};

use otrashi_gym::telemetry::{MetricKind, MetricSeries, ServiceId};

use super::prom::{self, Sample};

type Labels = Vec<(String, String)>;
type Key = (ServiceId, String, Labels);
/// Cumulative histogram buckets, `(le, count)`.
type Buckets = Vec<(f64, f64)>;

/// Histograms turned into quantile gauges, with the quantiles the simulator writes.
const HISTOGRAMS: [(&str, &[&str]); 3] = [
    ("http_request_duration_seconds", &["0.5", "0.9", "0.99"]),
    ("db_query_duration_seconds", &["0.5", "0.9", "0.99"]),
    ("http_client_request_duration_seconds", &["0.5", "0.99"]),
];

/// Series under construction, plus each service's previous histogram buckets.
#[derive(Debug, Default)]
pub struct Store {
    series: BTreeMap<Key, (MetricKind, Vec<f64>)>,
    buckets: HashMap<Key, Buckets>,
    previous: HashMap<(ServiceId, String), f64>,
}

fn unit_of(name: &str) -> &'static str {
    if name.contains("seconds") {
        "seconds"
    } else if name.contains("bytes") {
        "bytes"
    } else if name.starts_with("http_") {
        "requests"
    } else if name.contains("ratio") || name == "up" {
        "ratio"
    } else if name.contains("connections") {
        "connections"
    } else if name.contains("restarts") {
        "restarts"
    } else if name.contains("periods") {
        "periods"
    } else if name.contains("queries") {
        "queries"
    } else if name.contains("replicas") {
        "replicas"
    } else {
        "count"
    }
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut l: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    l.sort();
    l
}

impl Store {
    /// Records `value` as sample `k` of a series, creating it (with `NaN` for the
    /// scrapes before) when new.
    pub fn put(
        &mut self,
        k: usize,
        svc: ServiceId,
        name: &str,
        labels: Vec<(String, String)>,
        kind: MetricKind,
        value: f64,
    ) {
        let entry = self
            .series
            .entry((svc, name.to_owned(), labels))
            .or_insert_with(|| (kind, Vec::new()));
        if entry.1.len() <= k {
            entry.1.resize(k + 1, f64::NAN);
        }
        entry.1[k] = value;
    }

    /// Adds up into sample `k` (for series summed over labels the simulator has not).
    fn add(&mut self, k: usize, svc: ServiceId, name: &str, kind: MetricKind, value: f64) {
        let key = (svc, name.to_owned(), Vec::new());
        let current = self
            .series
            .get(&key)
            .and_then(|(_, v)| v.get(k).copied())
            .filter(|v| v.is_finite())
            .unwrap_or(0.0);
        self.put(k, svc, name, Vec::new(), kind, current + value);
    }

    /// The change of a cumulative value since the last call with the same key (`None` the
    /// first time, or after a counter reset such as a restart).
    pub fn delta(&mut self, svc: ServiceId, key: &str, value: f64) -> Option<f64> {
        let before = self.previous.insert((svc, key.to_owned()), value)?;
        (value >= before).then_some(value - before)
    }

    /// Records one `/metrics` scrape of a service as sample `k`.
    pub fn scrape(&mut self, k: usize, svc: ServiceId, text: &str) {
        use MetricKind::{Counter, Gauge};
        let samples = prom::parse(text);
        for class in ["2xx", "4xx", "5xx"] {
            self.put(
                k,
                svc,
                "http_requests_total",
                labels(&[("code", class)]),
                Counter,
                0.0,
            );
        }
        let mut hist: BTreeMap<(String, Labels), Buckets> = BTreeMap::new();
        for Sample {
            name,
            labels: ls,
            value,
        } in samples
        {
            if let Some(base) = name.strip_suffix("_bucket") {
                let le = ls.iter().find(|(k, _)| k == "le").and_then(|(_, v)| {
                    if v == "+Inf" {
                        Some(f64::INFINITY)
                    } else {
                        v.parse().ok()
                    }
                });
                if let Some(le) = le {
                    let rest: Vec<_> = ls.into_iter().filter(|(k, _)| k != "le").collect();
                    hist.entry((base.to_owned(), rest))
                        .or_default()
                        .push((le, value));
                }
                continue;
            }
            if name.ends_with("_sum") || name.ends_with("_count") || name.ends_with("_created") {
                continue;
            }
            match name.as_str() {
                "http_requests_total" => {
                    let code = ls.iter().find(|(k, _)| k == "code").map_or("", |(_, v)| v);
                    let class = format!("{}xx", code.chars().next().unwrap_or('5'));
                    self.add_labelled(k, svc, &name, labels(&[("code", &class)]), value);
                }
                "db_pool_connections_in_use" | "db_pool_connections_max" => {
                    self.add(k, svc, &name, Gauge, value);
                }
                _ => {
                    let kind = if name.ends_with("_total") {
                        Counter
                    } else {
                        Gauge
                    };
                    self.put(k, svc, &name, ls, kind, value);
                }
            }
        }
        for ((base, rest), mut buckets) in hist {
            let Some((_, quantiles)) = HISTOGRAMS.iter().find(|(n, _)| *n == base) else {
                continue;
            };
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            let key = (svc, base.clone(), rest.clone());
            let before = self.buckets.get(&key).cloned().unwrap_or_default();
            for q in quantiles.iter() {
                let qv: f64 = q.parse().unwrap_or(0.5);
                let v = prom::quantile(qv, &before, &buckets).unwrap_or(f64::NAN);
                let mut l = rest.clone();
                l.push(("quantile".to_owned(), (*q).to_owned()));
                l.sort();
                self.put(k, svc, &base, l, Gauge, v);
            }
            self.buckets.insert(key, buckets);
        }
    }

    fn add_labelled(
        &mut self,
        k: usize,
        svc: ServiceId,
        name: &str,
        labels: Vec<(String, String)>,
        value: f64,
    ) {
        let current = self
            .series
            .get(&(svc, name.to_owned(), labels.clone()))
            .and_then(|(_, v)| v.get(k).copied())
            .filter(|v| v.is_finite())
            .unwrap_or(0.0);
        self.put(k, svc, name, labels, MetricKind::Counter, current + value);
    }

    /// The series, each padded with `NaN` to `samples` values; sample `k` is at
    /// `(k + 1) * step_ms`, as the simulator's are.
    pub fn finish(self, samples: usize, step_ms: u64) -> Vec<MetricSeries> {
        self.series
            .into_iter()
            .map(|((service, name, labels), (kind, mut values))| {
                values.resize(samples, f64::NAN);
                MetricSeries {
                    unit: unit_of(&name).to_owned(),
                    name,
                    service,
                    labels,
                    kind,
                    start_ms: step_ms,
                    step_ms,
                    values,
                }
            })
            .collect()
    }

    /// Sample `k` of a series, if recorded.
    pub fn get(
        &self,
        svc: ServiceId,
        name: &str,
        labels: &[(String, String)],
        k: usize,
    ) -> Option<f64> {
        self.series
            .get(&(svc, name.to_owned(), labels.to_vec()))
            .and_then(|(_, v)| v.get(k).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrapes_become_simulator_series() {
        let mut s = Store::default();
        let text = |ok: u32, err: u32, slow: u32| {
            format!(
                "http_requests_total{{code=\"200\"}} {ok}\nhttp_requests_total{{code=\"500\"}} {err}\n\
                 http_request_duration_seconds_bucket{{le=\"0.1\"}} {ok}\n\
                 http_request_duration_seconds_bucket{{le=\"1.0\"}} {}\n\
                 http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n\
                 http_request_duration_seconds_sum 1\nprocess_resident_memory_bytes 1000\n",
                ok + slow,
                ok + slow
            )
        };
        s.scrape(0, 0, &text(10, 0, 0));
        // Scrape 1 failed: nothing recorded. Scrape 2: 10 more, all slow.
        s.scrape(2, 0, &text(10, 3, 10));
        let series = s.finish(3, 10_000);
        let find = |name: &str, l: &[(&str, &str)]| {
            series
                .iter()
                .find(|m| m.name == name && m.labels == labels(l))
                .unwrap()
        };
        let ok = find("http_requests_total", &[("code", "2xx")]);
        assert_eq!(ok.values[0], 10.0);
        assert!(ok.values[1].is_nan());
        assert_eq!(
            find("http_requests_total", &[("code", "5xx")]).values[2],
            3.0
        );
        let p50 = find("http_request_duration_seconds", &[("quantile", "0.5")]);
        assert!(p50.values[2] > 0.1, "{:?}", p50.values);
        assert_eq!(find("process_resident_memory_bytes", &[]).unit, "bytes");
        assert!(series
            .iter()
            .all(|m| m.values.len() == 3 && m.step_ms == 10_000));
    }
}
