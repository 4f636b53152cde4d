//! A small RESP2 client for the real Redis that plays a datastore on container backends:
//! the codec (commands out, replies in, partial reads handled), one connection, and a
//! bounded pool with deadlines, whose errors read like a real client's.
//!
//! Only what the workload and the gym need: commands are arrays of bulk strings, replies
//! are any RESP2 type. No pipelining, no pub/sub, no cluster redirections.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use prometheus_client::metrics::gauge::Gauge;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Largest bulk string a reply may carry (Redis' own `proto-max-bulk-len` is 512 MB;
/// the gym's values are small, so a larger one is a broken stream).
pub const MAX_BULK: usize = 64 << 20;
/// Largest number of elements in one array reply.
pub const MAX_ARRAY: usize = 1 << 20;
/// Deepest nesting of arrays in one reply (`COMMAND DOCS` nests 4 deep).
pub const MAX_DEPTH: usize = 16;

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `+OK`.
    Simple(String),
    /// `-ERR message`: the server refused the command.
    Error(String),
    /// `:42`.
    Integer(i64),
    /// `$3\r\nfoo`, or `$-1` (nil).
    Bulk(Option<Vec<u8>>),
    /// `*2\r\n…`, or `*-1` (nil).
    Array(Option<Vec<Value>>),
}

impl Value {
    /// The value as text, for simple and bulk strings.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Simple(s) => Some(s.clone()),
            Value::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    /// Whether this is a nil bulk string or nil array.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Bulk(None) | Value::Array(None))
    }
}

/// A reply that is not valid RESP2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("protocol error: {0}")]
pub struct ProtocolError(pub String);

/// Encodes a command as an array of bulk strings (what `redis-cli` sends).
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Parses one reply from the front of `buf`: `Ok(None)` when more bytes are needed,
/// else the reply and the bytes it took.
pub fn parse(buf: &[u8]) -> Result<Option<(Value, usize)>, ProtocolError> {
    parse_at(buf, 0, 0)
}

fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(at..)?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..end], at + end + 2))
}

fn number(text: &[u8]) -> Result<i64, ProtocolError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            ProtocolError(format!(
                "expected an integer, found {:?}",
                String::from_utf8_lossy(text)
            ))
        })
}

fn length(n: i64, max: usize, what: &str) -> Result<Option<usize>, ProtocolError> {
    match n {
        -1 => Ok(None),
        n if n < -1 => Err(ProtocolError(format!("negative {what} length {n}"))),
        n => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if n > max {
                Err(ProtocolError(format!(
                    "{what} of {n} exceeds the limit of {max}"
                )))
            } else {
                Ok(Some(n))
            }
        }
    }
}

fn parse_at(buf: &[u8], at: usize, depth: usize) -> Result<Option<(Value, usize)>, ProtocolError> {
    let Some(&tag) = buf.get(at) else {
        return Ok(None);
    };
    let Some((head, next)) = line(buf, at + 1) else {
        // A header line longer than any valid one means a broken stream, not a slow one.
        if buf.len() - at > 64 && !matches!(tag, b'+' | b'-') {
            return Err(ProtocolError("header line too long".to_owned()));
        }
        return Ok(None);
    };
    let text = || String::from_utf8_lossy(head).into_owned();
    match tag {
        b'+' => Ok(Some((Value::Simple(text()), next))),
        b'-' => Ok(Some((Value::Error(text()), next))),
        b':' => Ok(Some((Value::Integer(number(head)?), next))),
        b'$' => match length(number(head)?, MAX_BULK, "bulk string")? {
            None => Ok(Some((Value::Bulk(None), next))),
            Some(n) => {
                let end = next + n;
                if buf.len() < end + 2 {
                    return Ok(None);
                }
                if &buf[end..end + 2] != b"\r\n" {
                    return Err(ProtocolError(
                        "bulk string not terminated by CRLF".to_owned(),
                    ));
                }
                Ok(Some((Value::Bulk(Some(buf[next..end].to_vec())), end + 2)))
            }
        },
        b'*' => {
            if depth >= MAX_DEPTH {
                return Err(ProtocolError(format!(
                    "arrays nested deeper than {MAX_DEPTH}"
                )));
            }
            match length(number(head)?, MAX_ARRAY, "array")? {
                None => Ok(Some((Value::Array(None), next))),
                Some(n) => {
                    let mut items = Vec::with_capacity(n.min(1024));
                    let mut pos = next;
                    for _ in 0..n {
                        match parse_at(buf, pos, depth + 1)? {
                            Some((v, p)) => {
                                items.push(v);
                                pos = p;
                            }
                            None => return Ok(None),
                        }
                    }
                    Ok(Some((Value::Array(Some(items)), pos)))
                }
            }
        }
        other => Err(ProtocolError(format!(
            "unknown reply type byte {:?}",
            char::from(other)
        ))),
    }
}

