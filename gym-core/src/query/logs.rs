//! `search_logs`: matching lines grouped by template, so that a line repeated ten
//! thousand times costs one entry with a count.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{clamp_limit, resolve_service, truncate_text, wall, QueryError, Window};
use crate::telemetry::{LogLevel, Telemetry};

/// Groups returned when the agent does not ask for a limit.
pub const DEFAULT_GROUPS: u32 = 20;
/// Most groups one call returns.
pub const MAX_GROUPS: u32 = 30;
/// Longest example line, in characters.
pub const MAX_EXAMPLE_CHARS: usize = 1500;
/// Longest pattern, in characters.
const MAX_PATTERN_CHARS: usize = 500;

/// How groups are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogSort {
    /// Most severe level first, then most frequent.
    #[default]
    Severity,
    /// Most frequent first.
    Count,
    /// Earliest first occurrence first.
    Time,
}

/// Arguments of `search_logs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsArgs {
    /// Only lines of this service.
    #[serde(default)]
    pub service: Option<String>,
    /// Words that must all appear in the line (case-insensitive); `"quoted phrases"`
    /// match as a whole.
    #[serde(default)]
    pub query: Option<String>,
    /// Minimum level (`DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`).
    #[serde(default)]
    pub level: Option<String>,
    /// Window start.
    #[serde(default)]
    pub start: Option<String>,
    /// Window end.
    #[serde(default)]
    pub end: Option<String>,
    /// Most groups to return (default 20, at most 30).
    #[serde(default)]
    pub limit: Option<u32>,
    /// `severity` (default), `count` or `time`.
    #[serde(default)]
    pub sort: Option<LogSort>,
}

/// Lines that share a template and a level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogGroup {
    /// The template, variable parts shown as `<*>`.
    pub pattern: String,
    /// The level.
    pub level: LogLevel,
    /// Matching lines.
    pub count: usize,
    /// Time of the first.
    pub first: String,
    /// Time of the last.
    pub last: String,
    /// Services that wrote it.
    pub services: Vec<String>,
    /// The first matching line in full (truncated when very long).
    pub example: String,
}

/// Result of `search_logs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogsResult {
    /// Window start.
    pub start: String,
    /// Window end.
    pub end: String,
    /// Lines that matched.
    pub matched_lines: usize,
    /// Matching lines per level.
    pub lines_by_level: BTreeMap<String, usize>,
    /// Groups found, before the limit.
    pub total_groups: usize,
    /// The groups returned.
    pub groups: Vec<LogGroup>,
    /// What was cut or adjusted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Reads a level name leniently (`warning`, `err`, `crit` are understood).
pub fn parse_level(s: &str) -> Option<LogLevel> {
    match s.trim().to_ascii_uppercase().as_str() {
        "DEBUG" | "TRACE" => Some(LogLevel::Debug),
        "INFO" | "NOTICE" => Some(LogLevel::Info),
        "WARN" | "WARNING" => Some(LogLevel::Warn),
        "ERROR" | "ERR" => Some(LogLevel::Error),
        "FATAL" | "CRIT" | "CRITICAL" | "PANIC" => Some(LogLevel::Fatal),
        _ => None,
    }
}

/// Splits a query into lower-case terms; double quotes keep a phrase together.
fn terms(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, chunk) in query.split('"').enumerate() {
        if i % 2 == 1 {
            let phrase = chunk.trim();
            if !phrase.is_empty() {
                out.push(phrase.to_lowercase());
            }
        } else {
            out.extend(chunk.split_whitespace().map(str::to_lowercase));
        }
    }
    out
}

struct Acc {
    template: u32,
    level: LogLevel,
    count: usize,
    first_ms: u64,
    last_ms: u64,
    services: Vec<u16>,
    example: String,
}

