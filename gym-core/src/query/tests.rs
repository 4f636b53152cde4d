use super::*;
use crate::fixture;
use crate::telemetry::LogLevel;

fn margs(metric: &str) -> MetricsArgs {
    MetricsArgs {
        metric: metric.into(),
        ..MetricsArgs::default()
    }
}

#[test]
fn counter_rate_survives_a_restart() {
    let t = fixture::telemetry();
    let s = t
        .metrics
        .iter()
        .find(|m| m.name == "http_requests_total" && m.service == fixture::CART)
        .unwrap();
    let rates = metrics::as_shown(s);
    assert!(rates[0].is_nan(), "the first sample has no rate");
    // The counter drops to a small value at 240 s; the rate must stay 50/s, not go
    // negative.
    assert!(
        rates[1..].iter().all(|r| (r - 50.0).abs() < 1e-9),
        "{rates:?}"
    );
}

#[test]
fn metrics_are_downsampled_and_summarized() {
    let t = fixture::telemetry();
    let mut a = margs("process_cpu_seconds_total");
    a.service = Some("cart".into());
    let r = query_metrics(&t, &a).unwrap();
    assert_eq!(r.series.len(), 1);
    let s = &r.series[0];
    assert!(s.values.len() <= metrics::MAX_POINTS, "{}", s.values.len());
    assert_eq!(s.shown_as, "rate");
    assert!((s.summary.mean - 0.2).abs() < 1e-6, "{:?}", s.summary);
    // A counter's first sample has no rate, so the series starts one sample later.
    assert_eq!(s.start, "2026-11-22T00:00:01Z");
    assert_eq!(s.summary.no_data_samples, 0);
}

#[test]
fn too_many_series_are_cut_with_a_note() {
    let t = fixture::telemetry();
    let r = query_metrics(&t, &margs("http_route_requests_total")).unwrap();
    assert_eq!(r.matched_series, 30);
    assert_eq!(r.series.len(), metrics::DEFAULT_SERIES as usize);
    assert!(
        r.notes.iter().any(|n| n.contains("showing 12 of 30")),
        "{:?}",
        r.notes
    );
    let mut a = margs("http_route_requests_total");
    a.limit = Some(500);
    let r = query_metrics(&t, &a).unwrap();
    assert_eq!(r.series.len(), metrics::MAX_SERIES as usize);
    assert!(r.notes.iter().any(|n| n.contains("above the maximum")));
}

#[test]
fn missing_data_is_null_and_labels_filter() {
    let t = fixture::telemetry();
    let mut a = margs("up");
    a.service = Some("cart".into());
    let r = query_metrics(&t, &a).unwrap();
    let json = serde_json::to_value(&r).unwrap();
    let values = json["series"][0]["values"].as_array().unwrap();
    assert!(values.iter().any(|v| v.is_null()), "{values:?}");
    assert_eq!(r.series[0].summary.no_data_samples, 1);

    let mut a = margs("http_requests_total");
    a.labels.insert("code".into(), "5*".into());
    let r = query_metrics(&t, &a).unwrap();
    assert_eq!(r.series.len(), 5);
    assert!(r.series.iter().all(|s| s.labels["code"] == "5xx"));
}

#[test]
fn unknown_metric_lists_what_exists() {
    let t = fixture::telemetry();
    let r = query_metrics(&t, &margs("container_memory_workin_set_bytes")).unwrap();
    assert!(r.series.is_empty());
    assert_eq!(
        r.did_you_mean.as_deref(),
        Some("container_memory_working_set_bytes")
    );
    assert!(r.available_metrics.contains(&"up".to_owned()));
    let r = query_metrics(&t, &margs("memory")).unwrap();
    assert_eq!(r.series.len(), 5, "a fragment matches by substring");
    assert!(r.notes[0].contains("contains"));
}

#[test]
fn bad_arguments_explain_themselves() {
    let t = fixture::telemetry();
    let mut a = margs("up");
    a.service = Some("kart".into());
    let e = query_metrics(&t, &a).unwrap_err().to_string();
    assert!(e.contains("did you mean `cart`"), "{e}");
    let mut a = margs("up");
    a.start = Some("yesterday".into());
    assert!(matches!(
        query_metrics(&t, &a),
        Err(QueryError::BadTime { .. })
    ));
    let mut a = margs("up");
    a.start = Some("-1m".into());
    a.end = Some("-2m".into());
    assert!(matches!(
        query_metrics(&t, &a),
        Err(QueryError::EmptyWindow { .. })
    ));
}

