//! Docker engine client for otrashi's Docker backend: images built from local artifacts
//! only (`FROM scratch` plus a binary and the libraries `ldd` lists, tagged by content
//! hash), labelled networks and containers, a sweep that removes leftovers, and a host
//! probe of what traffic shaping and firewalling can do here.
//!
//! Nothing here depends on the gym: the backend (episode logic, fault injection) builds
//! on these pieces.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod context;
pub mod engine;
pub mod error;
pub mod image;
pub mod labels;
pub mod ldd;
pub mod probe;
pub mod resources;
pub mod sweep;

pub use context::BuildContext;
pub use engine::Engine;
pub use error::{Error, Result};
pub use image::{
    build, build_redis_image, build_workload_image, remove_image, remove_images, BuildProgress,
    BuiltImage,
};
pub use probe::{probe, Finding, HostReport};
pub use resources::{
    container_health, create_network, create_network_labelled, remove_container, remove_network,
    run_container, ContainerHealth, ContainerSpec, Started,
};
pub use sweep::{sweep, SweepFilter, Swept};
