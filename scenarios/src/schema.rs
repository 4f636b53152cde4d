//! A JSON Schema for scenario files, generated from the catalog and the model, for
//! editors: with yaml-language-server, add
//! `# yaml-language-server: $schema=otrashi-scenario.schema.json` to a scenario file.
//!
//! The schema helps while typing (completion, hover text, obvious mistakes); the parser
//! stays the authority, since some rules (targets in the topology, cycles, times inside
//! the timeline) need more than a schema can say.

use serde_json::{json, Map, Value};

use crate::catalog::{FaultDef, Level, CATALOG};
use crate::docs::num;
use crate::model::{Engine, LoadPattern, RedHerringKind, Runtime, ServiceKind, API_VERSION};

/// Matches what [`crate::Duration`] reads: units `h`, `m`, `s`, `ms`, largest first,
/// at least one. Written without lookahead, which not every schema validator supports.
pub const DURATION_PATTERN: &str = concat!(
    r"^(\d+(\.\d+)?h(\d+(\.\d+)?m)?(\d+(\.\d+)?s)?(\d+(\.\d+)?ms)?",
    r"|\d+(\.\d+)?m(\d+(\.\d+)?s)?(\d+(\.\d+)?ms)?",
    r"|\d+(\.\d+)?s(\d+(\.\d+)?ms)?",
    r"|\d+(\.\d+)?ms)$"
);

fn names<T: Copy>(items: &[T], f: fn(T) -> &'static str) -> Vec<&'static str> {
    items.iter().map(|i| f(*i)).collect()
}

fn distribution_defs(value: Value, mean: Value, what: &str) -> Value {
    json!({
        "oneOf": [
            {
                "type": "object",
                "description": format!("Uniform between two {what}, `[low, high]`."),
                "properties": {"uniform": {"type": "array", "items": value.clone(), "minItems": 2, "maxItems": 2}},
                "required": ["uniform"], "additionalProperties": false
            },
            {
                "type": "object",
                "description": "Normal with a mean and a standard deviation (> 0).",
                "properties": {"normal": {
                    "type": "object",
                    "properties": {"mean": value.clone(), "std_dev": value.clone()},
                    "required": ["mean", "std_dev"], "additionalProperties": false
                }},
                "required": ["normal"], "additionalProperties": false
            },
            {
                "type": "object",
                "description": "exp(N(mu, sigma)): mu is the natural log of the median; plain numbers even for times (log-seconds).",
                "properties": {"lognormal": {
                    "type": "object",
                    "properties": {
                        "mu": {"type": "number"},
                        "sigma": {"type": "number", "exclusiveMinimum": 0}
                    },
                    "required": ["mu", "sigma"], "additionalProperties": false
                }},
                "required": ["lognormal"], "additionalProperties": false
            },
            {
                "type": "object",
                "description": "Exponential, given by its `rate` (> 0) or its `mean`.",
                "properties": {"exponential": {
                    "type": "object",
                    "properties": {"rate": {"type": "number", "exclusiveMinimum": 0}, "mean": mean},
                    "minProperties": 1, "maxProperties": 1, "additionalProperties": false
                }},
                "required": ["exponential"], "additionalProperties": false
            },
            {
                "type": "object",
                "description": "One of the listed values, each equally likely.",
                "properties": {"choice": {"type": "array", "items": value, "minItems": 1}},
                "required": ["choice"], "additionalProperties": false
            }
        ]
    })
}

fn kind_names(def: &FaultDef) -> Vec<&'static str> {
    vec![def.kind.as_str(), def.kind.short_name()]
}

fn param_schema(def: &FaultDef) -> Value {
    let mut props = Map::new();
    for p in def.params {
        let integer = if p.integer {
            ", rounded to a whole number"
        } else {
            ""
        };
        props.insert(
            p.name.to_owned(),
            json!({
                "description": format!(
                    "{} ({}; {} to {}, default {}{integer}).",
                    p.description, p.unit, num(p.min), num(p.max), num(p.default)
                ),
                "anyOf": [
                    {"type": "number", "minimum": p.min, "maximum": p.max},
                    {"$ref": "#/$defs/numberDistribution"}
                ]
            }),
        );
    }
    json!({
        "type": "object",
        "description": if def.params.is_empty() {
            format!("`{}` takes no parameters.", def.kind)
        } else {
            format!("Parameters of `{}`.", def.kind)
        },
        "properties": props,
        "additionalProperties": false
    })
}