/// Answers `search_logs`.
pub fn search_logs(t: &Telemetry, args: &LogsArgs) -> Result<LogsResult, QueryError> {
    let window = Window::resolve(t, args.start.as_deref(), args.end.as_deref())?;
    let service = resolve_service(t, args.service.as_deref())?;
    let min_level = match &args.level {
        None => LogLevel::Debug,
        Some(l) => parse_level(l).ok_or_else(|| QueryError::BadArgument {
            field: "level".into(),
            reason: format!("`{l}` is not a level; use DEBUG, INFO, WARN, ERROR or FATAL"),
        })?,
    };
    let mut notes = Vec::new();
    let limit = clamp_limit(args.limit, DEFAULT_GROUPS, MAX_GROUPS, "limit", &mut notes);
    let terms = args.query.as_deref().map(terms).unwrap_or_default();

    let mut groups: HashMap<(u32, LogLevel), Acc> = HashMap::new();
    let mut by_level: BTreeMap<String, usize> = BTreeMap::new();
    let mut matched = 0usize;
    for r in &t.logs {
        if !window.contains(r.t_ms)
            || r.level < min_level
            || service.is_some_and(|s| s != r.service)
        {
            continue;
        }
        let Some(template) = t.log_templates.get(r.template as usize) else {
            continue;
        };
        // Rendering every line is the cost of a text search; without terms, only the
        // first line of each group is rendered, for its example.
        let line = if terms.is_empty() {
            None
        } else {
            let line = template.render(&r.args);
            let lower = line.to_lowercase();
            if !terms.iter().all(|term| lower.contains(term.as_str())) {
                continue;
            }
            Some(line)
        };
        matched += 1;
        *by_level.entry(r.level.as_str().to_owned()).or_default() += 1;
        let acc = groups.entry((r.template, r.level)).or_insert_with(|| Acc {
            template: r.template,
            level: r.level,
            count: 0,
            first_ms: r.t_ms,
            last_ms: r.t_ms,
            services: Vec::new(),
            example: line.unwrap_or_else(|| template.render(&r.args)),
        });
        acc.count += 1;
        acc.first_ms = acc.first_ms.min(r.t_ms);
        acc.last_ms = acc.last_ms.max(r.t_ms);
        if !acc.services.contains(&r.service) {
            acc.services.push(r.service);
        }
    }

    let mut accs: Vec<Acc> = groups.into_values().collect();
    let sort = args.sort.unwrap_or_default();
    accs.sort_by(|a, b| {
        let by_count = b.count.cmp(&a.count);
        let by_time = a.first_ms.cmp(&b.first_ms);
        match sort {
            LogSort::Severity => b.level.cmp(&a.level).then(by_count).then(by_time),
            LogSort::Count => by_count.then(b.level.cmp(&a.level)).then(by_time),
            LogSort::Time => by_time.then(by_count),
        }
        .then(a.template.cmp(&b.template))
    });
    let total_groups = accs.len();
    if total_groups > limit {
        notes.push(format!(
            "showing {limit} of {total_groups} groups; narrow with `service`, `level`, `query` or the window"
        ));
    }
    let mut cut_examples = false;
    let groups = accs
        .into_iter()
        .take(limit)
        .map(|a| {
            let pattern = t
                .log_templates
                .get(a.template as usize)
                .map(|tpl| tpl.pattern())
                .unwrap_or_default();
            let (pattern, _) = truncate_text(&pattern, MAX_PATTERN_CHARS);
            let (example, cut) = truncate_text(&a.example, MAX_EXAMPLE_CHARS);
            cut_examples |= cut;
            let mut services = a.services;
            services.sort_unstable();
            LogGroup {
                pattern,
                level: a.level,
                count: a.count,
                first: wall(t, a.first_ms),
                last: wall(t, a.last_ms),
                services: services
                    .into_iter()
                    .map(|s| t.service_name(s).to_owned())
                    .collect(),
                example,
            }
        })
        .collect();
    if cut_examples {
        notes.push(format!(
            "long example lines are cut at {MAX_EXAMPLE_CHARS} characters"
        ));
    }
    Ok(LogsResult {
        start: wall(t, window.start_ms),
        end: wall(t, window.end_ms),
        matched_lines: matched,
        lines_by_level: by_level,
        total_groups,
        groups,
        notes,
    })
}
