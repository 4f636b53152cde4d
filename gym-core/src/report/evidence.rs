//! Reading evidence citations: objects, or text like `metric:name@service`.

use serde_json::Value;

use super::fields::{field, optional_string, type_name, warn_unknown};
use super::normalize::normalize_evidence_kind;
use super::parse::as_object;
use super::schema::EVIDENCE_KINDS;
use super::{Evidence, ReportError};

const KIND: &[&str] = &["type", "modality", "source"];
const SIGNAL: &[&str] = &["name", "pattern", "query", "id", "reason", "value", "text"];
const SERVICE: &[&str] = &["component"];
const NOTE: &[&str] = &["description", "detail", "observation", "details"];

/// One citation: an object, or text like `metric:name@service` or
/// `log: OutOfMemoryError on cart`.
pub(super) fn parse_evidence(
    v: &Value,
    path: &str,
    warnings: &mut Vec<String>,
) -> Result<Evidence, ReportError> {
    if let Value::String(text) = v {
        let ev = evidence_from_text(text);
        if EVIDENCE_KINDS.contains(&ev.kind.as_str()) {
            warnings.push(format!(
                "read {path} `{text}` as {}:{}{}",
                ev.kind,
                ev.signal,
                ev.service
                    .as_deref()
                    .map(|s| format!("@{s}"))
                    .unwrap_or_default()
            ));
        } else {
            warnings.push(format!(
                "{path} `{text}` has no `kind:` prefix ({}); it cannot be checked",
                EVIDENCE_KINDS.join(":, ") + ":"
            ));
        }
        return Ok(ev);
    }
    let obj = as_object(v, path)?;
    let mut known: Vec<(&str, &[&str])> = vec![
        ("kind", KIND),
        ("signal", SIGNAL),
        ("service", SERVICE),
        ("note", NOTE),
    ];
    known.extend(EVIDENCE_KINDS.iter().map(|k| (*k, &[] as &[&str])));
    warn_unknown(obj, &known, path, warnings);

    let mut kind = optional_string(field(obj, "kind", KIND, path, warnings), || {
        format!("{path}.kind")
    })?;
    let mut signal_value = field(obj, "signal", SIGNAL, path, warnings);
    // `{"metric": "name", "service": "cart"}`: the modality as the key.
    if kind.is_none() {
        if let Some((k, v)) = EVIDENCE_KINDS
            .iter()
            .find_map(|k| obj.get(*k).map(|v| (*k, v)))
        {
            warnings.push(format!("read `{path}.{k}` as kind `{k}` and its signal"));
            kind = Some(k.to_owned());
            signal_value = signal_value.or(Some(v));
        }
    }
    let Some(kind_text) = kind.filter(|k| !k.is_empty()) else {
        return Err(ReportError::MissingField {
            path: format!("{path}.kind"),
        });
    };
    let kind = match normalize_evidence_kind(&kind_text) {
        Some(k) => {
            if k != kind_text {
                warnings.push(format!("read {path}.kind `{kind_text}` as `{k}`"));
            }
            k.to_owned()
        }
        None => {
            warnings.push(format!(
                "{path}.kind `{kind_text}` is not one of {}; it cannot be checked",
                EVIDENCE_KINDS.join(", ")
            ));
            kind_text
        }
    };
    let signal = match signal_value {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => {
            warnings.push(format!("{path}.signal is a number; read it as text"));
            n.to_string()
        }
        // A deploy citation may name only the service: "it had a deploy".
        None | Some(Value::Null) if kind == "deploy" => String::new(),
        None | Some(Value::Null) => {
            return Err(ReportError::MissingField {
                path: format!("{path}.signal"),
            })
        }
        Some(other) => {
            return Err(ReportError::WrongType {
                path: format!("{path}.signal"),
                expected: "a string",
                found: type_name(other),
            })
        }
    };
    let service = optional_string(field(obj, "service", SERVICE, path, warnings), || {
        format!("{path}.service")
    })?
    .filter(|s| !s.is_empty());
    let note = optional_string(field(obj, "note", NOTE, path, warnings), || {
        format!("{path}.note")
    })?
    .unwrap_or_default();
    Ok(Evidence {
        kind,
        service,
        signal,
        note,
    })
}

/// Splits `kind:signal@service` or `kind: signal on service`. Text without a known
/// kind prefix keeps the kind `unspecified`, which the scorer cannot check.
pub(super) fn evidence_from_text(text: &str) -> Evidence {
    let trimmed = text.trim();
    let (kind, rest) = match trimmed.split_once(':') {
        Some((head, rest)) => match normalize_evidence_kind(head) {
            Some(k) => (k.to_owned(), rest.trim()),
            None => ("unspecified".to_owned(), trimmed),
        },
        None => match normalize_evidence_kind(trimmed) {
            Some(k) => (k.to_owned(), ""),
            None => ("unspecified".to_owned(), trimmed),
        },
    };
    let is_name = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let mut signal = rest.to_owned();
    let mut service = None;
    if let Some((sig, svc)) = rest.rsplit_once('@') {
        let svc = svc.trim().trim_end_matches(['.', ',', ';']);
        if is_name(svc) {
            signal = sig.trim().to_owned();
            service = Some(svc.to_owned());
        }
    } else {
        for sep in [" on ", " in ", " at ", " from "] {
            if let Some((sig, svc)) = rest.rsplit_once(sep) {
                let svc = svc.trim().trim_end_matches(['.', ',', ';']);
                if is_name(svc) && !sig.trim().is_empty() {
                    signal = sig.trim().to_owned();
                    service = Some(svc.to_owned());
                    break;
                }
            }
        }
    }
    Evidence {
        kind,
        service,
        signal,
        note: trimmed.to_owned(),
    }
}
