//! Queries over one episode's [`Telemetry`]: what the agent's tools answer with.
//!
//! Every result is bounded (series, points, groups, traces, characters) and says so in
//! its `notes` when something was cut, because an agent that silently sees half the data
//! reasons wrongly, and one that sees all of it overflows its context. Times in results
//! are RFC 3339 UTC strings; times in arguments are RFC 3339 or `-10m` relative to now,
//! the end of the window.

pub mod deploys;
pub mod events;
pub mod logs;
pub mod metrics;
pub mod services;
pub mod time;
pub mod traces;

use crate::telemetry::{ServiceId, Telemetry};

pub use deploys::{get_code_diff, get_deploys, CodeDiff, DeployArgs, DeployInfo, DeploysResult};
pub use events::{get_events, EventGroup, EventsArgs, EventsResult};
pub use logs::{search_logs, LogGroup, LogSort, LogsArgs, LogsResult};
pub use metrics::{query_metrics, MetricsArgs, MetricsResult, SeriesResult, SeriesSummary};
pub use services::{list_services, ServiceInfo, ServicesResult};
pub use time::{format_rfc3339, parse_rfc3339, resolve_time};
pub use traces::{get_traces, SpanNode, TraceResult, TracesArgs, TracesResult, TracesSummary};

/// Why a query could not be answered. Every message tells the agent how to fix the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A time argument is neither RFC 3339 nor a relative offset.
    #[error("cannot read time `{input}`: {reason}; use RFC 3339 (`2026-01-01T12:00:00Z`), `now`, or an offset back from now like `-10m`")]
    BadTime {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The window is empty or inverted.
    #[error("the time window is empty: start {start} is not before end {end}")]
    EmptyWindow {
        /// The resolved start (RFC 3339).
        start: String,
        /// The resolved end (RFC 3339).
        end: String,
    },
    /// No service has this name.
    #[error("no service named `{given}`{}; services are: {}", did_you_mean(suggestion), known.join(", "))]
    UnknownService {
        /// What was given.
        given: String,
        /// The closest name, when it looks like a typo.
        suggestion: Option<String>,
        /// Every service.
        known: Vec<String>,
    },
    /// No deploy has this id.
    #[error(
        "no deploy with id `{given}`{}; call get_deploys to list them",
        did_you_mean(suggestion)
    )]
    UnknownDeploy {
        /// What was given.
        given: String,
        /// The closest id, when it looks like a typo.
        suggestion: Option<String>,
    },
    /// An argument has a value the query cannot use.
    #[error("argument `{field}`: {reason}")]
    BadArgument {
        /// The argument's name.
        field: String,
        /// What is wrong, and what is allowed.
        reason: String,
    },
}

fn did_you_mean(s: &Option<String>) -> String {
    s.as_ref()
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

/// A resolved time window, in ms from the start of the telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Inclusive start.
    pub start_ms: u64,
    /// Inclusive end.
    pub end_ms: u64,
}

impl Window {
    /// Resolves optional `start` / `end` arguments; absent means the whole window.
    pub fn resolve(
        t: &Telemetry,
        start: Option<&str>,
        end: Option<&str>,
    ) -> Result<Window, QueryError> {
        let start_ms = match start {
            Some(s) => resolve_time(s, t.start_unix_ms, t.end_ms)?,
            None => 0,
        };
        let end_ms = match end {
            Some(s) => resolve_time(s, t.start_unix_ms, t.end_ms)?,
            None => t.end_ms,
        };
        if start_ms >= end_ms {
            return Err(QueryError::EmptyWindow {
                start: format_rfc3339(t.start_unix_ms + start_ms as i64),
                end: format_rfc3339(t.start_unix_ms + end_ms as i64),
            });
        }
        Ok(Window { start_ms, end_ms })
    }

    /// Whether a time falls inside.
    pub fn contains(&self, t_ms: u64) -> bool {
        (self.start_ms..=self.end_ms).contains(&t_ms)
    }
}

/// The wall-clock string of a telemetry time.
pub fn wall(t: &Telemetry, t_ms: u64) -> String {
    format_rfc3339(
        t.start_unix_ms
            .saturating_add(i64::try_from(t_ms).unwrap_or(i64::MAX)),
    )
}

/// Resolves an optional service argument to its id.
pub fn resolve_service(t: &Telemetry, name: Option<&str>) -> Result<Option<ServiceId>, QueryError> {
    let Some(name) = name else { return Ok(None) };
    t.service_id(name)
        .map(Some)
        .ok_or_else(|| QueryError::UnknownService {
            given: name.to_owned(),
            suggestion: otrashi_scenarios::catalog::closest(
                name,
                t.services.iter().map(String::as_str),
            )
            .map(str::to_owned),
            known: t.services.clone(),
        })
}

/// Cuts `s` to at most `max` characters (on a char boundary), saying how much was cut.
pub fn truncate_text(s: &str, max: usize) -> (String, bool) {
    match s.char_indices().nth(max) {
        None => (s.to_owned(), false),
        Some((i, _)) => {
            let rest = s[i..].chars().count();
            (format!("{}… [{rest} more characters cut]", &s[..i]), true)
        }
    }
}

/// Clamps an optional limit into `1..=max`, defaulting to `default`, and notes a clamp.
pub(crate) fn clamp_limit(
    given: Option<u32>,
    default: u32,
    max: u32,
    field: &str,
    notes: &mut Vec<String>,
) -> usize {
    let v = given.unwrap_or(default);
    if v > max {
        notes.push(format!("{field} {v} is above the maximum; used {max}"));
    }
    v.clamp(1, max) as usize
}

/// Serializes `NaN` and infinities as JSON `null` ("no data").
pub(crate) mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes a number, or null when it is not finite.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }

    /// Reads a number, or NaN for null.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// As [`nan_as_null`], for a list.
pub(crate) mod vec_nan_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes numbers, null for those that are not finite.
    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let v: Vec<Option<f64>> = v.iter().map(|x| x.is_finite().then_some(*x)).collect();
        v.serialize(s)
    }

    /// Reads numbers, NaN for nulls.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Option<f64>>::deserialize(d)?
            .into_iter()
            .map(|x| x.unwrap_or(f64::NAN))
            .collect())
    }
}

/// Rounds for display: four significant digits keep outputs short without hiding change.
pub(crate) fn round_sig(v: f64) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return v;
    }
    let mag = v.abs().log10().floor() as i32;
    let scale = 10f64.powi(3 - mag);
    (v * scale).round() / scale
}

#[cfg(test)]
mod tests;
