//! The otrashi gym: the episode loop, the backend extension point, the telemetry model
//! and its queries, the agent's tool API, the RCA report schema, and scoring.
//!
//! It is backend-neutral: the simulator, Docker and Kubernetes backends implement
//! [`Backend`]; everything an agent can see goes through [`telemetry::Telemetry`].
//!
//! The loop, from the outside in:
//! - [`Gym`] (`gym`): `reset` samples an incident, runs it on a backend and tears the
//!   environment down; `step` answers one tool call; a report ends the episode with a
//!   reward from the [`Scorer`] (`scorer`), and only then is the truth revealed.
//! - [`tools`]: the fixed tool set, its JSON Schemas (also in the OpenAI
//!   function-calling format) and lenient [`Action`] parsing; [`query`] answers each
//!   tool from the telemetry, every result bounded and annotated when cut.
//! - [`agents`]: the [`Agent`] trait and two built-ins to calibrate rewards against, a
//!   heuristic `Baseline` and a `RandomAgent`.
//! - [`episode`] runs one whole episode with an in-process agent; [`artifacts`] writes
//!   its directory (scenario, truth, telemetry, trajectory, report, score).
//! - [`dataset`] lays incidents out as datasets (native, RCAEval, chat rows for LLM
//!   trainers); [`html`] renders an episode directory or an eval as one HTML page.

// Tests may unwrap: a panic there is the failure report.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod agents;
pub mod artifacts;
pub mod backend;
pub mod context;
pub mod dataset;
pub mod episode;
pub mod gym;
pub mod html;
pub mod observation;
pub mod query;
pub mod scorer;
pub mod telemetry;
pub mod tools;

pub use agents::Agent;
pub use backend::{Backend, BackendError, Env};
pub use context::EpisodeContext;
pub use episode::{run_episode, run_episode_with, EpisodeResult};
pub use gym::{Gym, GymConfig, GymError};
pub use observation::Observation;
pub use scorer::Scorer;
pub use telemetry::Telemetry;
pub use tools::Action;
pub mod report;
pub mod score;

#[cfg(test)]
pub(crate) mod fixture;
