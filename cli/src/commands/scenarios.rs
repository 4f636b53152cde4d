//! `otrashi scenarios …`: list, validate, sample, schema.

use std::process::ExitCode;

use otrashi_scenarios::{library, model::TopologySource, sample, GroundTruth, Incident};
use serde_json::json;

use super::print_json;
use crate::args::ScenariosCommand;
use crate::exit::{InputError, CHECK_FAILED};
use crate::resolve::{self, ResolveError};

pub fn run(cmd: ScenariosCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ScenariosCommand::List { json } => list(json),
        ScenariosCommand::Validate { files } => Ok(validate(&files)),
        ScenariosCommand::Sample { file, seed, json } => sample_one(&file, seed, json),
        ScenariosCommand::Schema => {
            print_json(&otrashi_scenarios::schema::scenario_schema())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn list(json: bool) -> anyhow::Result<ExitCode> {
    let mut rows = Vec::new();
    for bundled in library::scenarios() {
        let scenario = library::load(bundled.name).map_err(|d| {
            anyhow::anyhow!("bundled scenario {} does not load:\n{d}", bundled.name)
        })?;
        let topology = match &scenario.topology_source {
            TopologySource::Bundled(name) => name.clone(),
            TopologySource::Inline => "(inline)".to_owned(),
        };
        let kinds: Vec<&str> = scenario.faults.iter().map(|f| f.kind.as_str()).collect();
        rows.push(json!({
            "name": bundled.name,
            "file": bundled.file,
            "topology": topology,
            "services": scenario.topology.services.len(),
            "faults": kinds,
            "tags": scenario.metadata.tags,
            "description": scenario.metadata.description,
        }));
    }
    if json {
        let topologies: Vec<_> = library::topologies()
            .iter()
            .filter_map(|t| library::topology(t.name))
            .map(|t| json!({"name": t.name, "services": t.services.len(), "entry": t.entry, "description": t.description}))
            .collect();
        print_json(&json!({"scenarios": rows, "topologies": topologies}))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:<40} {:<10} {}", "SCENARIO", "TOPOLOGY", "FAULTS");
    for row in &rows {
        let faults: Vec<&str> = row["faults"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        println!(
            "{:<40} {:<10} {}",
            row["name"].as_str().unwrap_or(""),
            row["topology"].as_str().unwrap_or(""),
            faults.join(", ")
        );
    }
    println!("\nTopologies:");
    for t in library::topologies() {
        if let Some(topology) = library::topology(t.name) {
            println!(
                "  {:<10} {:>2} services, entry {}",
                topology.name,
                topology.services.len(),
                topology.entry
            );
        }
    }
    println!(
        "\n{} scenarios. Run one with `otrashi run <SCENARIO>`; see one's incident with `otrashi scenarios sample <SCENARIO> --seed 1`.",
        rows.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn validate(files: &[String]) -> ExitCode {
    let mut invalid = 0usize;
    for file in files {
        match resolve::try_scenario(file) {
            Ok(resolved) => println!(
                "ok     {} ({}, {} fault{})",
                resolved.origin,
                resolved.scenario.metadata.name,
                resolved.scenario.faults.len(),
                if resolved.scenario.faults.len() == 1 {
                    ""
                } else {
                    "s"
                }
            ),
            Err(ResolveError::Invalid(diags)) => {
                invalid += 1;
                println!("FAILED {file}\n{diags}\n");
            }
            Err(ResolveError::NotFound(msg)) => {
                invalid += 1;
                println!("FAILED {file}\n{msg}\n");
            }
        }
    }
    println!(
        "{} of {} file{} valid",
        files.len() - invalid,
        files.len(),
        if files.len() == 1 { "" } else { "s" }
    );
    if invalid == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(CHECK_FAILED)
    }
}

fn sample_one(file: &str, seed: u64, json: bool) -> anyhow::Result<ExitCode> {
    let resolved = resolve::scenario(file)?;
    let incident = sample(&resolved.scenario, seed).map_err(|e| {
        InputError(format!(
            "{}: cannot sample seed {seed}: {e}",
            resolved.origin
        ))
    })?;
    let truth = GroundTruth::derive(&incident);
    if json {
        print_json(&json!({"incident": incident, "ground_truth": truth}))?;
    } else {
        print_incident(&incident, &truth);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_incident(incident: &Incident, truth: &GroundTruth) {
    println!(
        "incident  {} (seed {}, digest {})",
        incident.scenario, incident.seed, incident.scenario_digest
    );
    println!(
        "topology  {} ({} services, entry {})",
        incident.topology.name,
        incident.topology.services.len(),
        incident.topology.entry
    );
    println!(
        "load      {} rps, {}",
        incident.load.rps,
        incident.load.pattern.as_str()
    );
    println!(
        "timeline  warm-up {}, incident window {}",
        incident.timeline.warmup, incident.timeline.duration
    );
    println!("faults");
    for f in &incident.faults {
        let params: Vec<String> = f.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "  {:<8} {:<36} on {:<12} {} → {} via {}  {}",
            f.id,
            f.kind.as_str(),
            f.target,
            f.at,
            f.until,
            f.via,
            params.join(" ")
        );
    }
    if !incident.red_herrings.is_empty() {
        println!("red herrings");
        for r in &incident.red_herrings {
            println!("  {:<20} on {:<12} at {}", r.kind.as_str(), r.target, r.at);
        }
    }
    println!("ground truth");
    for c in &truth.root_causes {
        println!(
            "  root cause {} — {} ({} level, family {}) from {}",
            c.component, c.fault, c.level, c.family, c.injected_at
        );
        println!("    affects {}", c.affected.join(", "));
        println!("    signals {}", c.signals.join(", "));
    }
}
