//! The crate's error type.

use std::path::PathBuf;

/// What can go wrong talking to the engine or preparing what it needs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No engine answers on the socket (not installed, not running, no permission).
    #[error("no Docker engine answers at {socket}")]
    Unreachable {
        /// The socket tried.
        socket: String,
        /// bollard's error.
        #[source]
        source: bollard::errors::Error,
    },
    /// An engine API call failed.
    #[error("Docker API call {call} failed")]
    Api {
        /// What was being done (`create_container otrashi-ep1-cart`).
        call: String,
        /// bollard's error.
        #[source]
        source: bollard::errors::Error,
    },
    /// The engine reported an error while building an image.
    #[error("building image {tag} failed: {message}")]
    Build {
        /// The tag being built.
        tag: String,
        /// The engine's message (last build output included).
        message: String,
    },
    /// A local file needed for an image could not be read.
    #[error("cannot read {path}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// A build context entry could not be written (a path tar cannot hold).
    #[error("cannot add {path} to the build context")]
    Archive {
        /// The path inside the context.
        path: String,
        /// tar's error.
        #[source]
        source: std::io::Error,
    },
    /// A helper program (`ldd`, `tc`, `ip`) could not be run.
    #[error("cannot run {program}")]
    Spawn {
        /// The program.
        program: String,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// `ldd` did not list the libraries of a binary.
    #[error("ldd {binary} failed: {message}")]
    Ldd {
        /// The binary.
        binary: PathBuf,
        /// ldd's stderr or the unparsable line.
        message: String,
    },
    /// A blocking helper task died (panicked or was cancelled).
    #[error("background task failed")]
    Task(#[source] tokio::task::JoinError),
    /// A program an image needs is not installed on this host.
    #[error("{program} is not installed on this host (looked in PATH); {hint}")]
    NotInstalled {
        /// The program.
        program: String,
        /// How to get it.
        hint: String,
    },
    /// A container did not reach the state expected in time.
    #[error("container {container}: {message}")]
    Container {
        /// Container name.
        container: String,
        /// What was observed.
        message: String,
    },
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn api(call: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> Error {
    let call = call.into();
    move |source| Error::Api { call, source }
}
