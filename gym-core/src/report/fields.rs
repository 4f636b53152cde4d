//! Reading the fields of a root cause and its evidence, leniently, with warnings.

use otrashi_scenarios::catalog::{closest, FaultKind, Level};
use serde_json::{Map, Value};

use super::evidence::parse_evidence;
use super::normalize::{normalize_fault, normalize_level, FaultName};
use super::parse::as_object;
use super::{ReportError, RootCause};

/// `a string`, `an array`, … for error messages.
pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The value of `canonical`, or of the first alias present (with a warning); unknown
/// keys are warned about by the caller.
pub(super) fn field<'a>(
    obj: &'a Map<String, Value>,
    canonical: &str,
    aliases: &[&str],
    path: &str,
    warnings: &mut Vec<String>,
) -> Option<&'a Value> {
    if let Some(v) = obj.get(canonical) {
        return Some(v);
    }
    let (alias, v) = aliases.iter().find_map(|a| obj.get(*a).map(|v| (*a, v)))?;
    warnings.push(format!("read `{path}.{alias}` as `{canonical}`"));
    Some(v)
}

pub(super) fn warn_unknown(
    obj: &Map<String, Value>,
    known: &[(&str, &[&str])],
    path: &str,
    warnings: &mut Vec<String>,
) {
    for key in obj.keys() {
        let is_known = known
            .iter()
            .any(|(c, aliases)| c == key || aliases.contains(&key.as_str()));
        if !is_known {
            warnings.push(format!("ignored unknown field `{path}.{key}`"));
        }
    }
}

pub(super) fn optional_string(
    v: Option<&Value>,
    path: impl FnOnce() -> String,
) -> Result<Option<String>, ReportError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(other) => Err(ReportError::WrongType {
            path: path(),
            expected: "a string",
            found: type_name(other),
        }),
    }
}

const COMPONENT: &[&str] = &["service", "component_name", "name"];
const FAULT: &[&str] = &["fault_kind", "fault_type", "kind", "type"];
const LEVEL: &[&str] = &["fault_level", "layer"];
const CONFIDENCE: &[&str] = &["probability", "likelihood"];
const EVIDENCE: &[&str] = &["evidences", "signals"];
const EXPLANATION: &[&str] = &["reason", "rationale", "description"];

/// One root cause: an object, or a bare component name.
pub(super) fn parse_cause(
    v: &Value,
    path: &str,
    warnings: &mut Vec<String>,
) -> Result<RootCause, ReportError> {
    if let Value::String(s) = v {
        warnings.push(format!("{path} is a string; read it as the component"));
        return Ok(RootCause {
            component: non_empty_component(s, path)?,
            ..RootCause::default()
        });
    }
    let obj = as_object(v, path)?;
    warn_unknown(
        obj,
        &[
            ("component", COMPONENT),
            ("fault", FAULT),
            ("level", LEVEL),
            ("confidence", CONFIDENCE),
            ("evidence", EVIDENCE),
            ("explanation", EXPLANATION),
        ],
        path,
        warnings,
    );
    let component = match field(obj, "component", COMPONENT, path, warnings) {
        None | Some(Value::Null) => {
            return Err(ReportError::MissingField {
                path: format!("{path}.component"),
            })
        }
        Some(Value::String(s)) => non_empty_component(s, path)?,
        Some(other) => {
            return Err(ReportError::WrongType {
                path: format!("{path}.component"),
                expected: "a service name (string)",
                found: type_name(other),
            })
        }
    };
    let fault_text = optional_string(field(obj, "fault", FAULT, path, warnings), || {
        format!("{path}.fault")
    })?;
    let (fault, kind) = match fault_text.filter(|f| !f.is_empty()) {
        None => (None, None),
        Some(text) => {
            let (f, k) = read_fault(&text, path, warnings);
            (Some(f), k)
        }
    };
    let level_text = optional_string(field(obj, "level", LEVEL, path, warnings), || {
        format!("{path}.level")
    })?;
    let level = level_text
        .filter(|l| !l.is_empty())
        .map(|text| read_level(&text, kind, path, warnings));
    let confidence = parse_confidence(
        field(obj, "confidence", CONFIDENCE, path, warnings),
        &format!("{path}.confidence"),
        warnings,
    )?;
    let evidence = match field(obj, "evidence", EVIDENCE, path, warnings) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_evidence(item, &format!("{path}.evidence[{i}]"), warnings))
            .collect::<Result<_, _>>()?,
        Some(single @ (Value::String(_) | Value::Object(_))) => {
            warnings.push(format!(
                "{path}.evidence is {}, not a list; read it as a list of one",
                type_name(single)
            ));
            vec![parse_evidence(
                single,
                &format!("{path}.evidence[0]"),
                warnings,
            )?]
        }
        Some(other) => {
            return Err(ReportError::WrongType {
                path: format!("{path}.evidence"),
                expected: "an array of evidence objects",
                found: type_name(other),
            })
        }
    };
    let explanation = optional_string(
        field(obj, "explanation", EXPLANATION, path, warnings),
        || format!("{path}.explanation"),
    )?
    .unwrap_or_default();
    Ok(RootCause {
        component,
        fault,
        level,
        confidence,
        evidence,
        explanation,
    })
}

fn non_empty_component(s: &str, path: &str) -> Result<String, ReportError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(ReportError::InvalidValue {
            path: format!("{path}.component"),
            message: "is empty; name a service as list_services shows it".to_owned(),
        });
    }
    Ok(s.to_owned())
}

