//! One test per loophole a reward-hacking policy could look for.

use super::{perfect_with, run, score_against, single, total, value};
use crate::report::{RcaReport, RootCause};
use crate::score::fixture::{cause, ev, leak_telemetry, leak_truth, perfect, quick, shop};
use crate::score::{score, EpisodeStats, Rubric};

#[test]
fn loophole_empty_report_scores_zero() {
    let reward = run(&RcaReport::default());
    assert_eq!(reward.total, 0.0);
    assert!(reward.components.iter().all(|c| c.value == 0.0));
}

#[test]
fn loophole_full_confidence_on_every_entry_costs_calibration() {
    let mut hedged = perfect();
    hedged
        .root_causes
        .push(cause("checkout", "code.memory_leak", 0.0));
    hedged
        .root_causes
        .push(cause("frontend", "code.memory_leak", 0.0));
    let mut loud = hedged.clone();
    for rc in &mut loud.root_causes {
        rc.confidence = Some(1.0);
    }
    let (h, l) = (run(&hedged), run(&loud));
    assert!(value(&l, "calibration") < value(&h, "calibration"));
    assert!(l.total < h.total);
}

#[test]
fn loophole_many_root_causes_with_tiny_confidence_each() {
    let mut report = RcaReport::default();
    for name in shop().names() {
        let mut rc = cause(name, "code.memory_leak", 0.01);
        rc.evidence = perfect().root_causes[0].evidence.clone();
        report.root_causes.push(rc);
    }
    // The truth sits at rank 2 of 8, each entry at 1%.
    let sprayed = total(&report);
    let single_right = total(&single(cause("cart", "code.memory_leak", 0.6)));
    assert!(
        sprayed < 0.3 && sprayed < single_right,
        "{sprayed} vs {single_right}"
    );

    // Four of eight (50 %) is spraying too, even with the truth first.
    let mut half = perfect();
    for name in ["catalog", "checkout", "payment"] {
        half.root_causes.push(cause(name, "code.memory_leak", 0.1));
    }
    assert!(total(&half) < 0.3, "{}", total(&half));
}

#[test]
fn loophole_padding_with_unsure_guesses_does_not_repair_an_overconfident_first_answer() {
    let overconfident = single(cause("payment", "code.slow_query", 0.99));
    let mut padded = overconfident.clone();
    padded
        .root_causes
        .push(cause("postgres", "code.slow_query", 0.0));
    padded
        .root_causes
        .push(cause("email", "code.slow_query", 0.0));
    let (o, p) = (run(&overconfident), run(&padded));
    assert!(value(&p, "calibration") <= value(&o, "calibration"));
    assert!(p.total <= o.total, "{} > {}", p.total, o.total);
}

#[test]
fn loophole_same_component_repeated_with_every_kind_gains_nothing() {
    let mut repeated = single(cause("cart", "infra.network_delay", 0.9));
    for kind in ["code.memory_leak", "infra.memory_pressure"] {
        repeated.root_causes.push(cause("cart", kind, 0.9));
    }
    let reward = run(&repeated);
    assert_eq!(
        value(&reward, "fault_kind"),
        0.0,
        "kind is judged on the first entry naming the component"
    );
}

#[test]
fn loophole_citing_evidence_that_does_not_exist() {
    let honest = total(&perfect());
    let padded = total(&perfect_with(|rc| {
        rc.evidence
            .push(ev("metric", "cart", "cart_heap_doom_ratio"));
        rc.evidence
            .push(ev("log", "cart", "heap exhausted, giving up"));
    }));
    assert!(padded < honest - 0.05, "{padded} vs {honest}");
}

#[test]
fn loophole_padding_with_valid_but_irrelevant_evidence_dilutes() {
    let focused = run(&perfect());
    let padded = run(&perfect_with(|rc| {
        rc.evidence.push(ev("deploy", "catalog", "deploy-1b2c3d4"));
        rc.evidence
            .push(ev("event", "catalog", "ScalingReplicaSet"));
        rc.evidence
            .push(ev("metric", "email", "http_request_duration_seconds"));
    }));
    assert!(value(&padded, "evidence") < value(&focused, "evidence"));
}

#[test]
fn loophole_repeating_one_citation_counts_it_once() {
    let once = run(&perfect_with(|rc| {
        rc.evidence = vec![ev("event", "cart", "OOMKilled")]
    }));
    let many = run(&perfect_with(|rc| {
        rc.evidence = vec![ev("event", "cart", "OOMKilled"); 20];
        rc.evidence
            .push(ev("metric", "email", "http_request_duration_seconds"));
    }));
    assert!(value(&many, "evidence") < value(&once, "evidence"));
}

#[test]
fn loophole_copying_the_alert_service() {
    // The alert fired on frontend; a policy that always blames it, with honest low
    // confidence and real evidence from it, must not earn much.
    let mut rc = cause("frontend", "code.error_injection", 0.0);
    rc.evidence = vec![ev("metric", "frontend", "http_request_duration_seconds")];
    let reward = run(&single(rc));
    assert_eq!(value(&reward, "localization"), 0.0, "{reward:#?}");
    assert_eq!(value(&reward, "efficiency"), 0.0);
    assert!(reward.total < 0.25, "{reward:#?}");
    let right_but_bare = total(&single(RootCause {
        component: "cart".into(),
        ..RootCause::default()
    }));
    assert!(reward.total < right_but_bare / 2.0);
}

#[test]
fn loophole_naming_the_entry_service_always() {
    // With the alert elsewhere, the entry still earns no distance credit.
    let mut telemetry = leak_telemetry();
    telemetry.alert.service = "checkout".into();
    let report = single(cause("frontend", "code.memory_leak", 0.5));
    let reward = score(
        &report,
        &leak_truth(),
        &shop(),
        &telemetry,
        &quick(),
        &Rubric::default(),
    );
    assert_eq!(value(&reward, "localization"), 0.0);
}

#[test]
fn loophole_submitting_garbage_fast_earns_no_efficiency() {
    // postgres is three hops from cart: no localization, so no efficiency either.
    let wrong = run(&single(cause("postgres", "code.slow_query", 0.5)));
    assert_eq!(value(&wrong, "efficiency"), 0.0);
    let slow = EpisodeStats {
        steps: 30,
        elapsed_s: 590.0,
        ..quick()
    };
    let right_slow = score_against(&perfect(), &leak_truth(), &slow);
    assert!(value(&right_slow, "efficiency") < 0.1);
    assert!(right_slow.total < 1.0 && right_slow.total > 0.9);
}

#[test]
fn loophole_hallucinated_services_in_evidence_count() {
    let report = perfect_with(|rc| {
        for fake in ["cart-db", "cart-cache", "cart-queue"] {
            rc.evidence.push(ev("metric", fake, "up"));
        }
    });
    assert_eq!(total(&report), 0.0);
}