fn fault_schema() -> Value {
    let mut kinds: Vec<&str> = Vec::new();
    for def in &CATALOG {
        kinds.extend(kind_names(def));
    }
    let rules: Vec<Value> = CATALOG
        .iter()
        .map(|def| {
            let vias: Vec<&str> = def.vias.iter().map(|v| v.as_str()).collect();
            json!({
                "if": {"properties": {"kind": {"enum": kind_names(def)}}, "required": ["kind"]},
                "then": {"properties": {
                    "params": param_schema(def),
                    "via": {"enum": vias, "description": format!("How `{}` arrives; default `{}`.", def.kind, def.default_via())}
                }}
            })
        })
        .collect();
    let levels: Vec<String> = Level::ALL.iter().map(|l| format!("`{l}`")).collect();
    json!({
        "type": "object",
        "description": "One fault to inject.",
        "required": ["id", "kind", "target", "at"],
        "additionalProperties": false,
        "properties": {
            "id": {"type": "string", "description": "Unique within the scenario (`leak`)."},
            "kind": {
                "enum": kinds,
                "description": format!("The fault kind, `<level>.<fault>` with level {}, or its short name. See docs/faults.md.", levels.join(", "))
            },
            "target": {"$ref": "#/$defs/target"},
            "at": {"$ref": "#/$defs/timeValue", "description": "Start, from the start of the warm-up; inside the incident window."},
            "duration": {"$ref": "#/$defs/timeValue", "description": "How long it lasts; default: until the end of the episode."},
            "params": {"type": "object", "description": "Parameters by name; missing ones take the catalog default."},
            "via": {"enum": ["deploy", "config", "direct"], "description": "How it arrives; default from the catalog."}
        },
        "allOf": rules
    })
}

fn service_schema() -> Value {
    json!({
        "type": "object",
        "required": ["kind"],
        "additionalProperties": false,
        "properties": {
            "kind": {"enum": names(&ServiceKind::ALL, ServiceKind::as_str), "description": "Its role; decides defaults and which faults fit."},
            "calls": {"type": "array", "items": {"type": "string"}, "uniqueItems": true, "description": "Services it calls on every request, in order. No cycles."},
            "runtime": {"enum": names(&Runtime::ALL, Runtime::as_str), "description": "Language runtime; default by kind (web: go, api: java, worker: python, datastores: native)."},
            "replicas": {"type": "integer", "minimum": 1, "maximum": 100},
            "cpu": {"type": "number", "exclusiveMinimum": 0, "maximum": 64, "description": "CPU limit per replica, in cores."},
            "memory": {"anyOf": [{"type": "string", "pattern": r"^\d+(\.\d+)?(Ki|Mi|M|MB|Gi|G|GB)?$"}, {"type": "number", "exclusiveMinimum": 0}], "description": "Memory limit per replica: `512Mi`, `1Gi`, or a number of MB."},
            "latency_ms": {"type": "number", "exclusiveMinimum": 0, "description": "Median own time per request, excluding calls."},
            "pool_size": {"type": "integer", "minimum": 0, "description": "Outbound connection pool size per replica."},
            "engine": {"enum": names(&Engine::ALL, Engine::as_str), "description": "The real server that plays this datastore on container backends (kinds cache and database only); the simulator ignores it."}
        }
    })
}

