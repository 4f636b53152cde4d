//! `get_events`: orchestrator events, identical repeats folded with a count, as
//! `kubectl get events` shows `x3 over 5m`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{clamp_limit, resolve_service, truncate_text, wall, QueryError, Window};
use crate::telemetry::{EventType, Telemetry};

/// Event groups returned when the agent does not ask for a limit.
pub const DEFAULT_EVENTS: u32 = 40;
/// Most event groups one call returns.
pub const MAX_EVENTS: u32 = 60;
/// Longest message shown.
const MAX_MESSAGE_CHARS: usize = 500;

/// Arguments of `get_events`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsArgs {
    /// Only events of this service.
    #[serde(default)]
    pub service: Option<String>,
    /// Window start.
    #[serde(default)]
    pub start: Option<String>,
    /// Window end.
    #[serde(default)]
    pub end: Option<String>,
    /// `Normal` or `Warning`.
    #[serde(default, rename = "type")]
    pub event_type: Option<String>,
    /// Most groups to return (default 40, at most 60), earliest first.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Identical events, folded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventGroup {
    /// Time of the first.
    pub first: String,
    /// Time of the last.
    pub last: String,
    /// How many times it happened.
    pub count: usize,
    /// The service it concerns.
    pub service: String,
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// CamelCase reason (`OOMKilled`, `BackOff`).
    pub reason: String,
    /// The message.
    pub message: String,
}

/// Result of `get_events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventsResult {
    /// Window start.
    pub start: String,
    /// Window end.
    pub end: String,
    /// Events that matched, before folding.
    pub matched_events: usize,
    /// Folded groups, earliest first.
    pub events: Vec<EventGroup>,
    /// What was cut or adjusted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn parse_type(s: &str) -> Option<EventType> {
    match s.trim().to_ascii_lowercase().as_str() {
        "normal" => Some(EventType::Normal),
        "warning" | "warn" => Some(EventType::Warning),
        _ => None,
    }
}

/// Answers `get_events`.
pub fn get_events(t: &Telemetry, args: &EventsArgs) -> Result<EventsResult, QueryError> {
    let window = Window::resolve(t, args.start.as_deref(), args.end.as_deref())?;
    let service = resolve_service(t, args.service.as_deref())?;
    let event_type = match &args.event_type {
        None => None,
        Some(s) => Some(parse_type(s).ok_or_else(|| QueryError::BadArgument {
            field: "type".into(),
            reason: format!("`{s}` is not an event type; use Normal or Warning"),
        })?),
    };
    let mut notes = Vec::new();
    let limit = clamp_limit(args.limit, DEFAULT_EVENTS, MAX_EVENTS, "limit", &mut notes);

    let mut matched = 0usize;
    // (first_ms, last_ms, index of the first event, count) per distinct event.
    let mut groups: Vec<(u64, u64, usize, usize)> = Vec::new();
    let mut index: HashMap<(u16, bool, &str, &str), usize> = HashMap::new();
    for (i, e) in t.events.iter().enumerate() {
        if !window.contains(e.t_ms)
            || service.is_some_and(|s| s != e.service)
            || event_type.is_some_and(|ty| ty != e.event_type)
        {
            continue;
        }
        matched += 1;
        let key = (
            e.service,
            e.event_type == EventType::Warning,
            e.reason.as_str(),
            e.message.as_str(),
        );
        match index.get(&key) {
            Some(&g) => {
                groups[g].1 = groups[g].1.max(e.t_ms);
                groups[g].3 += 1;
            }
            None => {
                index.insert(key, groups.len());
                groups.push((e.t_ms, e.t_ms, i, 1));
            }
        }
    }
    groups.sort_by_key(|g| (g.0, g.2));
    if groups.len() > limit {
        notes.push(format!(
            "showing the {limit} earliest of {} event groups; narrow with `service`, `type` or the window",
            groups.len()
        ));
    }
    let events = groups
        .into_iter()
        .take(limit)
        .map(|(first, last, j, count)| {
            let e = &t.events[j];
            EventGroup {
                first: wall(t, first),
                last: wall(t, last),
                count,
                service: t.service_name(e.service).to_owned(),
                event_type: e.event_type,
                reason: e.reason.clone(),
                message: truncate_text(&e.message, MAX_MESSAGE_CHARS).0,
            }
        })
        .collect();
    Ok(EventsResult {
        start: wall(t, window.start_ms),
        end: wall(t, window.end_ms),
        matched_events: matched,
        events,
        notes,
    })
}
