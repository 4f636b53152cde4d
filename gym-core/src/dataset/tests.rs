use serde_json::Value;

use super::*;
use crate::fixture;
use otrashi_scenarios::{sample, FaultKind, GroundTruth};

fn incident() -> (Incident, GroundTruth, crate::telemetry::Telemetry) {
    let incident = sample(&fixture::scenario(), 1).unwrap();
    let truth = GroundTruth::derive(&incident);
    (incident, truth, fixture::telemetry())
}

#[test]
fn rcaeval_csv_has_a_unix_time_column_and_service_metric_columns() {
    let (_, truth, t) = incident();
    let csv = rcaeval::data_csv(&t);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[0], "time");
    // The fixture exports few metrics; the simulator's full set is checked by the CLI tests.
    for col in ["cart_mem", "cart_workload", "cart_error", "frontend_error"] {
        assert!(header.contains(&col), "{col} missing from {header:?}");
    }
    assert!(header.iter().skip(1).all(|c| c
        .split_once('_')
        .is_some_and(|(s, m)| !s.is_empty() && !m.is_empty())));
    let times: Vec<i64> = lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            assert_eq!(cells.len(), header.len(), "ragged row {l}");
            cells[0].parse().unwrap()
        })
        .collect();
    assert!(times.len() > 10);
    assert!(times.windows(2).all(|w| w[1] > w[0]), "time increases");
    let start_s = t.start_unix_ms / 1000;
    assert_eq!(times[0], start_s);
    assert!(*times.last().unwrap() < start_s + (t.end_ms / 1000) as i64);
    // The injection is at 120 s.
    assert_eq!(rcaeval::inject_time_s(&t, &truth), Some(start_s + 120));
    assert_eq!(rcaeval::case_name(&truth).unwrap(), "cart_memory-leak");
}

#[test]
fn rcaeval_run_dir_holds_data_and_inject_time() {
    let (_, truth, t) = incident();
    let dir = std::env::temp_dir().join(format!("otrashi-rcaeval-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    rcaeval::write_run_dir(&dir, &t, &truth).unwrap();
    let inject = std::fs::read_to_string(dir.join("inject_time.txt")).unwrap();
    assert_eq!(inject, format!("{}\n", t.start_unix_ms / 1000 + 120));
    assert!(std::fs::read_to_string(dir.join("data.csv"))
        .unwrap()
        .starts_with("time,"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rcaeval_fault_names_follow_rcaeval_where_it_has_one() {
    assert_eq!(rcaeval::fault_name(FaultKind::CpuSaturation), "cpu");
    assert_eq!(rcaeval::fault_name(FaultKind::MemoryPressure), "mem");
    assert_eq!(rcaeval::fault_name(FaultKind::DiskSlow), "disk");
    assert_eq!(rcaeval::fault_name(FaultKind::NetworkDelay), "delay");
    assert_eq!(rcaeval::fault_name(FaultKind::NetworkLoss), "loss");
    assert_eq!(rcaeval::fault_name(FaultKind::ConnectionLeak), "socket");
    for k in FaultKind::ALL {
        assert!(!rcaeval::fault_name(*k).contains('_'), "{k}");
    }
}

#[test]
fn chat_row_is_a_trl_conversation_whose_report_scores_well() {
    let (incident, truth, t) = incident();
    let chat = chat::chat_row(
        &incident,
        &truth,
        &t,
        serde_json::json!({"id": "inc-00000"}),
    );
    let messages = chat.row["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(messages[0]["content"]
        .as_str()
        .unwrap()
        .contains("query_metrics"));
    assert_eq!(messages[1]["role"], "user");
    assert!(messages[1]["content"]
        .as_str()
        .unwrap()
        .contains("HighErrorRate"));
    let mut tool_names = Vec::new();
    for pair in messages[2..messages.len() - 1].chunks(2) {
        assert_eq!(pair[0]["role"], "assistant");
        let call = &pair[0]["tool_calls"][0];
        assert_eq!(call["type"], "function");
        assert!(call["function"]["arguments"].is_object());
        let say = pair[0]["content"].as_str().unwrap();
        assert_eq!(fixture::leaked_word(say), None, "reasoning leaks: {say}");
        assert_eq!(pair[1]["role"], "tool");
        assert_eq!(pair[1]["tool_call_id"], call["id"]);
        let content = pair[1]["content"].as_str().unwrap();
        assert!(!content.starts_with("error:"), "{content}");
        tool_names.push(call["function"]["name"].as_str().unwrap().to_owned());
    }
    for tool in [
        "list_services",
        "query_metrics",
        "search_logs",
        "get_events",
        "get_deploys",
        "get_code_diff",
    ] {
        assert!(
            tool_names.iter().any(|t| t == tool),
            "{tool} not called: {tool_names:?}"
        );
    }
    let last = messages.last().unwrap();
    assert_eq!(last["role"], "assistant");
    let report: Value = serde_json::from_str(last["content"].as_str().unwrap()).unwrap();
    assert_eq!(report, chat.report);
    assert_eq!(report["root_causes"][0]["component"], "cart");
    assert!(chat.score >= 0.8, "reference report scores {}", chat.score);
    assert_eq!(
        chat.row["ground_truth"]["root_causes"][0]["component"],
        "cart"
    );
    assert_eq!(chat.row["metadata"]["id"], "inc-00000");
    assert_eq!(chat.row["metadata"]["seed"], 1);
}

#[test]
fn content_hash_ignores_the_seed_but_not_the_choices() {
    let (mut a, _, _) = incident();
    let h = incident_content_hash(&a);
    a.seed = 99;
    assert_eq!(incident_content_hash(&a), h);
    a.faults[0].target = "catalog".into();
    assert_ne!(incident_content_hash(&a), h);
    assert_ne!(derive_seed(1, 0, 0), derive_seed(1, 1, 0));
    assert_ne!(derive_seed(1, 0, 0), derive_seed(1, 0, 1));
}

#[test]
fn native_dir_and_row() {
    let (incident, truth, t) = incident();
    let dir = std::env::temp_dir().join(format!("otrashi-native-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    native::write_incident_dir(&dir, &incident, &truth, Some(&t)).unwrap();
    for f in [
        "incident.json",
        "ground_truth.json",
        "telemetry/metrics.jsonl",
        "telemetry/alert.json",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let row = native::NativeRow::new(
        "inc-00000",
        0,
        &incident,
        &truth,
        incident_content_hash(&incident),
    );
    assert_eq!(row.root_causes[0].fault, "code.memory_leak");
    assert_eq!(row.root_causes[0].injected_at_s, 120.0);
    std::fs::remove_dir_all(&dir).unwrap();
}
