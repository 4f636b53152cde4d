//! W3C trace context (`traceparent`): the ids of the span a service opens for a
//! request, continued from the caller's header, so that log lines and exported spans
//! ([`crate::otlp`]) join up across services.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The header name.
pub const TRACEPARENT: &str = "traceparent";

/// The trace a request belongs to and the span this service opens for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits, shared by every service on the request's path.
    pub trace_id: String,
    /// 16 hex digits: this service's span.
    pub span_id: String,
    /// The caller's span, when the request came with a `traceparent`.
    pub parent_span_id: Option<String>,
    /// The sampled flag, passed through unchanged.
    pub flags: String,
}

impl TraceContext {
    /// Continues the caller's trace when `header` is a valid `traceparent`, otherwise
    /// starts a new one (a malformed header must not fail the request).
    pub fn from_header(header: Option<&str>) -> TraceContext {
        match header.and_then(parse) {
            Some((trace_id, parent, flags)) => TraceContext {
                trace_id,
                span_id: hex_id(1),
                parent_span_id: Some(parent),
                flags,
            },
            None => TraceContext {
                trace_id: hex_id(2),
                span_id: hex_id(1),
                parent_span_id: None,
                flags: "01".to_owned(),
            },
        }
    }

    /// The header value to send downstream: same trace, this service's span as parent.
    pub fn child_header(&self) -> String {
        self.header_with_parent(&self.span_id)
    }

    /// The header value to send downstream with `span_id` (a client span of this
    /// service, e.g. one call attempt) as the callee's parent.
    pub fn header_with_parent(&self, span_id: &str) -> String {
        format!("00-{}-{span_id}-{}", self.trace_id, self.flags)
    }

    /// The sampled flag (bit 0 of the trace flags).
    pub fn sampled(&self) -> bool {
        u8::from_str_radix(&self.flags, 16).is_ok_and(|f| f & 1 == 1)
    }
}

/// A fresh span id: 16 hex digits.
pub fn new_span_id() -> String {
    hex_id(1)
}

/// The bytes of a hex id (`[]` when it is not hex, which the ids made here always are).
pub fn id_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .unwrap_or_default()
}

fn parse(h: &str) -> Option<(String, String, String)> {
    let parts: Vec<&str> = h.trim().split('-').collect();
    let [version, trace, parent, flags] = parts.as_slice() else {
        return None;
    };
    let is_hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let all_zero = |s: &str| s.bytes().all(|b| b == b'0');
    if !is_hex(version, 2) || *version == "ff" || !is_hex(trace, 32) || !is_hex(parent, 16) {
        return None;
    }
    if all_zero(trace) || all_zero(parent) || !is_hex(flags, 2) {
        return None;
    }
    Some((
        (*trace).to_owned(),
        (*parent).to_owned(),
        (*flags).to_owned(),
    ))
}

/// `words` random 64-bit words as hex. Ids only need to be unique, not unpredictable,
/// so a splitmix64 stream seeded from the clock and pid is enough.
fn hex_id(words: usize) -> String {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut out = String::with_capacity(words * 16);
    for _ in 0..words {
        let mut seed = STATE.load(Ordering::Relaxed);
        if seed == 0 {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos() as u64;
            seed = now ^ (u64::from(std::process::id()) << 32);
            let _ = STATE.compare_exchange(0, seed, Ordering::Relaxed, Ordering::Relaxed);
        }
        let mut z = STATE
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.push_str(&format!("{:016x}", z.max(1)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continues_a_valid_parent() {
        let h = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cx = TraceContext::from_header(Some(h));
        assert_eq!(cx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(cx.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_ne!(cx.span_id, "00f067aa0ba902b7");
        let child = cx.child_header();
        assert_eq!(
            child,
            format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01", cx.span_id)
        );
    }

    #[test]
    fn ids_become_bytes_and_attempts_become_parents() {
        let cx = TraceContext::from_header(Some(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ));
        assert_eq!(
            id_bytes(&cx.trace_id),
            [
                0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e,
                0x47, 0x36
            ]
        );
        assert_eq!(id_bytes("zz"), Vec::<u8>::new());
        assert!(cx.sampled());
        let attempt = new_span_id();
        assert_eq!(id_bytes(&attempt).len(), 8);
        let h = cx.header_with_parent(&attempt);
        let (_, parent, _) = parse(&h).unwrap();
        assert_eq!(parent, attempt);
    }

    #[test]
    fn starts_a_new_trace_on_missing_or_bad_headers() {
        for bad in [
            None,
            Some("garbage"),
            Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            Some("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
        ] {
            let cx = TraceContext::from_header(bad);
            assert_eq!(cx.trace_id.len(), 32);
            assert_eq!(cx.span_id.len(), 16);
            assert!(cx.parent_span_id.is_none());
            assert!(parse(&cx.child_header()).is_some());
        }
        let a = TraceContext::from_header(None);
        let b = TraceContext::from_header(None);
        assert_ne!(a.trace_id, b.trace_id);
    }
}