#[test]
fn logs_group_by_template_with_counts() {
    let t = fixture::telemetry();
    let r = search_logs(
        &t,
        &LogsArgs {
            level: Some("error".into()),
            ..LogsArgs::default()
        },
    )
    .unwrap();
    assert_eq!(r.total_groups, 2);
    let upstream = r
        .groups
        .iter()
        .find(|g| g.pattern.starts_with("upstream"))
        .unwrap();
    assert_eq!(upstream.count, 60);
    assert_eq!(upstream.services, vec!["frontend", "checkout"]);
    assert_eq!(upstream.pattern, "upstream <*> returned 503 for <*>");
    let oom = r
        .groups
        .iter()
        .find(|g| g.pattern.contains("OutOfMemoryError"))
        .unwrap();
    assert_eq!(oom.count, 8);
    assert_eq!(oom.first, "2026-11-22T00:03:20Z");
    assert_eq!(r.matched_lines, 68);
    assert_eq!(r.lines_by_level["ERROR"], 68);

    let r = search_logs(
        &t,
        &LogsArgs {
            query: Some("outofmemoryerror \"heap space\"".into()),
            ..LogsArgs::default()
        },
    )
    .unwrap();
    assert_eq!(r.groups.len(), 1);
    assert_eq!(r.groups[0].level, LogLevel::Error);
}

#[test]
fn long_log_lines_and_many_groups_are_cut() {
    let t = fixture::telemetry();
    let r = search_logs(
        &t,
        &LogsArgs {
            service: Some("catalog".into()),
            query: Some("payload".into()),
            ..LogsArgs::default()
        },
    )
    .unwrap();
    assert!(r.groups[0].example.chars().count() < logs::MAX_EXAMPLE_CHARS + 60);
    assert!(r.groups[0].example.contains("more characters cut"));
    assert!(!r.notes.is_empty());
    let r = search_logs(
        &t,
        &LogsArgs {
            limit: Some(1),
            ..LogsArgs::default()
        },
    )
    .unwrap();
    assert_eq!(r.groups.len(), 1);
    assert!(
        r.notes.iter().any(|n| n.contains("showing 1 of 5")),
        "{:?}",
        r.notes
    );
}

#[test]
fn traces_come_as_trees_with_a_summary() {
    let t = fixture::telemetry();
    let r = get_traces(
        &t,
        &TracesArgs {
            errors_only: Some(true),
            limit: Some(50),
            ..TracesArgs::default()
        },
    )
    .unwrap();
    assert_eq!(r.summary.matched, 15);
    assert_eq!(r.summary.with_errors, 15);
    assert_eq!(r.traces.len(), traces::MAX_TRACES.min(15) as usize);
    assert!(r.notes.iter().any(|n| n.contains("above the maximum")));
    let root = &r.traces[0].root;
    assert_eq!(root.service, "frontend");
    let cart = &root.children[0].children[0];
    assert_eq!(cart.service, "cart");
    assert!(cart.error.as_deref().unwrap().contains("OutOfMemoryError"));
    assert_eq!(r.summary.error_spans_by_service["cart"], 15);

    let r = get_traces(&t, &TracesArgs::default()).unwrap();
    assert_eq!(r.traces.len(), traces::DEFAULT_TRACES as usize);
    assert!(r.traces[0].duration_ms >= r.traces[4].duration_ms);
}

#[test]
fn repeated_events_fold_with_a_count() {
    let t = fixture::telemetry();
    let r = get_events(
        &t,
        &EventsArgs {
            service: Some("cart".into()),
            ..EventsArgs::default()
        },
    )
    .unwrap();
    assert_eq!(r.matched_events, 6);
    let backoff = r.events.iter().find(|e| e.reason == "BackOff").unwrap();
    assert_eq!(backoff.count, 3);
    assert_eq!(backoff.first, "2026-11-22T00:04:05Z");
    assert_eq!(backoff.last, "2026-11-22T00:04:25Z");
    let r = get_events(
        &t,
        &EventsArgs {
            event_type: Some("warning".into()),
            ..EventsArgs::default()
        },
    )
    .unwrap();
    assert!(r.events.iter().all(|e| e.reason != "Started"));
}

#[test]
fn deploys_list_files_and_diffs_are_bounded() {
    let t = fixture::telemetry();
    let r = get_deploys(&t, &DeployArgs::default()).unwrap();
    assert_eq!(r.deploys.len(), 2);
    assert_eq!(r.deploys[1].files_changed, vec!["src/cart/CartCache.java"]);
    let r = get_deploys(
        &t,
        &DeployArgs {
            start: Some("-200s".into()),
            ..DeployArgs::default()
        },
    )
    .unwrap();
    assert_eq!(
        r.deploys.len(),
        1,
        "only the cart deploy is in the last 200 s"
    );
    let d = get_code_diff(&t, "deploy-7f3a9c1").unwrap();
    assert!(d.diff.chars().count() <= deploys::MAX_DIFF_CHARS + 60);
    assert!(!d.notes.is_empty());
    let e = get_code_diff(&t, "deploy-7f3a9c2").unwrap_err().to_string();
    assert!(e.contains("did you mean `deploy-7f3a9c1`"), "{e}");
}

#[test]
fn services_list_shows_the_call_graph() {
    let r = list_services(&fixture::topology());
    assert_eq!(r.entry, "frontend");
    assert_eq!(r.services[0].name, "frontend");
    let cart = r.services.iter().find(|s| s.name == "cart").unwrap();
    assert_eq!(cart.called_by, vec!["checkout"]);
    assert_eq!(cart.runtime, "java");
}
