//! Reading a report: from text (possibly prose around JSON) or from a JSON value.

use serde_json::{Map, Value};

use super::fields::{parse_cause, parse_string_list, type_name};
use super::RcaReport;

/// The largest report accepted, in bytes of JSON. A report is a few kilobytes; anything
/// near this limit is a context dump, not an analysis.
pub const MAX_REPORT_BYTES: usize = 64 * 1024;

/// Positions of `{` tried when looking for a report inside prose.
const MAX_OBJECT_STARTS: usize = 256;

/// Why a report could not be read. Messages name the JSON path of the problem, so an
/// agent can fix its report and resubmit.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The text holds no JSON object (neither as a whole nor inside prose or a fenced
    /// block). `line` and `column` locate the error in the text as a whole.
    #[error("the report is not JSON: {message} at line {line}, column {column}")]
    NotJson {
        /// Line of the error in the submitted text, 1-based.
        line: usize,
        /// Column of the error in the submitted text, 1-based.
        column: usize,
        /// What the parser expected, without its position.
        message: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The report is larger than [`MAX_REPORT_BYTES`].
    #[error("the report is {size} bytes; the limit is {limit} bytes: submit the analysis, not the telemetry")]
    TooLarge {
        /// Its size in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// `root_causes` is missing or empty.
    #[error("no root causes: `root_causes` is {found}; name at least one component")]
    NoRootCauses {
        /// `missing`, `null` or `empty`.
        found: &'static str,
    },
    /// A required field is missing.
    #[error("{path} is missing")]
    MissingField {
        /// Its JSON path (`root_causes[2].component`).
        path: String,
    },
    /// A field has the wrong JSON type.
    #[error("{path} should be {expected}, found {found}")]
    WrongType {
        /// Its JSON path.
        path: String,
        /// What it should be.
        expected: &'static str,
        /// What it is (`a number`, `an array`).
        found: &'static str,
    },
    /// A field has the right type but a value that cannot be used.
    #[error("{path}: {message}")]
    InvalidValue {
        /// Its JSON path.
        path: String,
        /// What is wrong and what to write instead.
        message: String,
    },
}

/// Reads a report from an agent's text: plain JSON, or JSON inside prose or a fenced
/// block (the outermost object that parses). Returns the report and one warning per
/// leniency applied.
pub fn parse_report_str(text: &str) -> Result<(RcaReport, Vec<String>), ReportError> {
    check_size(text.len())?;
    let mut warnings = Vec::new();
    let value = match serde_json::from_str::<Value>(text) {
        Ok(v) => v,
        Err(whole) => match embedded_object(text) {
            Some(v) => {
                warnings.push(
                    "read the JSON object out of the surrounding text; submit bare JSON".to_owned(),
                );
                v
            }
            None => return Err(not_json(text, whole)),
        },
    };
    // Some clients encode the report twice: a JSON string holding the JSON report.
    let value = match value {
        Value::String(inner) => {
            warnings.push("the report was a JSON string holding JSON; decoded it".to_owned());
            serde_json::from_str::<Value>(inner.trim())
                .ok()
                .or_else(|| embedded_object(&inner))
                .ok_or(ReportError::WrongType {
                    path: "$".to_owned(),
                    expected: "an object",
                    found: "a string",
                })?
        }
        v => v,
    };
    let report = parse_object(&value, &mut warnings)?;
    Ok((report, warnings))
}

/// Reads a report from a JSON value (lenient, see [`parse_report_str`]). Returns the
/// report and one warning per leniency applied.
pub fn parse_report(value: &Value) -> Result<(RcaReport, Vec<String>), ReportError> {
    let size = serde_json::to_string(value).map_or(0, |s| s.len());
    check_size(size)?;
    let mut warnings = Vec::new();
    let report = parse_object(value, &mut warnings)?;
    Ok((report, warnings))
}

/// The error to show for text with no parseable object: when the text has a fenced
/// block or a `{…}` span, the error inside it (an agent's prose is not the problem),
/// located in the text as a whole.
fn not_json(text: &str, whole: serde_json::Error) -> ReportError {
    let fenced = text.find("```").and_then(|open| {
        let after = open + 3;
        let body = after + text[after..].find('\n')? + 1;
        let close = body + text[body..].find("```")?;
        Some((body, close))
    });
    let braces = text.find('{').and_then(|start| {
        text.rfind('}')
            .filter(|end| *end > start)
            .map(|end| (start, end + 1))
    });
    let (source, offset) = match fenced.or(braces) {
        Some((start, end)) if (start, end) != (0, text.len()) => {
            match serde_json::from_str::<Value>(&text[start..end]) {
                Err(e) => (e, start),
                Ok(_) => (whole, 0),
            }
        }
        _ => (whole, 0),
    };
    let before = &text[..offset];
    let lines_before = before.matches('\n').count();
    let column_offset = before.rsplit('\n').next().map_or(0, |l| l.chars().count());
    let line = lines_before + source.line();
    let column = if source.line() == 1 {
        column_offset + source.column()
    } else {
        source.column()
    };
    let full = source.to_string();
    let message = full
        .rsplit_once(" at line ")
        .map_or(full.as_str(), |(m, _)| m)
        .to_owned();
    ReportError::NotJson {
        line,
        column,
        message,
        source,
    }
}

fn check_size(size: usize) -> Result<(), ReportError> {
    if size > MAX_REPORT_BYTES {
        return Err(ReportError::TooLarge {
            size,
            limit: MAX_REPORT_BYTES,
        });
    }
    Ok(())
}

/// The JSON object in the text: fenced blocks first, then balanced `{…}` scanning from
/// the left; among those that parse, the first that looks like a report (has
/// `root_causes`, `root_cause` or a `report` wrapper), else the first object.
fn embedded_object(text: &str) -> Option<Value> {
    let mut found: Vec<Value> = Vec::new();
    let mut consider = |s: &str| {
        if let Some(v) = serde_json::from_str::<Value>(s.trim())
            .ok()
            .filter(Value::is_object)
        {
            found.push(v);
        }
    };
    let mut rest = text;
    while let Some(open) = rest.find("```") {
        let after = &rest[open + 3..];
        // The fence line may carry a language tag (```json).
        let body_start = after.find('\n').map_or(after.len(), |i| i + 1);
        let body = &after[body_start..];
        let Some(close) = body.find("```") else {
            break;
        };
        consider(&body[..close]);
        rest = &body[close + 3..];
    }
    let mut from = 0;
    // Each attempt scans to the end at worst; capping them keeps a text of 64 KiB of
    // `{` from costing seconds.
    let mut attempts = 0;
    while let Some(start) = text[from..].find('{').map(|i| i + from) {
        attempts += 1;
        if attempts > MAX_OBJECT_STARTS {
            break;
        }
        match matching_brace(&text[start..]) {
            Some(len) => {
                consider(&text[start..start + len]);
                from = start + len;
            }
            None => from = start + 1,
        }
    }
    let looks_like_report = |v: &Value| {
        ["root_causes", "root_cause", "report", "rca_report", "rca"]
            .iter()
            .any(|k| v.get(k).is_some())
    };
    match found.iter().position(looks_like_report) {
        Some(i) => Some(found.swap_remove(i)),
        None => found.into_iter().next(),
    }
}

/// Length of the balanced `{…}` at the start of `s`, skipping braces inside strings.
fn matching_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => depth += 1,
            '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

const TOP_FIELDS: [&str; 5] = [
    "root_causes",
    "root_cause",
    "affected",
    "remediation",
    "summary",
];

fn parse_object(value: &Value, warnings: &mut Vec<String>) -> Result<RcaReport, ReportError> {
    let mut obj = as_object(value, "$")?;
    if !obj.contains_key("root_causes") && !obj.contains_key("root_cause") {
        for wrapper in ["report", "rca_report", "rca"] {
            if let Some(inner @ Value::Object(_)) = obj.get(wrapper) {
                warnings.push(format!("read the report inside `{wrapper}`"));
                obj = as_object(inner, wrapper)?;
                break;
            }
        }
    }
    for key in obj.keys().filter(|k| !TOP_FIELDS.contains(&k.as_str())) {
        warnings.push(format!("ignored unknown field `{key}`"));
    }

    let (key, causes_value) = match (obj.get("root_causes"), obj.get("root_cause")) {
        (Some(v), other) => {
            if other.is_some() {
                warnings.push("ignored `root_cause`: `root_causes` is given".to_owned());
            }
            ("root_causes", v)
        }
        (None, Some(v)) => {
            warnings.push("read `root_cause` as `root_causes`".to_owned());
            ("root_cause", v)
        }
        (None, None) => return Err(ReportError::NoRootCauses { found: "missing" }),
    };
    let items: Vec<&Value> = match causes_value {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) | Value::String(_) => {
            warnings.push(format!(
                "`{key}` is {}, not a list; read it as a list of one",
                type_name(causes_value)
            ));
            vec![causes_value]
        }
        Value::Null => return Err(ReportError::NoRootCauses { found: "null" }),
        other => {
            return Err(ReportError::WrongType {
                path: key.to_owned(),
                expected: "an array of root-cause objects",
                found: type_name(other),
            })
        }
    };
    if items.is_empty() {
        return Err(ReportError::NoRootCauses { found: "empty" });
    }
    let root_causes = items
        .into_iter()
        .enumerate()
        .map(|(i, v)| parse_cause(v, &format!("{key}[{i}]"), warnings))
        .collect::<Result<Vec<_>, _>>()?;

    let affected = parse_string_list(obj.get("affected"), "affected", warnings)?;
    let remediation = parse_string_list(obj.get("remediation"), "remediation", warnings)?;
    let summary = match obj.get("summary") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(other) => {
            return Err(ReportError::WrongType {
                path: "summary".to_owned(),
                expected: "a string",
                found: type_name(other),
            })
        }
    };
    Ok(RcaReport {
        root_causes,
        affected,
        remediation,
        summary,
    })
}

pub(super) fn as_object<'a>(
    value: &'a Value,
    path: &str,
) -> Result<&'a Map<String, Value>, ReportError> {
    value.as_object().ok_or_else(|| ReportError::WrongType {
        path: path.to_owned(),
        expected: "an object",
        found: type_name(value),
    })
}
