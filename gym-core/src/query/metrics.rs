//! `query_metrics`: matching series, counters as per-second rates, downsampled.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{
    clamp_limit, nan_as_null, resolve_service, round_sig, vec_nan_as_null, wall, QueryError, Window,
};
use crate::telemetry::{MetricKind, MetricSeries, Telemetry};

/// Most points per returned series.
pub const MAX_POINTS: usize = 60;
/// Series returned when the agent does not ask for a limit.
pub const DEFAULT_SERIES: u32 = 12;
/// Most series one call returns.
pub const MAX_SERIES: u32 = 24;
/// Most metric names listed when the asked metric does not exist.
const MAX_AVAILABLE: usize = 80;

/// Arguments of `query_metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsArgs {
    /// A metric name (`http_requests_total`), a glob (`container_*`), or a fragment
    /// (`memory`) matched as a substring when no name is equal to it.
    pub metric: String,
    /// Only series of this service.
    #[serde(default)]
    pub service: Option<String>,
    /// Only series whose labels have these values (`*` globs allowed in values).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Window start.
    #[serde(default)]
    pub start: Option<String>,
    /// Window end.
    #[serde(default)]
    pub end: Option<String>,
    /// Resolution (`30s`, `1m`); coarser when it would exceed the point limit.
    #[serde(default)]
    pub step: Option<String>,
    /// Most series to return (default 12, at most 24).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Min, max, mean and last value of a series over the window, at full resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesSummary {
    /// Smallest value (null when there was no data).
    #[serde(with = "nan_as_null")]
    pub min: f64,
    /// Largest value.
    #[serde(with = "nan_as_null")]
    pub max: f64,
    /// Mean of the values with data.
    #[serde(with = "nan_as_null")]
    pub mean: f64,
    /// The value at the end of the window (null: no data at the end).
    #[serde(with = "nan_as_null")]
    pub last: f64,
    /// Samples without data (failed scrapes), at full resolution.
    pub no_data_samples: usize,
}

/// One returned series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesResult {
    /// Metric name.
    pub name: String,
    /// The service it was scraped from.
    pub service: String,
    /// Its labels besides the service.
    pub labels: BTreeMap<String, String>,
    /// `rate` (a counter shown as per-second rate) or `gauge`.
    pub shown_as: String,
    /// Unit of the values (`requests/s` for a rate of `requests`).
    pub unit: String,
    /// Time of the first value.
    pub start: String,
    /// Seconds between values.
    pub step_s: f64,
    /// The values, oldest first; null means no data.
    #[serde(with = "vec_nan_as_null")]
    pub values: Vec<f64>,
    /// Summary over the window.
    pub summary: SeriesSummary,
}

/// Result of `query_metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsResult {
    /// The metric asked for.
    pub metric: String,
    /// Window start.
    pub start: String,
    /// Window end.
    pub end: String,
    /// Series that matched, before the limit.
    pub matched_series: usize,
    /// The series returned.
    pub series: Vec<SeriesResult>,
    /// Metric names that exist (for the service, when one was given), listed only when
    /// nothing matched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub available_metrics: Vec<String>,
    /// The closest existing name when nothing matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub did_you_mean: Option<String>,
    /// What was cut or adjusted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Whether `text` matches a glob where `*` stands for any run of characters.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Per-sample values as the agent sees them: counters become per-second rates (a drop
/// is a restart, so the new value is the increase since zero, as Prometheus `rate()`
/// reads it); gauges stay as they are. The first counter sample has no rate.
pub fn as_shown(series: &MetricSeries) -> Vec<f64> {
    match series.kind {
        MetricKind::Gauge => series.values.clone(),
        MetricKind::Counter => {
            let step_s = series.step_ms.max(1) as f64 / 1000.0;
            let mut out = Vec::with_capacity(series.values.len());
            let mut prev: Option<f64> = None;
            for &v in &series.values {
                let rate = match prev {
                    Some(p) if v.is_finite() => {
                        let delta = if v < p { v } else { v - p };
                        delta / step_s
                    }
                    _ => f64::NAN,
                };
                out.push(rate);
                // A failed scrape leaves the last good value as the reference.
                if v.is_finite() {
                    prev = Some(v);
                }
            }
            out
        }
    }
}

fn summarize(values: &[f64]) -> SeriesSummary {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (min, max, mean) = if finite.is_empty() {
        (f64::NAN, f64::NAN, f64::NAN)
    } else {
        (
            finite.iter().copied().fold(f64::INFINITY, f64::min),
            finite.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            finite.iter().sum::<f64>() / finite.len() as f64,
        )
    };
    SeriesSummary {
        min: round_sig(min),
        max: round_sig(max),
        mean: round_sig(mean),
        last: round_sig(values.last().copied().unwrap_or(f64::NAN)),
        no_data_samples: values.len() - finite.len(),
    }
}

/// Averages consecutive buckets of `bucket` values, ignoring missing ones.
fn downsample(values: &[f64], bucket: usize) -> Vec<f64> {
    values
        .chunks(bucket.max(1))
        .map(|c| {
            let (sum, n) = c
                .iter()
                .filter(|v| v.is_finite())
                .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
            if n == 0 {
                f64::NAN
            } else {
                round_sig(sum / n as f64)
            }
        })
        .collect()
}

fn names_matching<'a>(t: &'a Telemetry, pattern: &str, service: Option<u16>) -> Vec<&'a str> {
    let mut names: Vec<&str> = t
        .metrics
        .iter()
        .filter(|m| service.is_none_or(|s| m.service == s))
        .map(|m| m.name.as_str())
        .filter(|n| pattern.is_empty() || glob_match(pattern, n))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Answers `query_metrics`.
