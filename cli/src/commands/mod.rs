//! One module per command.

mod bench;
mod docker;
mod eval;
mod faults;
mod feedback;
mod generate;
mod kubernetes;
mod report;
mod run;
mod scenarios;
mod serve;
mod tools;
pub mod trainer_link;

pub use kubernetes::kube_progress;

use std::process::ExitCode;

use crate::args::Command;

/// Runs a command and returns its exit code; errors are reported by the caller.
pub fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Scenarios(cmd) => scenarios::run(cmd),
        Command::Faults(args) => faults::run(&args),
        Command::Tools(args) => tools::run(&args),
        Command::Run(args) => run::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Bench(args) => bench::run(&args),
        Command::Generate(args) => generate::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Feedback(cmd) => feedback::run(cmd),
        Command::Doctor(args) => docker::doctor(&args),
        Command::Sweep(args) => docker::sweep(&args),
        Command::Images(cmd) => docker::images(&cmd),
        Command::Kind(cmd) => kubernetes::kind(&cmd),
    }
}

/// Prints a JSON value on stdout, pretty.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
