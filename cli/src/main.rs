//! The `otrashi` command. Thin on purpose: it parses arguments, calls the library crates,
//! and turns their results into output and exit codes.

/// `println!` for command output: when the reader of stdout has gone (`otrashi … |
/// head`), the command ends quietly with exit code 141, as a program killed by SIGPIPE
/// would, instead of panicking. (SIGPIPE itself stays ignored: an agent that closes
/// its stdin early must not kill otrashi.)
macro_rules! outln {
    () => { $crate::exit::stdout_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::exit::stdout_line(format_args!($($arg)*)) };
}

mod agent_process;
mod args;
mod commands;
mod exit;
mod output;
mod resolve;
mod scoreboard;
mod session;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    init_logging(&cli.log);
    match commands::dispatch(cli.command) {
        Ok(code) => code,
        Err(err) => exit::report(&err),
    }
}

fn init_logging(filter: &str) {
    let mut env_filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // kube's client logs every failed request as an error, which the Kubernetes
    // backend already reports (or expects: a scrape of a pod that is down); keep it
    // quiet unless asked for by name.
    if !filter.contains("kube") {
        if let Ok(quiet) = "kube_client=off".parse() {
            env_filter = env_filter.add_directive(quiet);
        }
    }
    let filter = env_filter;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
