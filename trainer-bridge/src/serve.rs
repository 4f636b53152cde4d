//! Serving the gym over gRPC: `otrashi serve`.
//!
//! Loopback by default: a non-loopback address is refused unless remote access is
//! asked for, because the service runs incidents and reveals ground truth to whoever
//! connects. A bearer token and TLS (with the `tls` feature) protect remote use.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Server;

use otrashi_proto::v1::gym_service_server::GymServiceServer;

use crate::auth::BearerAuth;
use crate::gym_service::GymServer;

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";

/// A server that cannot start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address is not loopback and remote access was not allowed.
    #[error("{addr} is not a loopback address; pass --allow-remote to serve other hosts (and use a token and TLS)")]
    NotLoopback {
        /// The address.
        addr: SocketAddr,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// TLS was asked for and the files are unusable, or this build has no TLS.
    #[error("TLS: {0}")]
    Tls(String),
    /// The server failed.
    #[error("the gRPC server failed")]
    Transport(#[source] tonic::transport::Error),
}

/// PEM files for TLS.
#[derive(Debug, Clone)]
pub struct TlsPem {
    /// The certificate chain.
    pub cert: Vec<u8>,
    /// The private key.
    pub key: Vec<u8>,
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Allow a non-loopback address.
    pub allow_remote: bool,
    /// A bearer token every request must carry.
    pub token: Option<String>,
    /// TLS certificate and key (needs the `tls` feature).
    pub tls: Option<TlsPem>,
    /// Most environments open at once.
    pub max_envs: usize,
}

impl ServeConfig {
    /// Loopback, no token, no TLS.
    pub fn new(listen: SocketAddr) -> Self {
        ServeConfig {
            listen,
            allow_remote: false,
            token: None,
            tls: None,
            max_envs: crate::gym_service::DEFAULT_MAX_ENVS,
        }
    }

    /// Checks the address policy; pure.
    pub fn validate(&self) -> Result<(), ServeError> {
        if !self.listen.ip().is_loopback() && !self.allow_remote {
            return Err(ServeError::NotLoopback { addr: self.listen });
        }
        Ok(())
    }
}

/// Binds the configured address; returns the listener (its local address tells the
/// port when 0 was asked for).
pub async fn bind(config: &ServeConfig) -> Result<TcpListener, ServeError> {
    config.validate()?;
    TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })
}

#[cfg(feature = "tls")]
fn with_tls(builder: Server, tls: Option<&TlsPem>) -> Result<Server, ServeError> {
    use tonic::transport::{Identity, ServerTlsConfig};
    match tls {
        None => Ok(builder),
        Some(pem) => builder
            .tls_config(ServerTlsConfig::new().identity(Identity::from_pem(&pem.cert, &pem.key)))
            .map_err(|e| ServeError::Tls(e.to_string())),
    }
}

#[cfg(not(feature = "tls"))]
fn with_tls(builder: Server, tls: Option<&TlsPem>) -> Result<Server, ServeError> {
    match tls {
        None => Ok(builder),
        Some(_) => Err(ServeError::Tls(
            "this otrashi was built without the `tls` feature; rebuild with `--features tls`"
                .into(),
        )),
    }
}

/// Serves the `GymService` on `listener` until `shutdown` resolves.
pub async fn serve_on(
    listener: TcpListener,
    config: &ServeConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    if config.token.is_none() && !config.listen.ip().is_loopback() {
        tracing::warn!("serving a non-loopback address without a token: anyone who can connect can run episodes");
    }
    let auth = BearerAuth::new(config.token.as_deref());
    let service = GymServiceServer::with_interceptor(GymServer::new(config.max_envs), auth);
    let builder = with_tls(Server::builder().tcp_nodelay(true), config.tls.as_ref())?;
    let mut builder = builder;
    builder
        .add_service(service)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
        .map_err(ServeError::Transport)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_address_needs_permission() {
        let mut c = ServeConfig::new("0.0.0.0:50051".parse().unwrap_or_else(|_| unreachable!()));
        assert!(matches!(c.validate(), Err(ServeError::NotLoopback { .. })));
        c.allow_remote = true;
        assert!(c.validate().is_ok());
        let c = ServeConfig::new("[::1]:50051".parse().unwrap_or_else(|_| unreachable!()));
        assert!(c.validate().is_ok());
    }
}
