//! Sampling bundled scenarios is deterministic, and randomized fields really vary.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use otrashi_scenarios::model::Target;
use otrashi_scenarios::{library, sample};

#[test]
fn same_seed_same_bytes() {
    for s in library::scenarios() {
        let scenario = library::load(s.name).unwrap();
        for seed in [0, 1, 42, u64::MAX] {
            let a = serde_json::to_string(&sample(&scenario, seed).unwrap()).unwrap();
            let b = serde_json::to_string(&sample(&scenario, seed).unwrap()).unwrap();
            assert_eq!(a, b, "{} seed {seed}", s.name);
        }
    }
}

#[test]
fn different_seeds_vary_target_time_and_params() {
    let scenario = library::load("shop-cart-memory-leak").unwrap();
    let mut targets = BTreeSet::new();
    let mut times = BTreeSet::new();
    let mut rates = BTreeSet::new();
    for seed in 0..50 {
        let incident = sample(&scenario, seed).unwrap();
        let f = &incident.faults[0];
        targets.insert(f.target.clone());
        times.insert(f.at);
        rates.insert(f.param("rate_mb_per_min").to_bits());
        assert!(f.at.as_secs_f64() >= 60.0 && f.at.as_secs_f64() <= 120.0);
    }
    assert_eq!(
        targets,
        BTreeSet::from(["cart".to_owned(), "catalog".to_owned()])
    );
    assert!(times.len() > 40, "{} distinct start times", times.len());
    assert!(rates.len() > 40, "{} distinct rates", rates.len());
}

#[test]
fn every_any_of_option_is_drawn_within_fifty_seeds() {
    for s in library::scenarios() {
        let scenario = library::load(s.name).unwrap();
        for (i, spec) in scenario.faults.iter().enumerate() {
            let Target::AnyOf(options) = &spec.target else {
                continue;
            };
            let drawn: BTreeSet<String> = (0..50)
                .map(|seed| {
                    let incident = sample(&scenario, seed).unwrap();
                    let f = incident.faults.iter().find(|f| f.id == spec.id).unwrap();
                    f.target.clone()
                })
                .collect();
            let expected: BTreeSet<String> = options.iter().cloned().collect();
            assert_eq!(drawn, expected, "{} fault {i}", s.name);
        }
    }
}

#[test]
fn target_any_covers_every_eligible_service() {
    let scenario = library::load("chain-any-slow-handler").unwrap();
    let drawn: BTreeSet<String> = (0..50)
        .map(|seed| sample(&scenario, seed).unwrap().faults[0].target.clone())
        .collect();
    let eligible: BTreeSet<String> =
        otrashi_scenarios::incident::eligible_targets(&scenario.topology, scenario.faults[0].kind)
            .into_iter()
            .map(str::to_owned)
            .collect();
    assert_eq!(drawn, eligible);
    assert_eq!(
        drawn.len(),
        2,
        "web and api run their own code, db does not"
    );
}
