//! What the agent sees after each step, as JSON for programs and as text for LLMs.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What kind of observation this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservationKind {
    /// The start of an episode: the alert and the tools.
    Start,
    /// A tool's answer.
    ToolResult,
    /// The action was malformed or could not be answered; the episode goes on.
    Error,
    /// The episode ended (a report was accepted, or a budget ran out).
    End,
}

/// One observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// What kind.
    pub kind: ObservationKind,
    /// The tool that produced it, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The content, as JSON.
    pub content: Value,
}

impl Observation {
    /// An error observation with a message for the agent.
    pub fn error(tool: Option<&str>, message: impl Into<String>) -> Observation {
        Observation {
            kind: ObservationKind::Error,
            tool: tool.map(str::to_owned),
            content: serde_json::json!({ "error": message.into() }),
        }
    }

    /// The error message, for an error observation.
    pub fn error_message(&self) -> Option<&str> {
        (self.kind == ObservationKind::Error)
            .then(|| self.content.get("error").and_then(Value::as_str))
            .flatten()
    }

    /// Renders the observation as compact, indented text for an LLM's context: keys and
    /// values one per line, lists of numbers on one line, multi-line strings as blocks.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        match (self.kind, &self.tool) {
            (ObservationKind::Start, _) => out.push_str("# Incident\n"),
            (ObservationKind::ToolResult, Some(t)) => out.push_str(&format!("# {t}\n")),
            (ObservationKind::Error, Some(t)) => out.push_str(&format!("# {t}: error\n")),
            (ObservationKind::Error, None) => out.push_str("# error\n"),
            (ObservationKind::End, _) => out.push_str("# Episode over\n"),
            (ObservationKind::ToolResult, None) => {}
        }
        render(&self.content, 0, &mut out);
        out
    }

    /// Size of the JSON content in bytes, for trajectory statistics.
    pub fn size(&self) -> usize {
        self.content.to_string().len()
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("null".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.contains('\n') => Some(s.clone()),
        Value::Array(a) if a.is_empty() => Some("[]".into()),
        Value::Object(o) if o.is_empty() => Some("{}".into()),
        Value::Array(a)
            if a.iter()
                .all(|x| matches!(x, Value::Null | Value::Number(_) | Value::Bool(_))) =>
        {
            let parts: Vec<String> = a.iter().map(|x| scalar(x).unwrap_or_default()).collect();
            Some(format!("[{}]", parts.join(", ")))
        }
        _ => None,
    }
}

fn block(s: &str, indent: usize, out: &mut String) {
    for line in s.lines() {
        out.push_str(&" ".repeat(indent));
        out.push_str(line);
        out.push('\n');
    }
}

/// Keys that read best first (identity, then time), and keys that read best last (the
/// bulky nested parts). JSON objects carry no order, so text rendering imposes one.
const FIRST: &[&str] = &[
    "error",
    "message",
    "notes",
    "alert",
    "task",
    "name",
    "service",
    "metric",
    "trace_id",
    "id",
    "time",
    "fired_at",
    "first",
    "last",
    "count",
    "level",
    "type",
    "reason",
    "pattern",
    "operation",
    "status",
    "http_status",
    "duration_ms",
    "start",
    "end",
    "now",
];
const LAST: &[&str] = &[
    "summary", "example", "diff", "values", "series", "groups", "traces", "events", "deploys",
    "services", "tools", "root", "children",
];

fn key_rank(k: &str) -> (usize, usize) {
    if let Some(i) = FIRST.iter().position(|f| *f == k) {
        (0, i)
    } else if let Some(i) = LAST.iter().position(|f| *f == k) {
        (2, i)
    } else {
        (1, 0)
    }
}

fn render(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by_key(|(k, _)| key_rank(k));
            for (k, val) in entries {
                match (scalar(val), val) {
                    (Some(s), _) => out.push_str(&format!("{pad}{k}: {s}\n")),
                    (None, Value::String(s)) => {
                        out.push_str(&format!("{pad}{k}: |\n"));
                        block(s, indent + 2, out);
                    }
                    (None, _) => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        render(val, indent + 2, out);
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match (scalar(item), item) {
                    (Some(s), _) => out.push_str(&format!("{pad}- {s}\n")),
                    (None, Value::String(s)) => {
                        out.push_str(&format!("{pad}- |\n"));
                        block(s, indent + 4, out);
                    }
                    (None, _) => {
                        // The first line of a nested item sits beside its dash.
                        let mut inner = String::new();
                        render(item, indent + 2, &mut inner);
                        let trimmed = inner.get(indent + 2..).unwrap_or(&inner);
                        out.push_str(&format!("{pad}- {trimmed}"));
                    }
                }
            }
        }
        other => {
            if let Value::String(s) = other {
                block(s, indent, out);
            } else if let Some(s) = scalar(other) {
                out.push_str(&format!("{pad}{s}\n"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_compact_text() {
        let o = Observation {
            kind: ObservationKind::ToolResult,
            tool: Some("query_metrics".into()),
            content: json!({
                "series": [{"name": "up", "values": [1.0, null, 1.0]}],
                "notes": ["cut"],
                "example": "line one\nline two"
            }),
        };
        let text = o.to_text();
        assert!(text.starts_with("# query_metrics\n"), "{text}");
        assert!(
            text.contains("  - name: up\n    values: [1.0, null, 1.0]\n"),
            "{text}"
        );
        assert!(
            text.contains("example: |\n  line one\n  line two\n"),
            "{text}"
        );
        let e = Observation::error(Some("x"), "bad");
        assert_eq!(e.error_message(), Some("bad"));
        assert_eq!(e.to_text(), "# x: error\nerror: bad\n");
    }
}
