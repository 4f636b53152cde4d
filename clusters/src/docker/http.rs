//! A minimal HTTP/1.1 client over a plain TCP stream, enough for the load generator,
//! `/metrics` scrapes, health checks and the workload's admin endpoint. The gym only
//! talks to its own containers on loopback, so a full client (and its compile time) is
//! not worth it.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body (bodies here are small: metrics text, JSON).
    pub body: String,
}

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Connecting, writing or reading failed.
    #[error("HTTP request to 127.0.0.1:{port}{path} failed")]
    Io {
        /// The port.
        port: u16,
        /// The path.
        path: String,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// No complete response within the deadline.
    #[error("HTTP request to 127.0.0.1:{port}{path} timed out after {after:?}")]
    Timeout {
        /// The port.
        port: u16,
        /// The path.
        path: String,
        /// The deadline.
        after: Duration,
    },
    /// The response was not HTTP.
    #[error("malformed HTTP response from 127.0.0.1:{port}{path}")]
    Malformed {
        /// The port.
        port: u16,
        /// The path.
        path: String,
    },
}

/// Sends one request to `127.0.0.1:port` and reads the whole response (the request
/// asks the server to close, so the body ends at EOF).
pub async fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    timeout: Duration,
) -> Result<Response, HttpError> {
    let io = |source| HttpError::Io {
        port,
        path: path.to_owned(),
        source,
    };
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.map_err(io)?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(k);
            head.push_str(": ");
            head.push_str(v);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        head.push_str(body);
        stream.write_all(head.as_bytes()).await.map_err(io)?;
        let mut raw = Vec::with_capacity(4096);
        stream.read_to_end(&mut raw).await.map_err(io)?;
        Ok(raw)
    };
    let raw = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| HttpError::Timeout {
            port,
            path: path.to_owned(),
            after: timeout,
        })??;
    parse(&raw).ok_or_else(|| HttpError::Malformed {
        port,
        path: path.to_owned(),
    })
}

/// `GET path` with no headers.
pub async fn get(port: u16, path: &str, timeout: Duration) -> Result<Response, HttpError> {
    request(port, "GET", path, &[], "", timeout).await
}

fn parse(raw: &[u8]) -> Option<Response> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_owned()
    };
    Some(Response { status, body })
}

fn dechunk(mut rest: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(after.get(..size)?);
        rest = after.get(size..)?.strip_prefix("\r\n")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_bodies() {
        let plain = parse(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").unwrap();
        assert_eq!((plain.status, plain.body.as_str()), (200, "ok"));
        let chunked =
            parse(b"HTTP/1.1 500 Internal\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
                .unwrap();
        assert_eq!((chunked.status, chunked.body.as_str()), (500, "abcde"));
        assert!(parse(b"garbage").is_none());
    }
}
