//! Every bundled scenario parses, samples, and the library covers the catalog.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use otrashi_scenarios::library;
use otrashi_scenarios::model::Target;
use otrashi_scenarios::{sample, FaultKind, GroundTruth};

#[test]
fn every_bundled_topology_parses() {
    for t in library::topologies() {
        let parsed = otrashi_scenarios::parse::parse_topology_str(t.source, t.file)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.name, t.name);
        assert_eq!(library::topology(t.name), Some(parsed));
    }
}

#[test]
fn every_bundled_scenario_parses_and_samples() {
    for s in library::scenarios() {
        let scenario = library::load(s.name).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            scenario.metadata.name, s.name,
            "{}: name differs from file",
            s.file
        );
        assert!(!scenario.metadata.description.is_empty(), "{}", s.file);
        for seed in 0..20 {
            let incident = sample(&scenario, seed).unwrap_or_else(|e| panic!("{}: {e}", s.name));
            let truth = GroundTruth::derive(&incident);
            assert_eq!(truth.root_causes.len(), scenario.faults.len());
        }
    }
}

#[test]
fn library_covers_every_fault_kind() {
    let used: BTreeSet<FaultKind> = library::scenarios()
        .iter()
        .flat_map(|s| {
            library::load(s.name)
                .map(|sc| sc.faults)
                .unwrap_or_default()
        })
        .map(|f| f.kind)
        .collect();
    let missing: Vec<_> = FaultKind::ALL
        .iter()
        .filter(|k| !used.contains(k))
        .collect();
    assert!(missing.is_empty(), "no bundled scenario for {missing:?}");
}

#[test]
fn library_has_the_promised_variety() {
    let all: Vec<_> = library::scenarios()
        .iter()
        .map(|s| library::load(s.name).unwrap())
        .collect();
    let with =
        |f: &dyn Fn(&otrashi_scenarios::Scenario) -> bool| all.iter().filter(|s| f(s)).count();
    assert!(with(&|s| !s.noise.red_herrings.is_empty()) >= 2);
    assert!(with(&|s| s.faults.len() >= 2) >= 1);
    assert!(with(&|s| s.faults.iter().any(|f| f.target == Target::Any)) >= 1);
    assert!(
        with(&|s| s
            .faults
            .iter()
            .any(|f| matches!(f.target, Target::AnyOf(_))))
            >= 10
    );
    for topology in ["chain", "shop", "platform"] {
        assert!(with(&|s| s.topology.name == topology) >= 3, "{topology}");
    }
}

#[test]
fn unknown_bundled_name_suggests_the_closest() {
    let err = library::load("shop-cart-memory-leek").unwrap_err();
    assert!(
        err.to_string()
            .contains("did you mean `shop-cart-memory-leak`?"),
        "{err}"
    );
}

#[test]
fn files_on_disk_match_the_compiled_library() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for s in library::scenarios() {
        let from_disk = otrashi_scenarios::parse_file(&root.join(s.file)).unwrap();
        assert_eq!(from_disk, library::load(s.name).unwrap(), "{}", s.file);
    }
    let yaml_files = std::fs::read_dir(root.join("library"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "yaml")
        })
        .count();
    assert_eq!(
        yaml_files,
        library::scenarios().len(),
        "a file in library/ is not bundled"
    );
}

#[test]
fn some_scenario_uses_an_inline_topology() {
    let inline = library::scenarios()
        .iter()
        .filter(|s| {
            library::load(s.name).unwrap().topology_source
                == otrashi_scenarios::model::TopologySource::Inline
        })
        .count();
    assert!(inline >= 1);
}
