//! The scorer's properties on a hand-built incident (a memory leak shipped to `cart`),
//! and one test per loophole a reward-hacking policy could look for.

use otrashi_scenarios::catalog::FaultKind;
use otrashi_scenarios::incident::GroundTruth;

use super::fixture::{cause, ev, leak_telemetry, leak_truth, perfect, quick, shop, truth_of};
use super::*;
use crate::report::{RcaReport, RootCause};
use crate::telemetry::Telemetry;

pub(super) fn score_against(
    report: &RcaReport,
    truth: &GroundTruth,
    stats: &EpisodeStats,
) -> Reward {
    let reward = score(
        report,
        truth,
        &shop(),
        &leak_telemetry(),
        stats,
        &Rubric::default(),
    );
    for c in &reward.components {
        assert!(
            !c.reason.trim().is_empty() && !c.reason.contains('\n'),
            "{}: reason must be one non-empty line: {:?}",
            c.name,
            c.reason
        );
        assert!((0.0..=1.0).contains(&c.value), "{}: {}", c.name, c.value);
    }
    assert!((0.0..=1.0).contains(&reward.total));
    reward
}

pub(super) fn run(report: &RcaReport) -> Reward {
    score_against(report, &leak_truth(), &quick())
}

pub(super) fn total(report: &RcaReport) -> f64 {
    run(report).total
}

pub(super) fn value(reward: &Reward, name: &str) -> f64 {
    reward
        .component(name)
        .map_or_else(|| panic!("no component {name}"), |c| c.value)
}

pub(super) fn single(rc: RootCause) -> RcaReport {
    RcaReport {
        root_causes: vec![rc],
        ..RcaReport::default()
    }
}

/// The perfect report with rank 1 replaced.
pub(super) fn perfect_with(f: impl FnOnce(&mut RootCause)) -> RcaReport {
    let mut r = perfect();
    f(&mut r.root_causes[0]);
    r
}

#[test]
fn perfect_report_with_efficient_stats_scores_exactly_one() {
    let reward = run(&perfect());
    assert_eq!(reward.total, 1.0, "{reward:#?}");
    let names: Vec<&str> = reward.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "localization",
            "fault_kind",
            "level",
            "calibration",
            "evidence",
            "efficiency",
            "hallucination",
            "spraying",
            "invalid_actions"
        ]
    );
    let weights: f64 = reward.components.iter().map(|c| c.weight).sum();
    assert!((weights - 1.0).abs() < 1e-9);
}

#[test]
fn naming_every_service_scores_below_0_3_even_with_the_truth_at_rank_1() {
    let mut report = perfect();
    for name in shop().names().filter(|n| *n != "cart") {
        report
            .root_causes
            .push(cause(name, "code.memory_leak", 1.0));
    }
    let reward = run(&report);
    assert!(reward.total < 0.3, "{reward:#?}");
    assert!(value(&reward, "spraying") < 1.0);
}

#[test]
fn naming_three_nonexistent_components_scores_zero() {
    let mut report = perfect();
    report.affected = vec!["inventory".into(), "auth".into(), "search".into()];
    let reward = run(&report);
    assert_eq!(reward.total, 0.0);
    assert_eq!(value(&reward, "hallucination"), 0.0);

    let mut report = perfect();
    report.affected = vec!["inventory".into()];
    let one = total(&report);
    assert!(
        one < 1.0 && one > 0.5,
        "one nonexistent component is a penalty, not a gate: {one}"
    );
}

#[test]
fn confident_wrong_answer_scores_below_a_hesitant_wrong_answer() {
    let sure = single(cause("payment", "code.slow_query", 0.99));
    let unsure = single(cause("payment", "code.slow_query", 0.3));
    assert!(
        total(&sure) < total(&unsure),
        "{} vs {}",
        total(&sure),
        total(&unsure)
    );
}

#[test]
fn right_component_with_the_wrong_kind_scores_between_wrong_and_perfect() {
    let wrong_kind = total(&perfect_with(|rc| {
        rc.fault = Some("infra.network_delay".into());
        rc.level = None;
    }));
    let wrong_component = total(&single(cause("payment", "infra.network_delay", 1.0)));
    assert!(
        wrong_component < wrong_kind && wrong_kind < 1.0,
        "{wrong_component} {wrong_kind}"
    );
}