/// Why a command got no reply.
#[derive(Debug, thiserror::Error)]
pub enum RespError {
    /// Every pool slot stayed taken for the whole wait.
    #[error("timeout acquiring connection to {peer} (pool of {size} exhausted)")]
    AcquireTimeout {
        /// The datastore.
        peer: String,
        /// The pool size.
        size: usize,
    },
    /// The host name does not resolve.
    #[error("dial tcp: lookup {host}: no such host")]
    NoSuchHost {
        /// The name that failed to resolve.
        host: String,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
    /// Name lookup and connect did not finish by the deadline.
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
    /// No reply by the deadline.
    #[error("i/o timeout: {peer} did not reply to {command} within {timeout_ms} ms")]
    Timeout {
        /// The datastore.
        peer: String,
        /// The command's name.
        command: String,
        /// The deadline.
        timeout_ms: u64,
    },
    /// The connection broke (reset, closed mid-reply).
    #[error("connection to {peer} broken: {source}")]
    Io {
        /// The datastore.
        peer: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The reply was not RESP2.
    #[error("reply from {peer} unreadable")]
    Protocol {
        /// The datastore.
        peer: String,
        /// What was wrong.
        #[source]
        source: ProtocolError,
    },
    /// The server answered with an error (`ERR`, `BUSY`, `OOM`, `MISCONF` …).
    #[error("{peer} replied {message}")]
    Server {
        /// The datastore.
        peer: String,
        /// The error line, e.g. `BUSY Redis is busy running a script`.
        message: String,
    },
}

/// One connection to a RESP server.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    /// Wraps a connected stream.
    pub fn new(stream: TcpStream) -> Connection {
        let _ = stream.set_nodelay(true);
        Connection {
            stream,
            buf: Vec::with_capacity(4096),
        }
    }

    /// Sends one command and reads its reply (an error reply is `Ok(Value::Error)`).
    /// Not cancellation-safe as a connection: drop it if the future is dropped.
    pub async fn command(
        &mut self,
        args: &[&[u8]],
    ) -> std::io::Result<Result<Value, ProtocolError>> {
        self.stream.write_all(&encode(args)).await?;
        loop {
            match parse(&self.buf) {
                Ok(Some((v, used))) => {
                    self.buf.drain(..used);
                    return Ok(Ok(v));
                }
                Ok(None) => {}
                Err(e) => return Ok(Err(e)),
            }
            let mut chunk = [0u8; 8192];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed by the server",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// At most `size` connections to one RESP server, reused while healthy.
#[derive(Debug)]
pub struct RespPool {
    peer: String,
    authority: String,
    size: usize,
    slots: Arc<Semaphore>,
    idle: Mutex<Vec<Connection>>,
    // Leaked connections stay open, as a forgotten client object's socket would.
    leaked: Mutex<Vec<Connection>>,
    in_use: Gauge,
}

impl RespPool {
    /// A pool of `size` connections to `authority` (`host:port`), keeping `in_use` up
    /// to date.
    pub fn new(peer: &str, authority: &str, size: usize, in_use: Gauge) -> Arc<RespPool> {
        Arc::new(RespPool {
            peer: peer.to_owned(),
            authority: authority.to_owned(),
            size: size.max(1),
            slots: Arc::new(Semaphore::new(size.max(1))),
            idle: Mutex::new(Vec::new()),
            leaked: Mutex::new(Vec::new()),
            in_use,
        })
    }

    /// `host:port` of the server.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Slots taken right now, leaked ones included.
    pub fn in_use(&self) -> usize {
        self.size - self.slots.available_permits()
    }

    /// Runs one command under `timeout` (slot wait, connect, write and reply). An error
    /// reply is [`RespError::Server`]. With `leak`, the connection of a successful
    /// command is never given back (the `connection_leak` bug).
    pub async fn command(
        &self,
        args: &[&[u8]],
        timeout: Duration,
        leak: bool,
    ) -> Result<Value, RespError> {
        let deadline = Instant::now() + timeout;
        let permit = match tokio::time::timeout_at(
            deadline.into(),
            self.slots.clone().acquire_owned(),
        )
        .await
        {
            Ok(Ok(p)) => p,
            Ok(Err(_)) | Err(_) => {
                return Err(RespError::AcquireTimeout {
                    peer: self.peer.clone(),
                    size: self.size,
                })
            }
        };
        let mut slot = Slot::new(self, permit);
        let reused = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut conn = match reused {
            Some(c) => c,
            None => match tokio::time::timeout_at(deadline.into(), self.dial()).await {
                Ok(c) => c?,
                Err(_) => {
                    return Err(RespError::ConnectTimeout {
                        authority: self.authority.clone(),
                    })
                }
            },
        };
        let command = args
            .first()
            .map(|a| String::from_utf8_lossy(a).to_uppercase())
            .unwrap_or_default();
        let reply = match tokio::time::timeout_at(deadline.into(), conn.command(args)).await {
            // The connection is dropped: its reply may still arrive.
            Err(_) => {
                return Err(RespError::Timeout {
                    peer: self.peer.clone(),
                    command,
                    timeout_ms: timeout.as_millis() as u64,
                })
            }
            Ok(Err(source)) => {
                return Err(RespError::Io {
                    peer: self.peer.clone(),
                    source,
                })
            }
            Ok(Ok(Err(source))) => {
                return Err(RespError::Protocol {
                    peer: self.peer.clone(),
                    source,
                })
            }
            Ok(Ok(Ok(v))) => v,
        };
        if leak {
            slot.leak();
            self.leaked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
        } else {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
        }
        match reply {
            Value::Error(message) => Err(RespError::Server {
                peer: self.peer.clone(),
                message,
            }),
            v => Ok(v),
        }
    }

    async fn dial(&self) -> Result<Connection, RespError> {
        let mut addrs = tokio::net::lookup_host(&self.authority)
            .await
            .map_err(|source| RespError::NoSuchHost {
                host: self
                    .authority
                    .rsplit_once(':')
                    .map_or(&*self.authority, |(h, _)| h)
                    .to_owned(),
                source,
            })?;
        let addr = addrs.next().ok_or_else(|| RespError::NoSuchHost {
            host: self.authority.clone(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no addresses"),
        })?;
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|source| RespError::Connect {
                authority: self.authority.clone(),
                source,
            })?;
        Ok(Connection::new(stream))
    }
}

/// A taken slot: counted in `in_use` until dropped, unless leaked.
struct Slot<'a> {
    pool: &'a RespPool,
    permit: Option<OwnedSemaphorePermit>,
}

impl<'a> Slot<'a> {
    fn new(pool: &'a RespPool, permit: OwnedSemaphorePermit) -> Slot<'a> {
        pool.in_use.inc();
        Slot {
            pool,
            permit: Some(permit),
        }
    }

    fn leak(&mut self) {
        if let Some(p) = self.permit.take() {
            p.forget();
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if self.permit.take().is_some() {
            self.pool.in_use.dec();
        }
    }
}

/// Sends one command on a fresh connection (the gym's `INFO` and `SLOWLOG` polls).
pub async fn oneshot(
    authority: &str,
    args: &[&[u8]],
    timeout: Duration,
) -> Result<Value, RespError> {
    RespPool::new(authority, authority, 1, Gauge::default())
        .command(args, timeout, false)
        .await
}

/// The Lua busy loop a `slow_query` sends with `EVAL`: it spins on the server's clock
/// for `ARGV[1]` ms. Redis runs scripts to completion on its one command thread, so
/// every other client of the server waits behind it, and the slow log records the
/// `EVAL` with its duration.
pub const SLOW_SCRIPT: &str = "local ms = tonumber(ARGV[1]) \
local t = redis.call('TIME') local start = t[1] * 1000 + math.floor(t[2] / 1000) \
local n = 0 \
repeat n = n + 1 t = redis.call('TIME') until t[1] * 1000 + math.floor(t[2] / 1000) - start >= ms \
return n";

/// Parses an `INFO` reply into `(field, value)` pairs (sections and comments dropped).
pub fn info_fields(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        assert_eq!(
            encode(&[b"SET", b"k", b"v\r\n"]),
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\n\r\n".to_vec()
        );
        assert_eq!(encode(&[]), b"*0\r\n".to_vec());
    }

    #[test]
    fn every_reply_type_parses() {
        let all = b"*6\r\n+OK\r\n-ERR wrong\r\n:-42\r\n$3\r\na\r\n\r\n$-1\r\n*-1\r\nrest";
        let (v, used) = parse(all).unwrap().unwrap();
        assert_eq!(&all[used..], b"rest");
        assert_eq!(
            v,
            Value::Array(Some(vec![
                Value::Simple("OK".into()),
                Value::Error("ERR wrong".into()),
                Value::Integer(-42),
                Value::Bulk(Some(b"a\r\n".to_vec())),
                Value::Bulk(None),
                Value::Array(None),
            ]))
        );
        assert!(Value::Bulk(None).is_nil());
        assert_eq!(
            parse(b"$0\r\n\r\n").unwrap().unwrap().0,
            Value::Bulk(Some(vec![]))
        );
    }

    #[test]
    fn every_prefix_of_a_reply_asks_for_more() {
        let full = b"*2\r\n$5\r\nhello\r\n*1\r\n:7\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse(&full[..cut]).unwrap(), None, "prefix of {cut} bytes");
        }
        assert_eq!(parse(full).unwrap().unwrap().1, full.len());
    }

    #[test]
    fn broken_streams_are_errors() {
        for bad in [
            &b"?x\r\n"[..],
            b":12a\r\n",
            b"$-2\r\n",
            b"$3\r\nabcXY",
            b"$99999999999\r\n",
            b"*-5\r\n",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let deep = "*1\r\n".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes()).is_err());
        assert!(parse(&[b'$'; 100]).is_err(), "an endless header line");
    }

    #[test]
    fn info_text_becomes_fields() {
        let f = info_fields("# Stats\r\ntotal_commands_processed:12\r\nkeyspace_hits:3\r\n\r\n# Clients\r\nconnected_clients:2\r\n");
        assert_eq!(f.len(), 3);
        assert_eq!(f[1], ("keyspace_hits".to_owned(), "3".to_owned()));
    }
}
