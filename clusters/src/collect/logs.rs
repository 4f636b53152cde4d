//! Container log lines (the workload's JSON lines) into log records with mined
//! templates, and spans rebuilt from the access lines: the workload logs each request
//! with its trace id, span id, parent span, status and duration. The rebuilt spans are
//! a fallback: the workloads export real spans over OTLP (see `traces`), and the
//! episode keeps rebuilt spans only of services that exported none.

use std::collections::HashMap;

use otrashi_gym::telemetry::{LogLevel, LogRecord, LogTemplate, ServiceId, Span, SpanStatus};
use serde_json::Value;

/// Templates, records and spans being collected; times are scenario milliseconds.
#[derive(Debug, Default)]
pub struct LogSink {
    /// Templates, indexed by [`LogRecord::template`].
    pub templates: Vec<LogTemplate>,
    index: HashMap<String, u32>,
    /// Records, in arrival order.
    pub records: Vec<LogRecord>,
    /// Operation names, indexed by [`Span::operation`].
    pub operations: Vec<String>,
    /// Spans from access lines.
    pub spans: Vec<Span>,
}

/// Maps wall-clock Unix ms to scenario ms.
pub type Clock<'a> = &'a dyn Fn(i64) -> Option<u64>;

impl LogSink {
    /// Adds one raw line of service `svc`; `fallback_unix_ms` is the engine's timestamp,
    /// used when the line carries none.
    pub fn line(
        &mut self,
        svc: ServiceId,
        raw: &str,
        fallback_unix_ms: Option<i64>,
        clock: Clock<'_>,
    ) {
        let raw = raw.trim();
        if raw.is_empty() {
            return;
        }
        let json: Option<Value> = serde_json::from_str(raw).ok();
        let (level, msg, trace, unix) = match &json {
            Some(v) => (
                match v.get("level").and_then(Value::as_str).unwrap_or("info") {
                    "debug" => LogLevel::Debug,
                    "warn" => LogLevel::Warn,
                    "error" => LogLevel::Error,
                    "fatal" => LogLevel::Fatal,
                    _ => LogLevel::Info,
                },
                v.get("msg")
                    .and_then(Value::as_str)
                    .unwrap_or(raw)
                    .to_owned(),
                v.get("trace_id").and_then(Value::as_str).and_then(hex_u64),
                v.get("ts")
                    .and_then(Value::as_str)
                    .and_then(parse_rfc3339_ms),
            ),
            None => (LogLevel::Info, raw.to_owned(), None, None),
        };
        let Some(t_ms) = unix.or(fallback_unix_ms).and_then(clock) else {
            return;
        };
        let (text, args) = mine(&msg);
        let template = match self.index.get(&text) {
            Some(&i) => i,
            None => {
                let i = self.templates.len() as u32;
                self.templates.push(LogTemplate { text: text.clone() });
                self.index.insert(text, i);
                i
            }
        };
        self.records.push(LogRecord {
            t_ms,
            service: svc,
            level,
            template,
            args,
            trace_id: trace,
        });
        if let (Some(v), Some(trace_id)) = (&json, trace) {
            self.span(svc, v, &msg, trace_id, t_ms);
        }
    }

    fn span(&mut self, svc: ServiceId, v: &Value, msg: &str, trace_id: u64, t_ms: u64) {
        let Some(fields) = v.get("fields") else {
            return;
        };
        let (Some(status), Some(duration_ms), Some(span_id)) = (
            fields.get("status").and_then(Value::as_u64),
            fields.get("duration_ms").and_then(Value::as_f64),
            fields
                .get("span_id")
                .and_then(Value::as_str)
                .and_then(hex_u64),
        ) else {
            return;
        };
        let op = msg
            .rsplit_once(' ')
            .map_or(msg, |(head, _)| head)
            .to_owned();
        let operation = match self.operations.iter().position(|o| *o == op) {
            Some(i) => i as u32,
            None => {
                self.operations.push(op);
                (self.operations.len() - 1) as u32
            }
        };
        let duration_us = (duration_ms * 1000.0).max(0.0) as u64;
        let error = status >= 500;
        self.spans.push(Span {
            trace_id,
            span_id,
            parent_id: fields
                .get("parent_span_id")
                .and_then(Value::as_str)
                .and_then(hex_u64),
            service: svc,
            operation,
            start_us: (t_ms * 1000).saturating_sub(duration_us),
            duration_us,
            status: if error {
                SpanStatus::Error
            } else {
                SpanStatus::Ok
            },
            http_status: u16::try_from(status).unwrap_or(0),
            error: error.then(|| format!("HTTP {status}")),
        });
    }

