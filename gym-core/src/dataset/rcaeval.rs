//! The RCAEval layout: `<service>_<fault>/<run>/data.csv` and `inject_time.txt`, as the
//! RE1/RE2 datasets of the RCAEval benchmark ship them, so that RCA methods written
//! against RCAEval (BARO, RCD, CIRCA, …) run on otrashi incidents unchanged.
//!
//! `data.csv` has a `time` column (Unix seconds, one row per scrape) and one
//! `<service>_<metric>` column per service and metric, in topology order:
//!
//! | column | from the otrashi metric | unit |
//! |---|---|---|
//! | `<svc>_cpu` | rate of `container_cpu_usage_seconds_total` | cores |
//! | `<svc>_mem` | `container_memory_working_set_bytes` | bytes |
//! | `<svc>_diskio` | rate of `node_disk_io_time_seconds_total` | seconds/s |
//! | `<svc>_socket` | `db_pool_connections_in_use` (services with a pool only) | connections |
//! | `<svc>_workload` | rate of `http_requests_total`, every code | requests/s |
//! | `<svc>_error` | rate of `http_requests_total{code="5xx"}` | requests/s |
//! | `<svc>_latency-50` | `http_request_duration_seconds{quantile="0.5"}` | seconds |
//! | `<svc>_latency-90` | `http_request_duration_seconds{quantile="0.9"}` | seconds |
//! | `<svc>_latency-99` | `http_request_duration_seconds{quantile="0.99"}` | seconds |
//!
//! Counter rates are per second between consecutive scrapes (a counter reset counts
//! from zero); the first row of a rate is empty, as is any sample whose scrape failed
//! (pandas reads both as NaN). A column whose series the service does not export is
//! left out.
//!
//! `<fault>` is RCAEval's fault name where one means the same thing, else otrashi's
//! short name with `-` for `_` (RCAEval splits a case name at its first `_`, and
//! service names never contain one); see [`fault_name`]. `<run>` counts from 1 per
//! (service, fault). An incident with several root causes is filed under its first
//! (earliest); `ground_truth.json` next to `data.csv` lists them all.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use otrashi_scenarios::{FaultKind, GroundTruth};

use super::{io, DatasetError};
use crate::telemetry::{MetricKind, MetricSeries, ServiceId, Telemetry};

/// RCAEval's name for an otrashi fault kind: `cpu`, `mem`, `disk`, `delay`, `loss`,
/// `socket` where RCAEval has an equivalent, otherwise the short otrashi name with `-`
/// for `_` (`memory-leak`).
pub fn fault_name(kind: FaultKind) -> String {
    match kind {
        FaultKind::CpuSaturation => "cpu".into(),
        FaultKind::MemoryPressure => "mem".into(),
        FaultKind::DiskFull | FaultKind::DiskSlow => "disk".into(),
        FaultKind::NetworkDelay => "delay".into(),
        FaultKind::NetworkLoss => "loss".into(),
        FaultKind::ConnectionLeak => "socket".into(),
        other => other.short_name().replace('_', "-"),
    }
}

/// The case directory name of an incident, `<service>_<fault>` of its first root cause.
pub fn case_name(truth: &GroundTruth) -> Option<String> {
    truth
        .root_causes
        .first()
        .map(|c| format!("{}_{}", c.component, fault_name(c.fault)))
}

/// The first injection, in Unix seconds (what `inject_time.txt` holds).
pub fn inject_time_s(t: &Telemetry, truth: &GroundTruth) -> Option<i64> {
    let first = truth.root_causes.iter().map(|c| c.injected_at).min()?;
    let ms = t.start_unix_ms + i64::try_from(first.as_millis()).unwrap_or(i64::MAX / 2);
    Some(ms.div_euclid(1000))
}

/// How a column is read off its series.
#[derive(Clone, Copy)]
enum Read {
    Level,
    Rate,
}

/// One column: a name and the series summed into it.
struct Column<'a> {
    name: String,
    series: Vec<&'a MetricSeries>,
    read: Read,
}

fn find<'a>(
    t: &'a Telemetry,
    service: ServiceId,
    name: &str,
    label: Option<(&str, &str)>,
) -> Vec<&'a MetricSeries> {
    t.metrics
        .iter()
        .filter(|m| m.service == service && m.name == name)
        .filter(|m| label.is_none_or(|(k, v)| m.labels.iter().any(|(lk, lv)| lk == k && lv == v)))
        .collect()
}

/// A label a series must carry (`("quantile", "0.99")`).
type LabelFilter = Option<(&'static str, &'static str)>;

