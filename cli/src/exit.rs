//! Exit codes and the one-line error message a person sees.

use std::process::ExitCode;

/// A check failed: an invalid scenario, a regression, a score under the threshold.
pub const CHECK_FAILED: u8 = 1;
/// Bad usage or input: a missing file, an unknown scenario, a broken rubric.
pub const BAD_INPUT: u8 = 2;
/// The run itself failed: a backend, an agent process, the file system.
pub const RUN_FAILED: u8 = 3;

/// An error caused by what the user gave us, as opposed to a failure while running.
#[derive(Debug)]
pub struct InputError(pub String);

impl std::error::Error for InputError {}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Prints an error chain as one readable message and picks the exit code.
pub fn report(err: &anyhow::Error) -> ExitCode {
    eprintln!("error: {err:#}");
    if err.downcast_ref::<InputError>().is_some() {
        ExitCode::from(BAD_INPUT)
    } else {
        ExitCode::from(RUN_FAILED)
    }
}

/// Writes one line of command output to stdout. A closed stdout ends the process with
/// exit code 141 (what a shell reports for SIGPIPE); any other write error is reported on
/// stderr once, then the process ends with [`RUN_FAILED`].
pub fn stdout_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(i32::from(RUN_FAILED));
    }
}
