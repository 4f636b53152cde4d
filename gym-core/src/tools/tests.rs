use serde_json::json;

use super::*;
use crate::fixture;

fn call(tool: &str, args: Value) -> ToolOutput {
    dispatch(
        &Action::new(tool, args),
        &fixture::telemetry(),
        &fixture::topology(),
    )
}

fn invalid(out: ToolOutput) -> String {
    match out {
        ToolOutput::Invalid(m) => m,
        other => panic!("expected an invalid call, got {other:?}"),
    }
}

#[test]
fn every_tool_has_a_schema_and_a_description() {
    let specs = tool_specs();
    assert_eq!(specs.len(), TOOL_NAMES.len());
    for s in &specs {
        assert!(!s.description.is_empty(), "{}", s.name);
        assert_eq!(s.parameters["type"], "object", "{}", s.name);
        assert!(s.summary().len() < s.description.len() || !s.description.contains(". "));
    }
    let f = function_calling_json();
    assert_eq!(f[0]["type"], "function");
    assert_eq!(f[1]["function"]["name"], "query_metrics");
    assert_eq!(f[7]["function"]["parameters"]["required"][0], "root_causes");
}

#[test]
fn tools_answer_with_json() {
    for (tool, args) in [
        ("list_services", json!({})),
        ("query_metrics", json!({"metric": "up", "service": "cart"})),
        ("search_logs", json!({"level": "WARN"})),
        ("get_traces", json!({"errors_only": true})),
        ("get_events", json!({"type": "Warning"})),
        ("get_deploys", json!(null)),
        (
            "get_code_diff",
            json!("{\"deploy_id\": \"deploy-1a2b3c4\"}"),
        ),
    ] {
        match call(tool, args) {
            ToolOutput::Answer(v) => assert!(v.is_object(), "{tool}"),
            other => panic!("{tool}: {other:?}"),
        }
    }
    assert_eq!(
        call("submit_report", json!({"report": {"root_causes": []}})),
        ToolOutput::Submit(json!({"root_causes": []}))
    );
}

#[test]
fn malformed_calls_are_explained() {
    let m = invalid(call("query_metric", json!({"metric": "up"})));
    assert!(m.contains("did you mean `query_metrics`"), "{m}");
    let m = invalid(call(
        "query_metrics",
        json!({"metric": 42, "limit": "lots"}),
    ));
    assert!(m.contains("args.limit"), "{m}");
    let m = invalid(call("get_traces", json!({"errors_only": "sometimes"})));
    assert!(
        m.contains("args.errors_only: expected true or false"),
        "{m}"
    );
    let m = invalid(call("search_logs", json!("{\"level\": \"ERROR\"")));
    assert!(m.contains("not valid JSON"), "{m}");
    let m = invalid(call("search_logs", json!({"level": "LOUD"})));
    assert!(m.contains("args.level"), "{m}");
    let m = invalid(call("get_events", json!({"service": "kart"})));
    assert!(m.contains("did you mean `cart`"), "{m}");
    let m = invalid(call("get_code_diff", json!({})));
    assert!(m.contains("args.deploy_id: required"), "{m}");
    let m = invalid(call("submit_report", json!("not json")));
    assert!(m.contains("not valid JSON"), "{m}");
    // Names are read leniently.
    assert!(matches!(
        call("functions.List_Services", json!({})),
        ToolOutput::Answer(_)
    ));
}

#[test]
fn no_tool_output_reveals_what_was_done() {
    let mut outputs = Vec::new();
    for (tool, args) in [
        ("list_services", json!({})),
        ("query_metrics", json!({"metric": "*", "limit": 24})),
        ("query_metrics", json!({"metric": "nope"})),
        ("search_logs", json!({"limit": 30})),
        ("get_traces", json!({"limit": 20})),
        ("get_traces", json!({"errors_only": true, "limit": 20})),
        ("get_events", json!({})),
        ("get_deploys", json!({})),
        ("get_code_diff", json!({"deploy_id": "deploy-7f3a9c1"})),
        ("get_code_diff", json!({"deploy_id": "nope"})),
        ("nope", json!({})),
    ] {
        let text = match call(tool, args) {
            ToolOutput::Answer(v) => v.to_string(),
            ToolOutput::Invalid(m) => m,
            ToolOutput::Submit(v) => v.to_string(),
        };
        outputs.push((tool, text));
    }
    for spec in tool_specs().iter().filter(|s| s.name != SUBMIT_REPORT) {
        outputs.push(("spec", spec.description.clone()));
        outputs.push(("spec", spec.parameters.to_string()));
    }
    for (tool, text) in outputs {
        assert_eq!(fixture::leaked_word(&text), None, "{tool}: {text}");
    }
    // The checker itself works.
    assert_eq!(
        fixture::leaked_word("a memory_leak"),
        Some("memory_leak".into())
    );
    assert_eq!(fixture::leaked_word("the default value"), None);
    assert_eq!(fixture::leaked_word("a Fault was"), Some("fault".into()));
}

#[test]
fn odd_arguments_never_panic() {
    let odd = [
        json!(null),
        json!(1),
        json!("x"),
        json!([]),
        json!({}),
        json!({"metric": "", "limit": -1}),
        json!({"metric": "*", "limit": 1e20}),
        json!({"metric": "up", "step": "0s"}),
        json!({"metric": "up", "step": "1ms", "start": "-99999h"}),
        json!({"service": "é", "start": "2026-11-2éT00:07:23Z"}),
        json!({"min_duration_ms": 1e300, "errors_only": "yes"}),
        json!({"deploy_id": ""}),
        json!({"query": "\"", "level": "", "sort": "random"}),
        json!({"start": "now", "end": "now"}),
        json!({"labels": {"": ""}, "metric": "**"}),
    ];
    for tool in TOOL_NAMES {
        for args in &odd {
            // Any outcome but a panic is fine, as long as a refusal says why.
            if let ToolOutput::Invalid(msg) = call(tool, args.clone()) {
                assert!(msg.len() > 10, "{tool} {args}: {msg:?}");
            }
        }
    }
}
