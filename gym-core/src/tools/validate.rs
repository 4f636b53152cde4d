//! Checks tool arguments against the tool's JSON Schema, with messages that name the
//! JSON path and say what was expected, and with the coercions LLMs need (numbers and
//! booleans sent as strings, `null` for "not given").
//!
//! Only the subset of JSON Schema the tool specs use is understood: `type` (object,
//! string, integer, number, boolean, array), `properties`, `required`,
//! `additionalProperties`, `items`, `enum` and `minimum`.

use serde_json::{Map, Value};

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// Decodes the raw arguments of a call into an object: `null` and `""` mean no
/// arguments; a string must hold a JSON object.
pub fn decode_args(raw: &Value) -> Result<Map<String, Value>, String> {
    match raw {
        Value::Null => Ok(Map::new()),
        Value::Object(m) => Ok(m.clone()),
        Value::String(s) if s.trim().is_empty() => Ok(Map::new()),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(other) => Err(format!(
                "args: expected a JSON object, got {}",
                type_name(&other)
            )),
            Err(e) => Err(format!(
                "args: the arguments string is not valid JSON ({e})"
            )),
        },
        other => Err(format!(
            "args: expected an object of named arguments, got {} {}",
            type_name(other),
            short(other)
        )),
    }
}

/// Validates and normalizes arguments against an object schema.
pub fn check_args(schema: &Value, raw: &Value) -> Result<Value, String> {
    let args = decode_args(raw)?;
    check_object(schema, args, "args")
}

fn check_object(schema: &Value, args: Map<String, Value>, path: &str) -> Result<Value, String> {
    let props = schema.get("properties").and_then(Value::as_object);
    let extra = schema.get("additionalProperties");
    let mut out = Map::new();
    for (key, value) in args {
        if value.is_null() {
            continue;
        }
        let sub = format!("{path}.{key}");
        let prop_schema = props.and_then(|p| p.get(&key));
        let value = match (prop_schema, extra) {
            (Some(s), _) => check_value(s, value, &sub)?,
            (None, Some(s)) if s.is_object() => check_value(s, value, &sub)?,
            _ => {
                let names: Vec<&str> = props
                    .map(|p| p.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                let hint = otrashi_scenarios::catalog::closest(&key, names.iter().copied())
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                let allowed = if names.is_empty() {
                    "this tool takes no arguments".to_owned()
                } else {
                    format!("allowed: {}", names.join(", "))
                };
                return Err(format!("{sub}: unknown argument{hint}; {allowed}"));
            }
        };
        out.insert(key, value);
    }
    for req in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !out.contains_key(req) {
            let what = props
                .and_then(|p| p.get(req))
                .and_then(|s| s.get("description"))
                .and_then(Value::as_str)
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            return Err(format!("{path}.{req}: required argument is missing{what}"));
        }
    }
    Ok(Value::Object(out))
}

fn check_value(schema: &Value, value: Value, path: &str) -> Result<Value, String> {
    let ty = schema.get("type").and_then(Value::as_str).unwrap_or("");
    let expected = |what: &str, v: &Value| {
        format!("{path}: expected {what}, got {} {}", type_name(v), short(v))
    };
    let value = match ty {
        "string" => match value {
            Value::String(_) => value,
            // A bare number where a string is expected (a version, an id) is harmless.
            Value::Number(n) => Value::String(n.to_string()),
            v => return Err(expected("a string", &v)),
        },
        "integer" => {
            let n = match &value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            match n {
                Some(n) if n.fract() == 0.0 && n.is_finite() => Value::from(n as i64),
                _ => return Err(expected("a whole number", &value)),
            }
        }
        "number" => {
            let n = match &value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            match n.filter(|n| n.is_finite()) {
                Some(n) => Value::from(n),
                None => return Err(expected("a number", &value)),
            }
        }
        "boolean" => match &value {
            Value::Bool(_) => value,
            Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return Err(expected("true or false", &value)),
        },
        "object" => match value {
            Value::Object(m) => check_object(schema, m, path)?,
            v => return Err(expected("an object", &v)),
        },
        "array" => match value {
            Value::Array(items) => {
                let item_schema = schema.get("items").cloned().unwrap_or(Value::Null);
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    out.push(check_value(&item_schema, item, &format!("{path}[{i}]"))?);
                }
                Value::Array(out)
            }
            v => return Err(expected("an array", &v)),
        },
        _ => value,
    };
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
        if value.as_f64().is_some_and(|v| v < min) {
            return Err(format!("{path}: must be at least {min}, got {value}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        let Some(s) = value.as_str() else {
            return Ok(value);
        };
        return options
            .iter()
            .filter_map(Value::as_str)
            .find(|o| o.eq_ignore_ascii_case(s))
            .map(|o| Value::String(o.to_owned()))
            .ok_or_else(|| {
                let names: Vec<&str> = options.iter().filter_map(Value::as_str).collect();
                format!("{path}: `{s}` is not one of {}", names.join(", "))
            });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "metric": {"type": "string", "description": "the metric name"},
                "limit": {"type": "integer", "minimum": 1},
                "errors_only": {"type": "boolean"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "sort": {"type": "string", "enum": ["severity", "count"]}
            },
            "required": ["metric"],
            "additionalProperties": false
        })
    }

    #[test]
    fn coerces_what_llms_send() {
        let v = check_args(
            &schema(),
            &json!("{\"metric\": \"up\", \"limit\": \"5\", \"errors_only\": \"true\", \"sort\": \"COUNT\", \"labels\": null}"),
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"metric": "up", "limit": 5, "errors_only": true, "sort": "count"})
        );
    }

    #[test]
    fn names_the_path_of_what_is_wrong() {
        let e = check_args(&schema(), &json!({"metric": "up", "limit": "many"})).unwrap_err();
        assert!(e.starts_with("args.limit: expected a whole number"), "{e}");
        let e =
            check_args(&schema(), &json!({"metric": "up", "labels": {"code": []}})).unwrap_err();
        assert!(e.starts_with("args.labels.code: expected a string"), "{e}");
        let e = check_args(&schema(), &json!({"metirc": "up"})).unwrap_err();
        assert!(e.contains("did you mean `metric`"), "{e}");
        let e = check_args(&schema(), &json!({})).unwrap_err();
        assert!(e.contains("args.metric: required"), "{e}");
        let e = check_args(&schema(), &json!("{\"metric\": ")).unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
        let e = check_args(&schema(), &json!([1, 2])).unwrap_err();
        assert!(e.contains("expected an object"), "{e}");
        let e = check_args(&schema(), &json!({"metric": "up", "limit": 0})).unwrap_err();
        assert!(e.contains("at least 1"), "{e}");
    }
}