/// The catalog name when the text names a kind; otherwise the text as written.
fn read_fault(text: &str, path: &str, warnings: &mut Vec<String>) -> (String, Option<FaultKind>) {
    match normalize_fault(text) {
        FaultName::Known(k) => {
            if text != k.as_str() && text != k.short_name() {
                warnings.push(format!("read {path}.fault `{text}` as `{k}`"));
            }
            (k.as_str().to_owned(), Some(k))
        }
        FaultName::OtherLevel(k) => {
            warnings.push(format!(
                "{path}.fault `{text}` is not in the catalog: `{}` is `{k}`; kept as written",
                k.short_name()
            ));
            (text.to_owned(), None)
        }
        FaultName::Unknown => {
            let hint = closest(text, FaultKind::ALL.iter().map(|k| k.as_str()))
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            warnings.push(format!(
                "{path}.fault `{text}` is not a catalog fault kind; kept as written{hint}"
            ));
            (text.to_owned(), None)
        }
    }
}

fn read_level(
    text: &str,
    kind: Option<FaultKind>,
    path: &str,
    warnings: &mut Vec<String>,
) -> String {
    match normalize_level(text) {
        Some(level) => {
            if text != level.as_str() {
                warnings.push(format!("read {path}.level `{text}` as `{level}`"));
            }
            if let Some(k) = kind.filter(|k| k.level() != level) {
                warnings.push(format!(
                    "{path}.level `{level}` contradicts fault `{k}`, which is `{}`",
                    k.level()
                ));
            }
            level.as_str().to_owned()
        }
        None => {
            let levels: Vec<&str> = Level::ALL.iter().map(|l| l.as_str()).collect();
            warnings.push(format!(
                "{path}.level `{text}` is not one of {}; kept as written",
                levels.join(", ")
            ));
            text.to_owned()
        }
    }
}

/// A confidence: a number in [0, 1], a percentage (`80`, `"80%"`), or a word.
fn parse_confidence(
    v: Option<&Value>,
    path: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<f64>, ReportError> {
    let from_number = |x: f64, warnings: &mut Vec<String>| -> Result<f64, ReportError> {
        if (0.0..=1.0).contains(&x) {
            Ok(x)
        } else if x > 1.0 && x <= 100.0 {
            warnings.push(format!("read {path} {x} as a percentage: {}", x / 100.0));
            Ok(x / 100.0)
        } else {
            Err(ReportError::InvalidValue {
                path: path.to_owned(),
                message: format!("{x} is not a probability; use a number in [0, 1]"),
            })
        }
    };
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            from_number(x, warnings).map(Some)
        }
        Some(Value::String(s)) => {
            let t = s.trim().to_lowercase();
            let word = match t.as_str() {
                "certain" | "very high" | "very_high" => Some(0.95),
                "high" => Some(0.8),
                "medium" | "moderate" => Some(0.5),
                "low" => Some(0.2),
                "very low" | "very_low" => Some(0.05),
                _ => None,
            };
            if let Some(x) = word {
                warnings.push(format!("read {path} `{s}` as {x}"));
                return Ok(Some(x));
            }
            if let Some(pct) = t.strip_suffix('%') {
                if let Ok(x) = pct.trim().parse::<f64>() {
                    if (0.0..=100.0).contains(&x) {
                        warnings.push(format!("read {path} `{s}` as {}", x / 100.0));
                        return Ok(Some(x / 100.0));
                    }
                }
            } else if let Ok(x) = t.parse::<f64>() {
                warnings.push(format!("{path} is a string; read `{s}` as a number"));
                return from_number(x, warnings).map(Some);
            }
            Err(ReportError::InvalidValue {
                path: path.to_owned(),
                message: format!("`{s}` is not a confidence; use a number in [0, 1]"),
            })
        }
        Some(other) => Err(ReportError::WrongType {
            path: path.to_owned(),
            expected: "a number in [0, 1]",
            found: type_name(other),
        }),
    }
}

/// A list of strings: an array (objects with a `component` or `name` are read as that
/// name), or one string (comma-separated for `affected`).
pub(super) fn parse_string_list(
    v: Option<&Value>,
    path: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<String>, ReportError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if path == "affected" => {
            warnings.push(format!("`{path}` is a string; split it at commas"));
            Ok(s.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect())
        }
        Some(Value::String(s)) => {
            warnings.push(format!(
                "`{path}` is a string; read it as a list of one step"
            ));
            Ok(vec![s.trim().to_owned()]
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect())
        }
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{i}]");
                match item {
                    Value::String(s) => out.push(s.trim().to_owned()),
                    Value::Object(o) => {
                        let name = ["component", "service", "name", "step", "action"]
                            .iter()
                            .find_map(|k| o.get(*k).and_then(Value::as_str));
                        match name {
                            Some(n) => {
                                warnings.push(format!("read {item_path} object as `{n}`"));
                                out.push(n.trim().to_owned());
                            }
                            None => {
                                return Err(ReportError::WrongType {
                                    path: item_path,
                                    expected: "a string",
                                    found: "an object",
                                })
                            }
                        }
                    }
                    other => {
                        return Err(ReportError::WrongType {
                            path: item_path,
                            expected: "a string",
                            found: type_name(other),
                        })
                    }
                }
            }
            Ok(out)
        }
        Some(other) => Err(ReportError::WrongType {
            path: path.to_owned(),
            expected: "an array of strings",
            found: type_name(other),
        }),
    }
}
