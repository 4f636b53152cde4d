use serde_json::json;

use super::*;

fn ok(text: &str) -> (RcaReport, Vec<String>) {
    match parse_report_str(text) {
        Ok(r) => r,
        Err(e) => panic!("expected a report, got: {e}"),
    }
}

fn err(text: &str) -> String {
    match parse_report_str(text) {
        Ok((r, _)) => panic!("expected an error, got {r:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn canonical_report_parses_without_warnings() {
    let (report, warnings) = ok(r#"{
        "root_causes": [{
            "component": "cart", "fault": "code.memory_leak", "level": "code",
            "confidence": 0.8,
            "evidence": [{"kind": "metric", "service": "cart",
                          "signal": "container_memory_working_set_bytes", "note": "grows"}],
            "explanation": "leak shipped by the last deploy"
        }],
        "affected": ["frontend"], "remediation": ["roll back"], "summary": "cart leaks"
    }"#);
    assert!(warnings.is_empty(), "{warnings:?}");
    let rc = &report.root_causes[0];
    assert_eq!(rc.component, "cart");
    assert_eq!(rc.fault.as_deref(), Some("code.memory_leak"));
    assert_eq!(rc.confidence, Some(0.8));
    assert_eq!(rc.evidence[0].service.as_deref(), Some("cart"));
    assert_eq!(report.affected, ["frontend"]);
    assert_eq!(report.summary, "cart leaks");
}

#[test]
fn prose_and_fenced_block_around_the_report_are_tolerated() {
    let text = "Here is my analysis.\n```json\n{\"root_causes\": [{\"component\": \"cart\"}]}\n```\nThanks!";
    let (report, warnings) = ok(text);
    assert_eq!(report.root_causes[0].component, "cart");
    assert!(warnings.iter().any(|w| w.contains("surrounding text")));

    let bare =
        "I think {\"note\": \"}\"} no wait: {\"root_causes\": [{\"component\": \"db\"}]} done";
    let (report, _) = ok(bare);
    assert_eq!(report.root_causes[0].component, "db");
}

#[test]
fn wrapper_single_root_cause_and_string_remediation_are_read_with_warnings() {
    let (report, warnings) = ok(r#"{"report": {"root_cause": {"component": "cart"},
        "remediation": "restart cart", "affected": "frontend, checkout"}}"#);
    assert_eq!(report.root_causes.len(), 1);
    assert_eq!(report.remediation, ["restart cart"]);
    assert_eq!(report.affected, ["frontend", "checkout"]);
    for needle in [
        "inside `report`",
        "`root_cause` as `root_causes`",
        "is an object, not a list",
        "remediation",
        "affected",
    ] {
        assert!(
            warnings.iter().any(|w| w.contains(needle)),
            "{needle}: {warnings:?}"
        );
    }
}

#[test]
fn confidence_forms_are_normalized() {
    let cases = [
        (json!("80%"), 0.8),
        (json!(0.8), 0.8),
        (json!(80), 0.8),
        (json!("high"), 0.8),
        (json!("low"), 0.2),
        (json!("0.3"), 0.3),
    ];
    for (given, want) in cases {
        let v = json!({"root_causes": [{"component": "cart", "confidence": given}]});
        let (report, warnings) = parse_report(&v).unwrap();
        let got = report.root_causes[0].confidence.unwrap();
        assert!((got - want).abs() < 1e-9, "{given}: {got}");
        if given != json!(0.8) {
            assert!(!warnings.is_empty(), "{given} should warn");
        }
    }
    let v = json!({"root_causes": [{"component": "cart", "confidence": 250}]});
    let e = parse_report(&v).unwrap_err().to_string();
    assert!(e.contains("root_causes[0].confidence"), "{e}");
    let v = json!({"root_causes": [{"component": "cart", "confidence": [1]}]});
    let e = parse_report(&v).unwrap_err().to_string();
    assert_eq!(
        e,
        "root_causes[0].confidence should be a number in [0, 1], found an array"
    );
}

#[test]
fn loose_fault_kinds_are_normalized_and_unknown_ones_kept() {
    for loose in [
        "memory leak",
        "MemoryLeak",
        "memory_leak",
        "code.memory_leak",
    ] {
        let v = json!({"root_causes": [{"component": "cart", "fault": loose}]});
        let (report, warnings) = parse_report(&v).unwrap();
        assert_eq!(
            report.root_causes[0].fault.as_deref(),
            Some("code.memory_leak")
        );
        let canonical = loose == "memory_leak" || loose == "code.memory_leak";
        assert_eq!(warnings.is_empty(), canonical, "{loose}: {warnings:?}");
    }
    let v = json!({"root_causes": [{"component": "cart", "fault": "memory_leek"}]});
    let (report, warnings) = parse_report(&v).unwrap();
    assert_eq!(report.root_causes[0].fault.as_deref(), Some("memory_leek"));
    assert!(
        warnings[0].contains("did you mean `code.memory_leak`"),
        "{warnings:?}"
    );
}

#[test]
fn evidence_strings_are_split_into_kind_signal_and_service() {
    let v = json!({"root_causes": [{"component": "cart", "evidence": [
        "metric:container_memory_working_set_bytes@cart",
        "log: OutOfMemoryError on cart",
        "the graphs look bad",
        {"metric": "up", "service": "cart"},
    ]}]});
    let (report, warnings) = parse_report(&v).unwrap();
    let ev = &report.root_causes[0].evidence;
    assert_eq!(
        (ev[0].kind.as_str(), ev[0].signal.as_str()),
        ("metric", "container_memory_working_set_bytes")
    );
    assert_eq!(ev[0].service.as_deref(), Some("cart"));
    assert_eq!(
        (ev[1].kind.as_str(), ev[1].signal.as_str()),
        ("log", "OutOfMemoryError")
    );
    assert_eq!(ev[1].service.as_deref(), Some("cart"));
    assert_eq!(ev[2].kind, "unspecified");
    assert_eq!(
        (ev[3].kind.as_str(), ev[3].signal.as_str()),
        ("metric", "up")
    );
    assert!(warnings.iter().any(|w| w.contains("cannot be checked")));
}

#[test]
fn errors_are_precise() {
    let e = parse_report_str("{\"root_causes\": [\n  {\"component\": \"cart\",}\n]}").unwrap_err();
    match &e {
        ReportError::NotJson { line, column, .. } => assert_eq!((*line, *column), (2, 24)),
        other => panic!("{other:?}"),
    }
    let prose = "My analysis:\n```json\n{\"root_causes\": [\n  {\"component\": \"cart\" \"fault\": \"x\"}\n]}\n```\n";
    assert_eq!(
        err(prose),
        "the report is not JSON: expected `,` or `}` at line 4, column 24"
    );
    assert_eq!(
        err(r#"{"root_causes": []}"#),
        "no root causes: `root_causes` is empty; name at least one component"
    );
    assert_eq!(
        err(r#"{"summary": "all fine"}"#),
        "no root causes: `root_causes` is missing; name at least one component"
    );
    assert_eq!(
        err(r#"{"root_causes": [{"component": "a"}, {"component": "b"}, {"fault": "oom_kill"}]}"#),
        "root_causes[2].component is missing"
    );
    assert_eq!(
        err(r#"{"root_causes": [{"component": "a", "evidence": [{"kind": "log", "signal": 3.5e400}]}]}"#).split(':').next(),
        Some("the report is not JSON")
    );
    assert_eq!(
        err(r#"{"root_causes": [{"component": 7}]}"#),
        "root_causes[0].component should be a service name (string), found a number"
    );
    assert_eq!(
        err(r#"{"root_causes": [{"component": "a", "evidence": [{"kind": "log"}]}]}"#),
        "root_causes[0].evidence[0].signal is missing"
    );
    assert_eq!(
        err(r#"{"root_causes": [{"component": "a"}], "summary": ["x"]}"#),
        "summary should be a string, found an array"
    );
    assert_eq!(err("[1, 2]"), "$ should be an object, found an array");
}

#[test]
fn oversized_reports_are_refused() {
    let big = format!(
        r#"{{"root_causes": [{{"component": "cart"}}], "summary": "{}"}}"#,
        "x".repeat(MAX_REPORT_BYTES)
    );
    assert!(matches!(
        parse_report_str(&big),
        Err(ReportError::TooLarge { .. })
    ));
    let value: serde_json::Value = serde_json::from_str(&big).unwrap();
    assert!(matches!(
        parse_report(&value),
        Err(ReportError::TooLarge { .. })
    ));
}

#[test]
fn unknown_fields_are_warned_about() {
    let (_, warnings) =
        ok(r#"{"root_causes": [{"component": "cart", "blame": "bob"}], "mood": "tired"}"#);
    assert!(warnings.contains(&"ignored unknown field `mood`".to_owned()));
    assert!(warnings.contains(&"ignored unknown field `root_causes[0].blame`".to_owned()));
}

#[test]
fn schema_lists_the_catalog_and_describes_every_property() {
    let schema = report_schema();
    let rc = &schema["properties"]["root_causes"]["items"];
    let faults = rc["properties"]["fault"]["enum"].as_array().unwrap();
    assert!(faults.contains(&json!("code.memory_leak")));
    assert!(faults.contains(&json!("memory_leak")));
    fn walk(v: &serde_json::Value, path: &str) {
        if let Some(props) = v.get("properties").and_then(|p| p.as_object()) {
            for (k, p) in props {
                let here = format!("{path}.{k}");
                assert!(
                    p.get("description")
                        .and_then(|d| d.as_str())
                        .is_some_and(|d| !d.is_empty()),
                    "{here} has no description"
                );
                walk(p, &here);
                if let Some(items) = p.get("items") {
                    walk(items, &here);
                }
            }
        }
    }
    walk(&schema, "$");
}

#[test]
fn the_canonical_example_matches_the_schema_shape() {
    // The serialized form of a parsed report parses back to the same report: the
    // canonical form is a fixed point of the lenient parser.
    let (report, _) = ok(
        r#"{"root_causes": [{"component": "cart", "fault": "MemoryLeak", "confidence": "90%",
        "evidence": ["event:OOMKilled@cart"]}], "remediation": "roll back"}"#,
    );
    let value = serde_json::to_value(&report).unwrap();
    let (again, warnings) = parse_report(&value).unwrap();
    assert_eq!(again, report);
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn the_schema_example_is_canonical_and_round_trips() {
    let example = super::schema::example();
    let (report, warnings) = parse_report(&example).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(serde_json::to_value(&report).unwrap(), example);
}

#[test]
fn serialized_reports_use_only_schema_properties() {
    let schema = report_schema();
    let top = &schema["properties"];
    let rc = &top["root_causes"]["items"]["properties"];
    let ev = &rc["evidence"]["items"]["properties"];
    let (report, _) =
        ok(r#"{"root_causes": [{"component": "cart", "evidence": ["log: OOM on cart"]}]}"#);
    let value = serde_json::to_value(&report).unwrap();
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    for k in keys(&value) {
        assert!(top.get(&k).is_some(), "{k}");
    }
    for k in keys(&value["root_causes"][0]) {
        assert!(rc.get(&k).is_some(), "root_causes[].{k}");
    }
    for k in keys(&value["root_causes"][0]["evidence"][0]) {
        assert!(ev.get(&k).is_some(), "evidence[].{k}");
    }
    assert!(
        value["root_causes"][0].get("confidence").is_none(),
        "absent fields are omitted, not null"
    );
}

#[test]
fn published_schema_file_is_up_to_date() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/rca-report.schema.json");
    let fresh = serde_json::to_string_pretty(&report_schema()).unwrap() + "\n";
    if std::env::var_os("OTRASHI_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &fresh).unwrap();
    }
    // Compared as values, so that key order (serde_json's `preserve_order`, which another
    // crate may switch on) does not make the file look stale.
    let on_disk: Option<serde_json::Value> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    assert!(
        on_disk.as_ref() == Some(&report_schema()),
        "docs/rca-report.schema.json is stale; regenerate with OTRASHI_BLESS=1 cargo test -p otrashi-gym published_schema"
    );
}

/// Deep nesting is refused with an error, not a stack overflow (speed is the
/// benchmark's business, not a timed assertion on a loaded CI machine).
#[test]
fn pathological_text_is_refused() {
    let text = "{".repeat(MAX_REPORT_BYTES - 1);
    assert!(matches!(
        parse_report_str(&text),
        Err(ReportError::NotJson { .. })
    ));
    let text = "{\"a\": ".repeat(MAX_REPORT_BYTES / 8);
    assert!(parse_report_str(&text).is_err());
}
