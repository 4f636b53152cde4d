//! The target microservice of the otrashi chaos gym. One binary plays any service of a
//! topology (web, api, worker, cache, database, queue): it burns the configured CPU,
//! holds memory, waits, calls its downstreams over bounded connection pools with
//! timeouts and retries, and exports Prometheus metrics with the simulator's names,
//! JSON logs, and OpenTelemetry spans (a SERVER span per request, a CLIENT span per
//! downstream attempt) exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is
//! set ([`otlp`]), with W3C trace context (`traceparent`) propagated downstream.
//! Code-level faults are failpoints ([`faults`]) that a "deploy" ships through
//! `OTRASHI_FAILPOINTS` or an admin call switches at runtime.
//!
//! A downstream may also be a real Redis (`redis://host:port`): the workload then speaks
//! RESP to it ([`resp`]) — reads are `GET`, writes `SET`, and a `slow_query` is a Lua
//! busy loop sent with `EVAL` that blocks the server for every client.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod client;
pub mod config;
pub mod delay;
pub mod disk;
pub mod faults;
pub mod handler;
pub mod log;
pub mod metrics;
pub mod otlp;
pub mod pool;
pub mod procfs;
pub mod resp;
pub mod server;
pub mod service;
pub mod trace;

pub use config::{Config, ConfigError, Downstream, Kind};
pub use server::{router, serve};
pub use service::Service;