fn columns(t: &Telemetry) -> Vec<Column<'_>> {
    const SPEC: [(&str, &str, LabelFilter, Read); 9] = [
        ("cpu", "container_cpu_usage_seconds_total", None, Read::Rate),
        (
            "mem",
            "container_memory_working_set_bytes",
            None,
            Read::Level,
        ),
        (
            "diskio",
            "node_disk_io_time_seconds_total",
            None,
            Read::Rate,
        ),
        ("socket", "db_pool_connections_in_use", None, Read::Level),
        ("workload", "http_requests_total", None, Read::Rate),
        (
            "error",
            "http_requests_total",
            Some(("code", "5xx")),
            Read::Rate,
        ),
        (
            "latency-50",
            "http_request_duration_seconds",
            Some(("quantile", "0.5")),
            Read::Level,
        ),
        (
            "latency-90",
            "http_request_duration_seconds",
            Some(("quantile", "0.9")),
            Read::Level,
        ),
        (
            "latency-99",
            "http_request_duration_seconds",
            Some(("quantile", "0.99")),
            Read::Level,
        ),
    ];
    let mut out = Vec::new();
    for (id, service) in t.services.iter().enumerate() {
        let Ok(id) = ServiceId::try_from(id) else {
            break;
        };
        for (suffix, metric, label, read) in SPEC {
            let series = find(t, id, metric, label);
            if series.is_empty() {
                continue;
            }
            // A counter read as a level would be meaningless; trust the series' kind.
            let read = match (read, series[0].kind) {
                (Read::Level, MetricKind::Counter) => Read::Rate,
                (r, _) => r,
            };
            out.push(Column {
                name: format!("{service}_{suffix}"),
                series,
                read,
            });
        }
    }
    out
}

/// The value of one series at scrape time `t_ms`, read as a level or a rate.
fn value_at(s: &MetricSeries, t_ms: u64, read: Read) -> Option<f64> {
    if s.step_ms == 0 || t_ms < s.start_ms || !(t_ms - s.start_ms).is_multiple_of(s.step_ms) {
        return None;
    }
    let k = usize::try_from((t_ms - s.start_ms) / s.step_ms).ok()?;
    let v = *s.values.get(k)?;
    if !v.is_finite() {
        return None;
    }
    match read {
        Read::Level => Some(v),
        Read::Rate => {
            let prev = *s.values.get(k.checked_sub(1)?)?;
            if !prev.is_finite() {
                return None;
            }
            let delta = if v >= prev { v - prev } else { v };
            Some(delta / (s.step_ms as f64 / 1000.0))
        }
    }
}

/// A number as RCAEval's CSVs write them, short and exact enough: integers without a
/// fraction, others with at most six decimals.
fn fmt_num(out: &mut String, v: f64) {
    if v == v.trunc() && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let s = format!("{v:.6}");
        out.push_str(s.trim_end_matches('0').trim_end_matches('.'));
    }
}

/// The `data.csv` text: a header and one row per scrape of the telemetry.
pub fn data_csv(t: &Telemetry) -> String {
    let cols = columns(t);
    let mut out = String::from("time");
    for c in &cols {
        out.push(',');
        out.push_str(&c.name);
    }
    out.push('\n');
    // The scrape grid: the first series' start and step (the simulator scrapes every
    // series together; a backend that does not leaves the odd samples empty).
    let Some(grid) = t.metrics.first() else {
        return out;
    };
    let step = grid.step_ms.max(1);
    let mut t_ms = grid.start_ms;
    while t_ms < t.end_ms.max(grid.start_ms + 1) {
        let unix_s = (t.start_unix_ms + i64::try_from(t_ms).unwrap_or(0)).div_euclid(1000);
        let _ = write!(out, "{unix_s}");
        for c in &cols {
            out.push(',');
            let parts: Vec<Option<f64>> =
                c.series.iter().map(|s| value_at(s, t_ms, c.read)).collect();
            if parts.iter().any(Option::is_some) {
                fmt_num(&mut out, parts.iter().flatten().sum());
            }
        }
        out.push('\n');
        t_ms += step;
    }
    out
}

/// Writes one RCAEval run directory: `data.csv`, `inject_time.txt`, and
/// `ground_truth.json` (every root cause, for incidents with more than one).
pub fn write_run_dir(dir: &Path, t: &Telemetry, truth: &GroundTruth) -> Result<(), DatasetError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let csv = dir.join("data.csv");
    fs::write(&csv, data_csv(t)).map_err(io(&csv))?;
    let inject = dir.join("inject_time.txt");
    let text = inject_time_s(t, truth)
        .map(|s| format!("{s}\n"))
        .unwrap_or_default();
    fs::write(&inject, text).map_err(io(&inject))?;
    let gt = dir.join("ground_truth.json");
    let bytes = serde_json::to_vec(truth).map_err(|source| DatasetError::Encode {
        what: "ground truth",
        source,
    })?;
    fs::write(&gt, bytes).map_err(io(&gt))
}
