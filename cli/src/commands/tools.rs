//! `otrashi tools`: the agent's tool set.

use std::process::ExitCode;

use otrashi_gym::tools;

use super::print_json;
use crate::args::ToolsArgs;

pub fn run(args: &ToolsArgs) -> anyhow::Result<ExitCode> {
    if args.json {
        print_json(&tools::function_calling_json())?;
        return Ok(ExitCode::SUCCESS);
    }
    for spec in tools::tool_specs() {
        outln!("{:<16} {}", spec.name, spec.description);
    }
    outln!("\n`otrashi tools --json` prints each tool's JSON Schema in function-calling format.");
    Ok(ExitCode::SUCCESS)
}
