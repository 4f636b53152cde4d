//! Sampled traces: a few requests per second at the entry, one span per hop along the
//! call graph, with outcomes drawn from the same shares the metrics count. Calls that
//! never reach the callee (refused, unresolvable, cut off, hung) show as a failed
//! client span on the caller, since the callee never saw them.

use otrashi_scenarios::model::ServiceKind;

use super::engine::Sim;
use super::out::SpanRec;

/// Interned operation names.
#[derive(Debug, Default)]
pub(crate) struct Ops {
    /// Per service: its server operation.
    pub server: Vec<u32>,
    /// Per edge: the callee's operation for this caller (a database names the table).
    pub edge_server: Vec<u32>,
    /// Per edge: the caller's client operation.
    pub edge_client: Vec<u32>,
}

/// How a hop ended, as the caller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    /// The callee answered 5xx.
    Failed,
    /// Timed out (the callee hung or was too slow).
    Timeout,
    /// Never connected (refused, DNS, reset).
    Unreachable,
}

struct Ids {
    trace: u64,
    next: u64,
}

/// Where a server span sits: its parent, start, operation, and extra own time (a slow
/// query the caller sent).
struct Hop {
    parent: Option<u64>,
    start: u64,
    op: u32,
    extra_ms: f64,
}

impl Sim<'_> {
    /// Interns the operation names once per episode.
    pub(crate) fn prepare_ops(&mut self) -> Ops {
        let mut ops = Ops::default();
        for p in &self.prof {
            let name = match p.kind {
                ServiceKind::Cache => "GET".to_owned(),
                ServiceKind::Queue => "publish".to_owned(),
                ServiceKind::Database => "SELECT".to_owned(),
                _ => format!("GET {}", p.route),
            };
            ops.server.push(self.out.operation(&name));
        }
        for e in &self.edges {
            let callee = &self.prof[e.to];
            let server = match callee.kind {
                ServiceKind::Database => format!("SELECT {}", self.prof[e.from].table),
                _ => String::new(),
            };
            let id = if server.is_empty() {
                ops.server[e.to]
            } else {
                self.out.operation(&server)
            };
            ops.edge_server.push(id);
            let client = format!("call {}", callee.name);
            ops.edge_client.push(self.out.operation(&client));
        }
        ops
    }

    /// This tick's sampled traces.
    pub(crate) fn emit_traces(&mut self, t: u32, ops: &Ops) {
        let e = self.entry;
        if self.tick[e].completed <= 0.0 || self.mods[e].frozen {
            return;
        }
        let n = if self.load < 2.0 {
            usize::from(self.rng.traces.chance(self.load / 2.0))
        } else {
            1 + usize::from(self.rng.traces.chance(0.6))
        };
        for k in 0..n {
            let start = u64::from(t) * 1_000_000 + self.rng.traces.below(1_000_000) as u64;
            // Like X-Ray ids, the high bits carry the time, so traces sort by start.
            let trace =
                (u64::from(t) << 40) | ((k as u64) << 32) | (self.rng.traces.next_u64() >> 32);
            let first = self.out.spans.len();
            let mut ids = Ids {
                trace,
                next: trace.rotate_left(17) | 1,
            };
            let hop = Hop {
                parent: None,
                start,
                op: ops.server[e],
                extra_ms: 0.0,
            };
            self.server_span(e, hop, &mut ids, ops);
            self.out.spans[first..].sort_by_key(|s| s.start_us);
        }
    }

    /// The span of service `i` serving one request; returns its duration (µs) and
    /// whether it failed.
    fn server_span(&mut self, i: usize, hop: Hop, ids: &mut Ids, ops: &Ops) -> (u64, bool) {
        let Hop {
            parent,
            start,
            op,
            extra_ms,
        } = hop;
        let span_id = ids.next;
        ids.next = ids.next.wrapping_add(0x9E37_79B9);
        let tk = self.tick[i];
        let m = self.mods[i];
        let p = &self.prof[i];
        let r = &mut self.rng.traces;
        let mult = p.own_mult[r.below(p.own_mult.len())];
        let mut own_ms = p.own_ms * self.jit[i] * mult * tk.qfactor + extra_ms;
        if m.extra.mean > 0.0 {
            let z = self.normals[r.below(self.normals.len())];
            own_ms += (m.extra.mean + m.extra.var.sqrt() * z).max(0.0);
        }
        if m.disk_lat > 0.0 && r.chance(p.write_frac) {
            own_ms += m.disk_lat;
        }
        let mut error: Option<String> = None;
        let mut status = 200u16;
        let pool_wait = tk.pool_fail > 0.0 && r.chance(tk.pool_fail);
        let mut elapsed_us = (own_ms * 300.0) as u64;
        if pool_wait {
            elapsed_us += (super::engine::POOL_TIMEOUT_MS * 1000.0) as u64;
            error = Some("timeout acquiring connection from pool".to_owned());
            status = 500;
        } else {
            let has_cache = p.cache.is_some();
            let mut hit = false;
            let bypass = m.bypass;
            let hit_ratio = p.hit_ratio;
            let mult = m.call_mult.round().max(1.0) as usize;
            for k in 0..self.out_edges[i].len() {
                let e = self.out_edges[i][k];
                let edge = self.edges[e];
                let to_kind = self.prof[edge.to].kind;
                let called = match to_kind {
                    ServiceKind::Cache => !self.rng.traces.chance(bypass),
                    ServiceKind::Database if has_cache => !hit,
                    _ => true,
                };
                if !called {
                    continue;
                }
                for _ in 1..mult {
                    // Retries without back-off: quick attempts the caller gives up on.
                    let s = start + elapsed_us;
                    let d = self.retry_attempt(edge.to, span_id, s, ops.edge_server[e], ids);
                    elapsed_us += d;
                }
                let (d, outcome) = self.call(e, span_id, start + elapsed_us, ids, ops);
                elapsed_us += d;
                if to_kind == ServiceKind::Cache {
                    hit = outcome == Outcome::Ok && self.rng.traces.chance(hit_ratio);
                    continue;
                }
                if outcome != Outcome::Ok && edge.critical {
                    let peer = &self.prof[edge.to].name;
                    let (code, msg) = match outcome {
                        Outcome::Timeout => (504, format!("upstream timeout calling {peer}")),
                        Outcome::Unreachable => (502, format!("upstream {peer} unreachable")),
                        _ => (502, format!("upstream {peer} returned 5xx")),
                    };
                    status = code;
                    error = Some(msg);
                    break;
                }
            }
            elapsed_us += (own_ms * 700.0) as u64;
            if error.is_none() {
                let r = &mut self.rng.traces;
                let disk_fail = m.disk_fill >= 0.99 && r.chance(self.prof[i].write_frac);
                if disk_fail {
                    status = 500;
                    error = Some("write failed: No space left on device".to_owned());
                } else if m.own_err > 0.0 && r.chance(m.own_err) {
                    status = 500;
                    error = Some(match m.own_err_kind {
                        super::state::OwnError::BadConfig => "invalid configuration".to_owned(),
                        _ => "internal error: unhandled exception".to_owned(),
                    });
                } else if m.panic_frac > 0.0 && r.chance(m.panic_frac) {
                    status = 0;
                    error = Some("process exited while handling the request".to_owned());
                }
            }
        }
        let failed = error.is_some();
        let seen = &mut self.traced[i];
        if failed {
            seen.failed = Some(ids.trace);
        } else {
            seen.ok = Some(ids.trace);
        }
        self.out.span(SpanRec {
            trace_id: ids.trace,
            span_id,
            parent_id: parent,
            service: i,
            operation: op,
            start_us: start,
            duration_us: elapsed_us.max(50),
            http_status: status,
            error,
        });
        (elapsed_us.max(50), failed)
    }

    /// One call along edge `e` from a span of the caller; returns the time the caller
    /// spent on it (µs) and the outcome.
    fn call(
        &mut self,
        e: usize,
        parent: u64,
        start: u64,
        ids: &mut Ids,
        ops: &Ops,
    ) -> (u64, Outcome) {
        let edge = self.edges[e];
        let j = edge.to;
        let timeout_us = (self.prof[edge.from].timeout_ms * 1000.0) as u64;
        let hang = self.tick[j].resp.hang;
        let mj = self.mods[j];
        let r = &mut self.rng.traces;
        let u = r.f64();
        let reach = (1.0 - edge.refused - edge.dns - edge.conn_timeout).max(0.0);
        let mut net_ms = 0.4;
        if mj.net_delay > 0.0 {
            let z = self.normals[r.below(self.normals.len())];
            net_ms += (mj.net_delay + mj.net_jitter * z).max(0.0);
        }
        if mj.loss > 0.0 && r.chance(1.0 - libm::pow(1.0 - mj.loss, 4.0)) {
            net_ms += 200.0;
        }
        if mj.bw_kbit > 0.0 {
            net_ms += self.prof[j].resp_kb * 8.0 / mj.bw_kbit * 1000.0;
        }
        let client = |sim: &mut Self, ids: &mut Ids, dur: u64, msg: String| {
            sim.traced[edge.from].failed = Some(ids.trace);
            let span_id = ids.next;
            ids.next = ids.next.wrapping_add(0x9E37_79B9);
            sim.out.span(SpanRec {
                trace_id: ids.trace,
                span_id,
                parent_id: Some(parent),
                service: edge.from,
                operation: ops.edge_client[e],
                start_us: start,
                duration_us: dur,
                http_status: 0,
                error: Some(msg),
            });
        };
        let peer = self.prof[j].name.clone();
        if u < edge.refused {
            client(
                self,
                ids,
                1_000,
                format!("connect {peer}:8080: connection refused"),
            );
            return (1_000, Outcome::Unreachable);
        }
        if u < edge.refused + edge.dns {
            client(self, ids, 3_000, format!("lookup {peer}: no such host"));
            return (3_000, Outcome::Unreachable);
        }
        if u < edge.refused + edge.dns + edge.conn_timeout {
            client(
                self,
                ids,
                timeout_us,
                format!("connect {peer}:8080: connect timeout"),
            );
            return (timeout_us, Outcome::Timeout);
        }
        if u < 1.0 - reach * (1.0 - hang) {
            client(
                self,
                ids,
                timeout_us,
                format!("timeout after {}ms waiting for {peer}", timeout_us / 1000),
            );
            return (timeout_us, Outcome::Timeout);
        }
        if edge.reset > 0.0 && self.rng.traces.chance(edge.reset / reach.max(1e-9)) {
            client(
                self,
                ids,
                (net_ms * 1000.0) as u64 + 200_000,
                format!("read {peer}:8080: connection reset by peer"),
            );
            return ((net_ms * 1000.0) as u64 + 200_000, Outcome::Unreachable);
        }
        let net_us = (net_ms * 1000.0) as u64;
        let extra = if edge.slow_query > 0.0 {
            let z = self.normals[self.rng.traces.below(self.normals.len())];
            (edge.slow_query * (1.0 + 0.3 * z)).max(1.0)
        } else {
            0.0
        };
        let hop = Hop {
            parent: Some(parent),
            start: start + net_us / 2,
            op: ops.edge_server[e],
            extra_ms: extra,
        };
        let (d, failed) = self.server_span(j, hop, ids, ops);
        let total = d + net_us;
        if total > timeout_us {
            client(
                self,
                ids,
                timeout_us,
                format!("timeout after {}ms waiting for {peer}", timeout_us / 1000),
            );
            return (timeout_us, Outcome::Timeout);
        }
        (total, if failed { Outcome::Failed } else { Outcome::Ok })
    }

    /// A retried attempt that the callee serves but the caller has already given up on.
    fn retry_attempt(&mut self, j: usize, parent: u64, start: u64, op: u32, ids: &mut Ids) -> u64 {
        let span_id = ids.next;
        ids.next = ids.next.wrapping_add(0x9E37_79B9);
        let p = &self.prof[j];
        let d = (p.own_ms * self.tick[j].qfactor * 1000.0) as u64 + 50;
        self.out.span(SpanRec {
            trace_id: ids.trace,
            span_id,
            parent_id: Some(parent),
            service: j,
            operation: op,
            start_us: start,
            duration_us: d,
            http_status: 200,
            error: None,
        });
        d / 4 + 50
    }
}
