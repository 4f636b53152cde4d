//! The connection to the Docker engine.

use bollard::Docker;

use crate::error::{Error, Result};

/// Seconds an API call may take before bollard gives up (image builds stream, so this
/// bounds the gap between build messages rather than the whole build).
const API_TIMEOUT_SECS: u64 = 120;

/// A Docker engine reached over its unix socket.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    socket: String,
}

impl Engine {
    /// Connects to `DOCKER_HOST` when it is a `unix://` URL, else `/var/run/docker.sock`,
    /// checks the engine answers, and agrees on an API version both sides speak (bollard
    /// defaults to a newer API than older engines such as 20.10 accept).
    pub async fn connect() -> Result<Engine> {
        let socket = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| h.starts_with("unix://"))
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned());
        Engine::connect_to(&socket).await
    }

    /// Connects to the unix socket at `socket` (`unix:///path` or `/path`).
    pub async fn connect_to(socket: &str) -> Result<Engine> {
        let unreachable = |source| Error::Unreachable {
            socket: socket.to_owned(),
            source,
        };
        let docker =
            Docker::connect_with_unix(socket, API_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
                .map_err(unreachable)?;
        docker.ping().await.map_err(unreachable)?;
        let docker = docker.negotiate_version().await.map_err(unreachable)?;
        Ok(Engine {
            docker,
            socket: socket.to_owned(),
        })
    }

    /// Wraps a client made elsewhere (another transport, a test double behind a socket);
    /// `socket` only labels it in messages.
    pub fn from_docker(docker: Docker, socket: impl Into<String>) -> Engine {
        Engine {
            docker,
            socket: socket.into(),
        }
    }

    /// The bollard client, for calls this crate does not wrap.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The socket this engine was reached on.
    pub fn socket(&self) -> &str {
        &self.socket
    }

    /// The engine's version and API version, e.g. `("20.10.24", "1.41")`.
    pub async fn version(&self) -> Result<(String, String)> {
        let v = self
            .docker
            .version()
            .await
            .map_err(crate::error::api("version"))?;
        Ok((
            v.version.unwrap_or_default(),
            v.api_version.unwrap_or_default(),
        ))
    }
}