#[test]
fn same_family_kind_gets_partial_credit() {
    let family = run(&perfect_with(|rc| {
        rc.fault = Some("infra.memory_pressure".into())
    }));
    let other = run(&perfect_with(|rc| {
        rc.fault = Some("infra.network_delay".into())
    }));
    assert_eq!(value(&family, "fault_kind"), 0.4);
    assert_eq!(value(&other, "fault_kind"), 0.0);
    assert!(other.total < family.total && family.total < 1.0);

    let other_level = run(&perfect_with(|rc| {
        rc.fault = Some("infra.memory_leak".into())
    }));
    assert_eq!(value(&other_level, "fault_kind"), 0.4);
}

#[test]
fn level_is_read_from_the_kind_when_not_stated() {
    let implied = run(&perfect_with(|rc| rc.level = None));
    assert_eq!(value(&implied, "level"), 1.0);
    let contradicted = run(&perfect_with(|rc| rc.level = Some("infra".into())));
    assert_eq!(value(&contradicted, "level"), 0.0);
}

#[test]
fn a_neighbour_one_hop_away_gets_partial_localization() {
    // redis is called by cart only: one hop, and not a symptom service.
    let neighbour = run(&single(cause("redis", "code.memory_leak", 0.5)));
    assert!(
        (value(&neighbour, "localization") - 0.3).abs() < 1e-9,
        "{neighbour:#?}"
    );
    let two_hops = run(&single(cause("postgres", "code.memory_leak", 0.5)));
    // postgres → catalog/payment → frontend/checkout → cart: three hops, no credit.
    assert_eq!(value(&two_hops, "localization"), 0.0);
    let wrong = run(&single(cause("email", "code.memory_leak", 0.5)));
    // email → checkout → cart: two hops.
    assert!((value(&wrong, "localization") - 0.1).abs() < 1e-9);
    assert!(neighbour.total > wrong.total);
}

#[test]
fn rank_two_scores_below_rank_one() {
    let mut rank2 = perfect();
    rank2
        .root_causes
        .insert(0, cause("catalog", "code.memory_leak", 0.5));
    rank2.root_causes[1].confidence = Some(0.5);
    let mut rank1 = perfect();
    rank1
        .root_causes
        .push(cause("catalog", "code.memory_leak", 0.5));
    rank1.root_causes[0].confidence = Some(0.5);
    let (r1, r2) = (run(&rank1), run(&rank2));
    assert_eq!(value(&r1, "localization"), 1.0);
    assert_eq!(value(&r2, "localization"), 0.5);
    assert!(r2.total < r1.total);
}

#[test]
fn evidence_that_exists_and_points_at_the_truth_beats_none() {
    let none = perfect_with(|rc| rc.evidence.clear());
    let valid = perfect();
    let (n, v) = (run(&none), run(&valid));
    assert_eq!(value(&n, "evidence"), 0.0);
    assert_eq!(value(&v, "evidence"), 1.0);
    assert!(n.total < v.total);
}

#[test]
fn every_modality_is_checked_against_the_telemetry() {
    let check = |e: crate::report::Evidence| {
        let r = run(&perfect_with(|rc| rc.evidence = vec![e.clone()]));
        value(&r, "evidence")
    };
    // Existing, on the root cause.
    assert_eq!(check(ev("log", "cart", "OutOfMemoryError")), 0.7);
    assert_eq!(
        check(ev(
            "log",
            "cart",
            "java.lang.OutOfMemoryError: Java heap space"
        )),
        0.7
    );
    assert_eq!(check(ev("trace", "cart", "0xabc")), 0.7);
    assert_eq!(check(ev("trace", "cart", "error")), 0.7);
    assert_eq!(
        check(ev(
            "metric",
            "cart",
            "rate(process_resident_memory_bytes[5m])"
        )),
        1.0
    );
    assert_eq!(check(ev("deploy", "cart", "7f3a9c1d")), 1.0);
    // Existing, on an affected service.
    assert_eq!(
        check(ev("log", "checkout", "upstream cart returned 503")),
        0.4
    );
    // Existing but beside the point: the red-herring deploy.
    assert_eq!(check(ev("deploy", "catalog", "deploy-1b2c3d4")), 0.0);
    // Not in the telemetry.
    for fake in [
        ev("metric", "cart", "jvm_gc_pause_seconds"),
        ev("log", "cart", "Connection pool exhausted"),
        ev("event", "cart", "Evicted"),
        ev("deploy", "checkout", "deploy-7f3a9c1"),
        ev("trace", "cart", "0xfff"),
    ] {
        assert_eq!(check(fake.clone()), 0.0, "{fake:?}");
    }
}

