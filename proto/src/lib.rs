//! The `otrashi.v1` protobuf package, compiled with tonic and prost.
//!
//! Two services live here:
//! - `TrainerExchange`: one bidirectional stream per gym worker that carries episodes,
//!   steps and rewards to a trainer, and acknowledgements, credit, policy versions and
//!   human/AI feedback back (`otrashi/v1/trainer.proto` states the delivery contract).
//! - `GymService`: a trainer drives episodes remotely (create, reset, step, close).
//!
//! The `.proto` files are the contract for other languages; they ship in this crate
//! under `otrashi/v1/`.

/// Version 1 of the protocol. Additions keep field numbers; breaking changes go to `v2`.
pub mod v1 {
    #![allow(missing_docs, clippy::all, rust_2018_idioms)]
    tonic::include_proto!("otrashi.v1");
}

/// The `.proto` sources, for tools that want to hand them to another language's
/// generator (the Python example generates its stubs from the files on disk).
pub const PROTO_FILES: [(&str, &str); 2] = [
    (
        "otrashi/v1/trainer.proto",
        include_str!("../otrashi/v1/trainer.proto"),
    ),
    (
        "otrashi/v1/gym.proto",
        include_str!("../otrashi/v1/gym.proto"),
    ),
];