    /// Sorts records by time and spans by trace then start, as the telemetry wants.
    pub fn sort(&mut self) {
        self.records.sort_by_key(|r| r.t_ms);
        self.spans.sort_by_key(|s| (s.trace_id, s.start_us));
    }
}

/// The low 64 bits of a hex id (W3C trace ids are 128 bits).
fn hex_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(&s[s.len().saturating_sub(16)..], 16).ok()
}

fn is_variable(core: &str) -> bool {
    if core.is_empty() {
        return false;
    }
    let numeric = core
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '_' | ':' | '%'))
        && core.chars().any(|c| c.is_ascii_digit());
    let hexish = core.len() >= 8
        && core.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        && core.chars().any(|c| c.is_ascii_digit());
    let with_unit = core
        .trim_end_matches(|c: char| c.is_ascii_alphabetic())
        .parse::<f64>()
        .is_ok()
        && core.len()
            - core
                .trim_end_matches(|c: char| c.is_ascii_alphabetic())
                .len()
            <= 3;
    numeric || hexish || with_unit
}

/// Replaces the variable words of a message (numbers, hex ids, UUIDs, durations) with
/// `{}` and returns the template and the replaced parts, so that lines differing only
/// in those group together.
pub fn mine(msg: &str) -> (String, Vec<String>) {
    let mut text = String::with_capacity(msg.len());
    let mut args = Vec::new();
    for (i, word) in msg.split(' ').enumerate() {
        if i > 0 {
            text.push(' ');
        }
        let trim = |c: char| matches!(c, '(' | ')' | '[' | ']' | ',' | ';' | '"' | '\'' | '=');
        let start = word.len() - word.trim_start_matches(trim).len();
        let end = word.trim_end_matches(trim).len().max(start);
        let core = &word[start..end];
        let (key, value) = match core.split_once('=') {
            Some((k, v)) if is_variable(v) => (Some(k), v),
            _ => (None, core),
        };
        if is_variable(value) {
            text.push_str(&word[..start]);
            if let Some(k) = key {
                text.push_str(k);
                text.push('=');
            }
            text.push_str("{}");
            text.push_str(&word[end..]);
            args.push(value.to_owned());
        } else {
            text.push_str(word);
        }
    }
    (text, args)
}

/// `YYYY-MM-DDTHH:MM:SS[.fff…]Z` to Unix milliseconds.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let s = s.trim().strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (h, mi, sec) = (t.next()??, t.next()??, t.next()??);
    let ms: i64 = format!("{:0<3}", &frac[..frac.len().min(3)]).parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_group_lines_that_differ_in_numbers_and_ids() {
        assert_eq!(mine("GET / 500").0, "GET / {}");
        let (t, a) = mine("retrying call to db after status 503 (attempt 1 of 2)");
        assert_eq!(t, "retrying call to db after status {} (attempt {} of {})");
        assert_eq!(a, ["503", "1", "2"]);
        assert_eq!(mine("took 35ms id=4bf92f3577b34da6").0, "took {} id={}");
        assert_eq!(mine("listening on 0.0.0.0:8080").0, "listening on {}");
    }

    #[test]
    fn rfc3339_round_trips_known_instants() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2026-01-01T00:00:00.250Z"),
            Some(1_767_225_600_250)
        );
        assert_eq!(
            parse_rfc3339_ms("2026-11-22T00:43:43.123456789Z"),
            Some(1_795_308_223_123)
        );
    }

    #[test]
    fn access_lines_become_records_and_spans() {
        let mut sink = LogSink::default();
        let clock = |u: i64| u64::try_from(u - 1_767_225_600_000).ok();
        sink.line(
            3,
            r#"{"ts":"2026-01-01T00:00:01.000Z","level":"error","service":"cart","msg":"GET / 500","trace_id":"0af7651916cd43dd8448eb211c80319c","fields":{"status":500,"duration_ms":12.5,"span_id":"b7ad6b7169203331","parent_span_id":null}}"#,
            None,
            &clock,
        );
        sink.line(3, "not json 42", Some(1_767_225_602_000), &clock);
        assert_eq!(sink.records.len(), 2);
        assert_eq!(sink.records[0].t_ms, 1000);
        assert_eq!(sink.records[0].level, LogLevel::Error);
        assert_eq!(sink.records[0].trace_id, Some(0x8448_eb21_1c80_319c));
        assert_eq!(sink.templates[1].text, "not json {}");
        assert_eq!(sink.spans.len(), 1);
        assert_eq!(sink.spans[0].status, SpanStatus::Error);
        assert_eq!(sink.operations, ["GET /"]);
    }
}
