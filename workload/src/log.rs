//! Structured logs: one JSON object per line on stdout, the shape container log
//! collectors and the gym's `search_logs` expect (`ts`, `level`, `service`, `msg`,
//! `trace_id`, `fields`).

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Routine events (access lines, start-up).
    Info,
    /// Something degraded but served (retries, slow queries).
    Warn,
    /// A request failed.
    Error,
    /// The process is about to die.
    Fatal,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }
}

/// Lines kept in memory by a [`Logger::in_memory`] logger.
#[derive(Debug, Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<String>>>);

impl LogBuffer {
    /// The lines written so far.
    pub fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[derive(Debug, Clone)]
enum Sink {
    Stdout,
    Memory(LogBuffer),
}

/// Writes log lines for one service.
#[derive(Debug, Clone)]
pub struct Logger {
    service: String,
    sink: Sink,
}

impl Logger {
    /// A logger that stamps every line with `service` and writes to stdout.
    pub fn new(service: impl Into<String>) -> Logger {
        Logger {
            service: service.into(),
            sink: Sink::Stdout,
        }
    }

    /// A logger that keeps its lines in memory, for services run inside tests.
    pub fn in_memory(service: impl Into<String>) -> (Logger, LogBuffer) {
        let buffer = LogBuffer::default();
        let logger = Logger {
            service: service.into(),
            sink: Sink::Memory(buffer.clone()),
        };
        (logger, buffer)
    }

    /// Renders one line (without the newline).
    pub fn render(&self, level: Level, msg: &str, trace_id: Option<&str>, fields: Value) -> String {
        json!({
            "ts": rfc3339_now(),
            "level": level.as_str(),
            "service": self.service,
            "msg": msg,
            "trace_id": trace_id,
            "fields": fields,
        })
        .to_string()
    }

    /// Writes one line. A closed stdout is ignored: losing a log line must not fail the
    /// request that wrote it.
    pub fn log(&self, level: Level, msg: &str, trace_id: Option<&str>, fields: Value) {
        let mut line = self.render(level, msg, trace_id, fields);
        match &self.sink {
            Sink::Stdout => {
                line.push('\n');
                let _ = std::io::stdout().lock().write_all(line.as_bytes());
            }
            Sink::Memory(buffer) => buffer
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(line),
        }
    }
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339_now() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(since.as_secs(), since.subsec_millis())
}

/// Formats seconds since the epoch; kept free of a date crate since only UTC is needed.
fn rfc3339(secs: u64, millis: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_rfc3339() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(1_795_393_861, 999), "2026-11-23T00:31:01.999Z");
    }

    #[test]
    fn a_line_is_one_json_object_with_the_contract_keys() {
        let line = Logger::new("cart").render(
            Level::Error,
            "upstream timeout",
            Some("abc"),
            json!({"peer": "db"}),
        );
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["service"], "cart");
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "upstream timeout");
        assert_eq!(v["trace_id"], "abc");
        assert_eq!(v["fields"]["peer"], "db");
        assert!(v["ts"].as_str().unwrap().ends_with('Z'));
    }
}
