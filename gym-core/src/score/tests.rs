//! The scorer's properties on a hand-built incident (a memory leak shipped to `cart`),
//! and one test per loophole a reward-hacking policy could look for.

use otrashi_scenarios::catalog::FaultKind;
use otrashi_scenarios::incident::GroundTruth;

use super::fixture::{cause, ev, leak_telemetry, leak_truth, perfect, quick, shop, truth_of};
use super::*;
use crate::report::{RcaReport, RootCause};
use crate::telemetry::Telemetry;

fn score_against(report: &RcaReport, truth: &GroundTruth, stats: &EpisodeStats) -> Reward {
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

fn run(report: &RcaReport) -> Reward {
    score_against(report, &leak_truth(), &quick())
}

fn total(report: &RcaReport) -> f64 {
    run(report).total
}

fn value(reward: &Reward, name: &str) -> f64 {
    reward
        .component(name)
        .map_or_else(|| panic!("no component {name}"), |c| c.value)
}

fn single(rc: RootCause) -> RcaReport {
    RcaReport {
        root_causes: vec![rc],
        ..RcaReport::default()
    }
}

/// The perfect report with rank 1 replaced.
fn perfect_with(f: impl FnOnce(&mut RootCause)) -> RcaReport {
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

// --- Loopholes a policy could look for. ---

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

// --- Invariants over many random reports. ---

fn random_report(rng: &mut otrashi_scenarios::rng::Rng) -> RcaReport {
    const NAMES: &[&str] = &[
        "frontend",
        "cart",
        "catalog",
        "checkout",
        "payment",
        "email",
        "redis",
        "postgres",
        "Cart Service",
        "inventory",
        "auth",
    ];
    const FAULTS: &[&str] = &[
        "code.memory_leak",
        "memory leak",
        "infra.memory_pressure",
        "infra.memory_leak",
        "code.slow_query",
        "orchestration.oom_kill",
        "gremlins",
    ];
    const LEVELS: &[&str] = &["code", "infra", "orchestration", "banana"];
    let citations = [
        ev("deploy", "cart", "deploy-7f3a9c1"),
        ev("event", "cart", "OOMKilled"),
        ev("metric", "cart", "jvm_made_up_total"),
        ev("log", "checkout", "upstream cart returned 503"),
        ev("deploy", "catalog", "deploy-1b2c3d4"),
        ev("metric", "inventory", "up"),
        ev("trace", "frontend", "error"),
    ];
    let n = 1 + rng.below(9);
    let root_causes = (0..n)
        .map(|_| RootCause {
            component: (*rng.pick(NAMES)).to_owned(),
            fault: rng.chance(0.8).then(|| (*rng.pick(FAULTS)).to_owned()),
            level: rng.chance(0.4).then(|| (*rng.pick(LEVELS)).to_owned()),
            confidence: rng.chance(0.8).then(|| rng.f64()),
            evidence: (0..rng.below(4))
                .map(|_| rng.pick(&citations).clone())
                .collect(),
            explanation: String::new(),
        })
        .collect();
    let affected = (0..rng.below(3))
        .map(|_| (*rng.pick(NAMES)).to_owned())
        .collect();
    RcaReport {
        root_causes,
        affected,
        ..RcaReport::default()
    }
}

#[test]
fn invariants_hold_over_random_reports() {
    let mut rng = otrashi_scenarios::rng::Rng::new(42);
    let bare_right = total(&single(RootCause {
        component: "cart".into(),
        ..RootCause::default()
    }));
    for _ in 0..1000 {
        let report = random_report(&mut rng);
        // `run` checks the total and every component are in [0, 1] with a one-line reason.
        let reward = run(&report);
        if value(&reward, "localization") == 0.0 {
            assert!(
                reward.total < bare_right,
                "a report that misses the component must score below the bare right answer: {report:#?}\n{reward:#?}"
            );
        }
        let mut more = report.clone();
        more.root_causes
            .push(cause("inventory", "code.memory_leak", 0.5));
        let more_reward = run(&more);
        assert!(
            more_reward.total <= reward.total + 1e-12,
            "naming a nonexistent component paid"
        );
        let mut longer = report.clone();
        longer
            .root_causes
            .push(cause("postgres", "code.memory_leak", 0.0));
        assert!(
            value(&run(&longer), "localization") <= value(&reward, "localization") + 1e-12,
            "appending an entry raised localization"
        );
    }
}
