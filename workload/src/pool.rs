//! A bounded pool of HTTP/1.1 connections to one downstream. The bound is what makes
//! `connection_leak` real: a leaked slot stays taken, and once every slot is gone the
//! callers wait and fail with `timeout acquiring connection`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use prometheus_client::metrics::gauge::Gauge;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

type Sender = SendRequest<Full<Bytes>>;

/// Why a connection could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// Every slot stayed taken for the whole wait.
    #[error("timeout acquiring connection to {peer} (pool of {size} exhausted)")]
    AcquireTimeout {
        /// The downstream.
        peer: String,
        /// The pool size.
        size: usize,
    },
    /// The peer's host name does not resolve.
    #[error("dial tcp: lookup {host}: no such host")]
    NoSuchHost {
        /// The name that failed to resolve.
        host: String,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
    /// Name lookup and TCP connect did not finish by the deadline.
    #[error("dial tcp {authority}: connect timeout")]
    ConnectTimeout {
        /// `host:port`.
        authority: String,
    },
    /// TCP connect failed (refused, unreachable).
    #[error("dial tcp {authority}: {source}")]
    Connect {
        /// `host:port`.
        authority: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP/1.1 handshake failed.
    #[error("HTTP handshake with {authority} failed")]
    Handshake {
        /// `host:port`.
        authority: String,
        /// hyper's error.
        #[source]
        source: hyper::Error,
    },
}

/// Connections to one downstream, at most `size` at a time.
#[derive(Debug)]
pub struct Pool {
    peer: String,
    authority: String,
    size: usize,
    slots: Arc<Semaphore>,
    idle: Mutex<Vec<(Sender, Instant)>>,
    max_age: Duration,
    // Leaked connections are kept (not dropped) so their sockets stay open too, as a
    // forgotten connection object would in a real program.
    leaked: Mutex<Vec<Sender>>,
    in_use: Gauge,
}

impl Pool {
    /// A pool of `size` connections to `authority` (`host:port`); `in_use` is the gauge
    /// it keeps up to date. Connections older than `max_age` are closed instead of
    /// reused, so the peer's name is looked up again when the next one is dialled.
    pub fn new(
        peer: &str,
        authority: &str,
        size: usize,
        max_age: Duration,
        in_use: Gauge,
    ) -> Arc<Pool> {
        Arc::new(Pool {
            peer: peer.to_owned(),
            authority: authority.to_owned(),
            size,
            slots: Arc::new(Semaphore::new(size)),
            idle: Mutex::new(Vec::new()),
            max_age,
            leaked: Mutex::new(Vec::new()),
            in_use,
        })
    }

    /// The pool size.
    pub fn size(&self) -> usize {
        self.size
    }

    /// `host:port` of the peer.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Slots taken right now, leaked ones included.
    pub fn in_use(&self) -> usize {
        self.size - self.slots.available_permits()
    }

    /// Waits until `deadline` for a slot, then reuses an idle connection or dials one,
    /// also by `deadline` (a partitioned peer makes connects hang, not fail).
    pub async fn acquire(self: &Arc<Self>, deadline: Instant) -> Result<Conn, PoolError> {
        let timed_out = || PoolError::AcquireTimeout {
            peer: self.peer.clone(),
            size: self.size,
        };
        let slot = self.slots.clone().acquire_owned();
        let permit = match tokio::time::timeout_at(deadline.into(), slot).await {
            Ok(Ok(permit)) => permit,
            // The semaphore is never closed; treat it like exhaustion if it ever is.
            Ok(Err(_)) | Err(_) => return Err(timed_out()),
        };
        self.in_use.inc();
        let mut conn = Conn {
            pool: self.clone(),
            sender: None,
            born: Instant::now(),
            permit: Some(permit),
            reusable: false,
        };
        let reused = {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let mut found = None;
            // Expired ones are dropped, which closes them.
            while let Some((s, born)) = idle.pop() {
                if !s.is_closed() && s.is_ready() && born.elapsed() < self.max_age {
                    found = Some((s, born));
                    break;
                }
            }
            found
        };
        conn.sender = Some(match reused {
            Some((s, born)) => {
                conn.born = born;
                s
            }
            None => match tokio::time::timeout_at(deadline.into(), self.dial()).await {
                Ok(dialled) => dialled?,
                Err(_) => {
                    return Err(PoolError::ConnectTimeout {
                        authority: self.authority.clone(),
                    })
                }
            },
        });
        Ok(conn)
    }

    async fn dial(&self) -> Result<Sender, PoolError> {
        let mut addrs = tokio::net::lookup_host(&self.authority)
            .await
            .map_err(|source| PoolError::NoSuchHost {
                host: self
                    .authority
                    .rsplit_once(':')
                    .map_or(&*self.authority, |(h, _)| h)
                    .to_owned(),
                source,
            })?;
        let addr = addrs.next().ok_or_else(|| PoolError::NoSuchHost {
            host: self.authority.clone(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no addresses"),
        })?;
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|source| PoolError::Connect {
                authority: self.authority.clone(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|source| PoolError::Handshake {
                authority: self.authority.clone(),
                source,
            })?;
        // The connection task ends when the sender is dropped or the peer closes.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }
}

/// A taken pool slot with its connection. Dropping it frees the slot; the connection
/// goes back to the pool only after [`Conn::reusable`] (a failed exchange may have left
/// it mid-response).
#[derive(Debug)]
pub struct Conn {
    pool: Arc<Pool>,
    sender: Option<Sender>,
    born: Instant,
    permit: Option<OwnedSemaphorePermit>,
    reusable: bool,
}

impl Conn {
    /// The connection, to send one request on.
    pub fn sender(&mut self) -> Option<&mut Sender> {
        self.sender.as_mut()
    }

    /// Marks the connection as clean after a complete exchange.
    pub fn reusable(&mut self) {
        self.reusable = true;
    }

    /// The `connection_leak` bug: the slot is never given back.
    pub fn leak(mut self) {
        if let Some(permit) = self.permit.take() {
            permit.forget();
        }
        if let Some(sender) = self.sender.take() {
            self.pool
                .leaked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(sender);
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return; // leaked
        };
        if let Some(sender) = self.sender.take().filter(|_| self.reusable) {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((sender, self.born));
        }
        self.pool.in_use.dec();
        drop(permit);
    }
}
