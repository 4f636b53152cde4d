//! The `otrashi` command. Thin on purpose: it parses arguments, calls the library crates,
//! and turns their results into output and exit codes.

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
    restore_sigpipe();
    let cli = args::Cli::parse();
    init_logging(&cli.log);
    match commands::dispatch(cli.command) {
        Ok(code) => code,
        Err(err) => exit::report(&err),
    }
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Rust ignores SIGPIPE, so `otrashi … | head` would panic on the first write after the
/// reader left. A command-line tool should end quietly instead, as `cat` does.
fn restore_sigpipe() {
    // SAFETY: resetting a signal disposition to its default at start-up, before any
    // thread exists, has no memory-safety implications.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