/// The JSON Schema (draft 2020-12) of scenario files.
pub fn scenario_schema() -> Value {
    let topologies = crate::library::topology_names();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:otrashi:scenario:v1",
        "title": "otrashi scenario",
        "description": "A chaos scenario for the otrashi gym: a topology, load, a timeline and the faults to inject. See docs/scenario-format.md.",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "topology", "faults"],
        "additionalProperties": false,
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": "Scenario"},
            "metadata": {
                "type": "object", "required": ["name"], "additionalProperties": false,
                "properties": {
                    "name": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$", "description": "Unique kebab-case name."},
                    "description": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}}
                }
            },
            "topology": {
                "description": "A bundled topology by name, or an inline service graph.",
                "anyOf": [
                    {"enum": topologies},
                    {
                        "type": "object", "required": ["entry", "services"], "additionalProperties": false,
                        "properties": {
                            "name": {"type": "string", "description": "Default: the scenario name."},
                            "description": {"type": "string"},
                            "entry": {"type": "string", "description": "The service the load generator calls."},
                            "services": {
                                "type": "object", "minProperties": 1,
                                "propertyNames": {"pattern": "^[a-z][a-z0-9-]*$"},
                                "additionalProperties": {"$ref": "#/$defs/service"}
                            }
                        }
                    }
                ]
            },
            "load": {
                "type": "object", "required": ["rps"], "additionalProperties": false,
                "description": "Traffic into the entry service; default `{rps: 50, pattern: steady}`.",
                "properties": {
                    "rps": {"type": "number", "exclusiveMinimum": 0, "maximum": 100000},
                    "pattern": {"enum": names(&LoadPattern::ALL, LoadPattern::as_str)}
                }
            },
            "timeline": {
                "type": "object", "required": ["duration"], "additionalProperties": false,
                "description": "Warm-up, then the incident window; default `{warmup: 60s, duration: 5m}`. At most 24h in total.",
                "properties": {
                    "warmup": {"$ref": "#/$defs/duration"},
                    "duration": {"$ref": "#/$defs/duration", "description": "Incident window, at least 10s."}
                }
            },
            "faults": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/fault"}},
            "noise": {
                "type": "object", "additionalProperties": false,
                "properties": {
                    "level": {"enum": ["low", "normal", "high"]},
                    "red_herrings": {"type": "array", "items": {
                        "type": "object", "required": ["kind", "target", "at"], "additionalProperties": false,
                        "properties": {
                            "kind": {"enum": names(&RedHerringKind::ALL, RedHerringKind::as_str)},
                            "target": {"$ref": "#/$defs/target"},
                            "at": {"$ref": "#/$defs/timeValue"}
                        }
                    }}
                }
            },
            "alert": {
                "description": "What the agent is told: `auto` (the first SLO breach) or a fixed alert.",
                "anyOf": [
                    {"const": "auto"},
                    {
                        "type": "object", "required": ["service", "summary"], "additionalProperties": false,
                        "properties": {"service": {"type": "string"}, "summary": {"type": "string"}}
                    }
                ]
            }
        },
        "$defs": {
            "duration": {"type": "string", "pattern": DURATION_PATTERN, "description": "A duration like `90s`, `5m`, `1h30m`, `250ms`."},
            "timeValue": {"anyOf": [{"$ref": "#/$defs/duration"}, {"$ref": "#/$defs/timeDistribution"}]},
            "timeDistribution": distribution_defs(json!({"$ref": "#/$defs/duration"}), json!({"$ref": "#/$defs/duration"}), "durations"),
            "numberDistribution": distribution_defs(json!({"type": "number"}), json!({"type": "number", "exclusiveMinimum": 0}), "numbers"),
            "target": {
                "description": "A service name, `any` (any service that can take the fault), or `{any_of: [a, b]}`.",
                "anyOf": [
                    {"type": "string"},
                    {"type": "object", "required": ["any_of"], "additionalProperties": false,
                     "properties": {"any_of": {"type": "array", "items": {"type": "string"}, "minItems": 1}}}
                ]
            },
            "service": service_schema(),
            "fault": fault_schema()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_enum(schema: &Value) -> Vec<String> {
        schema["$defs"]["fault"]["properties"]["kind"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    /// The `then` branch for a kind name, as an editor would pick it.
    fn rule_for<'a>(schema: &'a Value, kind: &str) -> &'a Value {
        schema["$defs"]["fault"]["allOf"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| {
                r["if"]["properties"]["kind"]["enum"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|n| n == kind)
            })
            .map(|r| &r["then"])
            .unwrap()
    }

    #[test]
    fn every_bundled_scenario_is_covered() {
        let schema = scenario_schema();
        let kinds = kind_enum(&schema);
        for bundled in crate::library::scenarios() {
            let scenario = crate::library::load(bundled.name).unwrap();
            for fault in &scenario.faults {
                assert!(kinds.iter().any(|k| k == fault.kind.as_str()));
                let params = &rule_for(&schema, fault.kind.as_str())["properties"]["params"];
                for name in fault.params.keys() {
                    assert!(
                        params["properties"].get(name).is_some(),
                        "{}: {} has no schema for `{name}`",
                        bundled.name,
                        fault.kind
                    );
                }
            }
        }
    }

    #[test]
    fn every_kind_and_short_name_is_listed_with_ranges() {
        let schema = scenario_schema();
        let kinds = kind_enum(&schema);
        for def in &CATALOG {
            assert!(kinds.iter().any(|k| k == def.kind.as_str()));
            assert!(kinds.iter().any(|k| k == def.kind.short_name()));
            let params = &rule_for(&schema, def.kind.short_name())["properties"]["params"];
            for p in def.params {
                let fixed = &params["properties"][p.name]["anyOf"][0];
                assert_eq!(fixed["minimum"], json!(p.min));
                assert_eq!(fixed["maximum"], json!(p.max));
            }
        }
    }

    #[test]
    fn topology_names_are_bundled_ones() {
        let schema = scenario_schema();
        let names = &schema["properties"]["topology"]["anyOf"][0]["enum"];
        assert_eq!(names, &json!(["chain", "shop", "platform"]));
    }
}