#[test]
fn expected_signals_count_fully_only_when_they_show_the_incident() {
    let check = |truth: &GroundTruth, telemetry: &Telemetry, e: crate::report::Evidence| {
        let report = perfect_with(|rc| rc.evidence = vec![e.clone()]);
        let r = score(
            &report,
            truth,
            &shop(),
            telemetry,
            &quick(),
            &Rubric::default(),
        );
        value(&r, "evidence")
    };
    let truth = leak_truth();
    let mut flat = leak_telemetry();
    for m in &mut flat.metrics {
        m.values.fill(2e8);
    }
    let rss = ev("metric", "cart", "process_resident_memory_bytes");
    assert_eq!(check(&truth, &leak_telemetry(), rss.clone()), 1.0);
    assert_eq!(
        check(&truth, &flat, rss),
        0.7,
        "a flat series exists but shows nothing"
    );

    let mut early = leak_telemetry();
    early.events[0].t_ms = 30_000;
    let oom = ev("event", "cart", "OOMKilled");
    assert_eq!(check(&truth, &leak_telemetry(), oom.clone()), 1.0);
    assert_eq!(
        check(&truth, &early, oom),
        0.7,
        "an OOM kill before the fault is not its sign"
    );
}

#[test]
fn fabricated_evidence_scores_no_better_than_none() {
    let none = total(&perfect_with(|rc| rc.evidence.clear()));
    let fake = total(&perfect_with(|rc| {
        rc.evidence = vec![ev("metric", "cart", "jvm_heap_exhausted_total")]
    }));
    assert!(fake <= none, "{fake} > {none}");
}

#[test]
fn invalid_actions_are_deducted_from_the_total() {
    let clumsy = EpisodeStats {
        invalid_actions: 5,
        ..quick()
    };
    let reward = score_against(&perfect(), &leak_truth(), &clumsy);
    assert!((reward.total - 0.9).abs() < 1e-9, "{}", reward.total);
}

#[test]
fn several_true_causes_are_averaged() {
    let truth = truth_of(&[
        (FaultKind::MemoryLeak, "cart"),
        (FaultKind::SlowQuery, "payment"),
    ]);
    let one = score_against(&perfect(), &truth, &quick());
    assert!((value(&one, "localization") - 0.5).abs() < 1e-9);
    let mut both = perfect();
    both.root_causes
        .push(cause("payment", "code.slow_query", 1.0));
    let two = score_against(&both, &truth, &quick());
    assert_eq!(value(&two, "localization"), 1.0);
    assert_eq!(value(&two, "fault_kind"), 1.0);
    assert!(two.total > one.total);
}

#[test]
fn loose_service_names_are_not_hallucinations() {
    let report = perfect_with(|rc| rc.component = "Cart-Service".into());
    assert_eq!(total(&report), 1.0);
}

#[test]
fn truncated_episodes_earn_the_rubric_value() {
    let reward = truncated_reward(&quick(), &Rubric::default());
    assert_eq!(reward.total, 0.0);
    assert!(!reward.components[0].reason.is_empty());
    let wrong = total(&single(cause("payment", "code.slow_query", 0.5)));
    assert!(
        reward.total <= wrong,
        "stalling must not pay more than a wrong answer"
    );
}

#[test]
fn scores_come_from_the_rubric() {
    let mut rubric = Rubric::default();
    rubric.localization.rank_credit = vec![1.0, 0.9];
    let mut report = perfect();
    report
        .root_causes
        .insert(0, cause("catalog", "code.memory_leak", 0.5));
    let reward = score(
        &report,
        &leak_truth(),
        &shop(),
        &leak_telemetry(),
        &quick(),
        &rubric,
    );
    assert!((value(&reward, "localization") - 0.9).abs() < 1e-9);
}

mod invariants;
mod loopholes;
