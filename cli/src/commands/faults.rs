//! `otrashi faults`: the fault catalog.

use std::process::ExitCode;

use otrashi_scenarios::{FaultDef, CATALOG};

use super::print_json;
use crate::args::FaultsArgs;

pub fn run(args: &FaultsArgs) -> anyhow::Result<ExitCode> {
    let selected: Vec<&FaultDef> = CATALOG
        .iter()
        .filter(|d| args.level.as_deref().is_none_or(|l| d.level.as_str() == l))
        .collect();
    if args.json {
        print_json(&selected)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut current_level = None;
    for def in &selected {
        if current_level != Some(def.level) {
            current_level = Some(def.level);
            println!("\n{}", def.level.as_str().to_uppercase());
        }
        println!("  {:<42} {}", def.kind.as_str(), def.description);
        let params: Vec<String> = def
            .params
            .iter()
            .map(|p| format!("{}={} {} [{}..{}]", p.name, p.default, p.unit, p.min, p.max))
            .collect();
        if !params.is_empty() {
            println!("  {:<42} params: {}", "", params.join(", "));
        }
        println!("  {:<42} looks like: {}", "", def.signature);
    }
    println!(
        "\n{} fault kinds. Use one in a scenario as `kind: <level>.<fault>`; `otrashi faults --json` has every range.",
        selected.len()
    );
    Ok(ExitCode::SUCCESS)
}
