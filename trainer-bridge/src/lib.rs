//! The trainer bridge: otrashi's connection to RL trainers.
//!
//! - [`link`]: the gym streams every episode (start, steps with `terminated` and
//!   `truncated` kept apart, end with the reward breakdown and ground truth) to a
//!   trainer over one gRPC stream per worker, with sequence numbers, cumulative
//!   acknowledgements, credit-based backpressure and an on-disk [`spool`], so that
//!   trainer restarts, network cuts and gym restarts lose nothing and a trainer that
//!   dedupes by (worker, seq) sees everything once.
//! - [`feedback`]: human and AI feedback sent back by the trainer is stored with its
//!   episode, can be blended into the reward, and exports as DPO pairs and
//!   reward-model samples.
//! - [`gym_service`] and [`serve`]: the gym as a gRPC service a trainer drives remotely
//!   (`otrashi serve`), with an optional bearer token ([`auth`]) and TLS.
//! - [`trainer`]: a small Rust trainer, the reference for the protocol and the
//!   counterpart of the tests and of [`bench::bench_grpc_steps`].
//!
//! The wire format is the `otrashi.v1` protobuf package in the `otrashi-proto` crate.

// Tests may unwrap: a panic there is the failure report.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod auth;
pub mod bench;
pub mod feedback;
pub mod gym_service;
pub mod link;
pub mod serve;
pub mod spool;
pub mod trainer;

pub use bench::bench_grpc_steps;
pub use feedback::{FeedbackRecord, FeedbackStore};
pub use link::{EpisodeMeta, EpisodePermit, LinkConfig, LinkError, TrainerLink};
pub use otrashi_proto as proto;
