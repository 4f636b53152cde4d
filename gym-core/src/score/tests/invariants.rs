//! Invariants over many random reports.

use super::{run, single, total, value};
use crate::report::{RcaReport, RootCause};
use crate::score::fixture::{cause, ev};

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
