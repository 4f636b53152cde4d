//! A delaying TCP proxy, for network delay on hosts without the netem qdisc: the Docker
//! backend runs it inside the target's container (`otrashi-workload delay-proxy`) and
//! redirects the container's inbound connections to it with iptables, so every request
//! into the service waits `delay` (± `jitter`) on the way in, as a slow link would.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelaySpec {
    /// Port it listens on (all interfaces).
    pub listen: u16,
    /// Local port it forwards to.
    pub target: u16,
    /// One-way delay added to each chunk sent towards the target.
    pub delay: Duration,
    /// Random variation of the delay (uniform, ±).
    pub jitter: Duration,
    /// It exits after this long (so it never outlives the fault).
    pub lifetime: Duration,
}

fn jittered(spec: &DelaySpec) -> Duration {
    let j = spec.jitter.as_micros() as i64;
    if j == 0 {
        return spec.delay;
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let offset = i64::from(nanos) % (2 * j + 1) - j;
    let micros = (spec.delay.as_micros() as i64 + offset).max(0);
    Duration::from_micros(micros as u64)
}

/// Runs the proxy until its lifetime ends.
pub async fn run(spec: DelaySpec) -> std::io::Result<()> {
    let listener = TcpListener::bind(("0.0.0.0", spec.listen)).await?;
    let deadline = tokio::time::sleep(spec.lifetime);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => return Ok(()),
            accepted = listener.accept() => {
                let (inbound, _) = accepted?;
                tokio::spawn(async move {
                    // A connection that fails ends; the caller sees a reset, as it would.
                    let _ = forward(inbound, spec).await;
                });
            }
        }
    }
}

async fn forward(inbound: TcpStream, spec: DelaySpec) -> std::io::Result<()> {
    let outbound = TcpStream::connect(("127.0.0.1", spec.target)).await?;
    let (mut in_r, mut in_w) = inbound.into_split();
    let (mut out_r, mut out_w) = outbound.into_split();
    let up = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = in_r.read(&mut buf).await?;
            if n == 0 {
                return out_w.shutdown().await;
            }
            tokio::time::sleep(jittered(&spec)).await;
            out_w.write_all(&buf[..n]).await?;
        }
    };
    let down = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = out_r.read(&mut buf).await?;
            if n == 0 {
                return in_w.shutdown().await;
            }
            in_w.write_all(&buf[..n]).await?;
        }
    };
    let (a, b) = tokio::join!(up, down);
    a.and(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn requests_through_the_proxy_wait_the_delay() {
        let echo = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let target = echo.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = echo.accept().await.unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
        });
        let probe = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let listen = probe.local_addr().unwrap().port();
        drop(probe);
        let spec = DelaySpec {
            listen,
            target,
            delay: Duration::from_millis(150),
            jitter: Duration::ZERO,
            lifetime: Duration::from_secs(5),
        };
        tokio::spawn(run(spec));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let start = Instant::now();
        let mut c = TcpStream::connect(("127.0.0.1", listen)).await.unwrap();
        c.write_all(b"ping").await.unwrap();
        let mut back = [0u8; 4];
        c.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"ping");
        assert!(
            start.elapsed() >= Duration::from_millis(150),
            "{:?}",
            start.elapsed()
        );
    }
}
