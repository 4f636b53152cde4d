//! Why a call into the bridge failed, before it is mapped to a Python exception.

use otrashi_gym::GymError;
use otrashi_scenarios::Diagnostics;

/// A failure of the Rust side of the bridge.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The scenario file or bundled scenario is invalid.
    #[error("the scenario is not valid:\n{0}")]
    Scenario(Diagnostics),
    /// No file and no bundled scenario of that name.
    #[error("{0}")]
    NotFound(String),
    /// An option is out of range, or the rubric cannot be read.
    #[error("{0}")]
    Config(String),
    /// The gym refused the call or the backend failed.
    #[error(transparent)]
    Gym(#[from] GymError),
    /// The runtime that drives the backend's futures could not be started.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// A worker thread of a vector environment panicked.
    #[error("a worker thread of the vector environment panicked")]
    WorkerPanicked,
}

/// The full message, with every cause, as Python shows it.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