pub fn query_metrics(t: &Telemetry, args: &MetricsArgs) -> Result<MetricsResult, QueryError> {
    let window = Window::resolve(t, args.start.as_deref(), args.end.as_deref())?;
    let service = resolve_service(t, args.service.as_deref())?;
    let mut notes = Vec::new();
    let limit = clamp_limit(args.limit, DEFAULT_SERIES, MAX_SERIES, "limit", &mut notes);
    let asked = args.metric.trim();
    if asked.is_empty() {
        return Err(QueryError::BadArgument {
            field: "metric".into(),
            reason: "give a metric name, a glob like `container_*`, or a fragment like `memory`"
                .into(),
        });
    }
    let step_ms = match &args.step {
        Some(s) => Some(
            otrashi_scenarios::Duration::from_str(s.trim())
                .map_err(|e| QueryError::BadArgument {
                    field: "step".into(),
                    reason: e.to_string(),
                })?
                .as_millis(),
        ),
        None => None,
    };

    // Exact name or glob first; a bare fragment falls back to a substring match.
    let mut pattern = asked.to_owned();
    if names_matching(t, &pattern, service).is_empty() && !asked.contains('*') {
        let fragment = format!("*{}*", asked.to_ascii_lowercase());
        if !names_matching(t, &fragment, service).is_empty() {
            notes.push(format!(
                "no metric is named `{asked}`; showing metrics whose name contains it"
            ));
            pattern = fragment;
        }
    }

    let label_ok = |m: &MetricSeries| {
        args.labels.iter().all(|(k, want)| {
            m.labels
                .iter()
                .any(|(lk, lv)| lk == k && glob_match(want, lv))
        })
    };
    let mut matched: Vec<&MetricSeries> = t
        .metrics
        .iter()
        .filter(|m| service.is_none_or(|s| m.service == s))
        .filter(|m| glob_match(&pattern, &m.name))
        .collect();
    let before_labels = matched.len();
    matched.retain(|m| label_ok(m));
    if before_labels > 0 && matched.is_empty() {
        let mut keys: Vec<String> = t
            .metrics
            .iter()
            .filter(|m| glob_match(&pattern, &m.name))
            .flat_map(|m| m.labels.iter().map(|(k, v)| format!("{k}={v}")))
            .collect();
        keys.sort();
        keys.dedup();
        keys.truncate(40);
        notes.push(format!(
            "{before_labels} series match the name but none has the requested labels; labels seen: {}",
            keys.join(", ")
        ));
    }
    matched.sort_by(|a, b| (a.service, &a.name, &a.labels).cmp(&(b.service, &b.name, &b.labels)));

    let mut result = MetricsResult {
        metric: asked.to_owned(),
        start: wall(t, window.start_ms),
        end: wall(t, window.end_ms),
        matched_series: matched.len(),
        series: Vec::new(),
        available_metrics: Vec::new(),
        did_you_mean: None,
        notes,
    };
    if before_labels == 0 {
        let available = names_matching(t, "", service);
        result.did_you_mean = otrashi_scenarios::catalog::closest(asked, available.iter().copied())
            .map(str::to_owned);
        let scope = args
            .service
            .as_deref()
            .map(|s| format!(" on `{s}`"))
            .unwrap_or_default();
        result.notes.push(format!(
            "no metric matches `{asked}`{scope}; see available_metrics"
        ));
        if available.len() > MAX_AVAILABLE {
            result.notes.push(format!(
                "available_metrics lists {MAX_AVAILABLE} of {} names",
                available.len()
            ));
        }
        result.available_metrics = available
            .into_iter()
            .take(MAX_AVAILABLE)
            .map(str::to_owned)
            .collect();
        return Ok(result);
    }
    if matched.len() > limit {
        result.notes.push(format!(
            "showing {limit} of {} series; narrow with `service` or `labels`, or raise `limit` (at most {MAX_SERIES})",
            matched.len()
        ));
    }
    let mut coarsened = false;
    for m in matched.into_iter().take(limit) {
        let shown = as_shown(m);
        let step = m.step_ms.max(1);
        let mut first = window.start_ms.saturating_sub(m.start_ms).div_ceil(step) as usize;
        // A counter's first sample has no rate; starting after it keeps "no data" for
        // real gaps.
        if m.kind == MetricKind::Counter && first == 0 {
            first = 1;
        }
        let in_window: Vec<(usize, f64)> = shown
            .iter()
            .copied()
            .enumerate()
            .skip(first)
            .take_while(|(i, _)| m.start_ms + *i as u64 * step <= window.end_ms)
            .collect();
        let Some(&(first_idx, _)) = in_window.first() else {
            continue;
        };
        let values: Vec<f64> = in_window.iter().map(|(_, v)| *v).collect();
        let by_points = values.len().div_ceil(MAX_POINTS);
        let by_step = step_ms.map_or(1, |s| (s.div_ceil(step)) as usize);
        if by_points > by_step && step_ms.is_some() {
            coarsened = true;
        }
        let bucket = by_points.max(by_step).max(1);
        let (shown_as, unit) = match m.kind {
            MetricKind::Counter => ("rate".to_owned(), format!("{}/s", m.unit)),
            MetricKind::Gauge => ("gauge".to_owned(), m.unit.clone()),
        };
        result.series.push(SeriesResult {
            name: m.name.clone(),
            service: t.service_name(m.service).to_owned(),
            labels: m.labels.iter().cloned().collect(),
            shown_as,
            unit,
            start: wall(t, m.start_ms + first_idx as u64 * step),
            step_s: (bucket as u64 * step) as f64 / 1000.0,
            values: downsample(&values, bucket),
            summary: summarize(&values),
        });
    }
    if coarsened {
        result.notes.push(format!(
            "the requested step would give more than {MAX_POINTS} points; used a coarser one"
        ));
    }
    Ok(result)
}
