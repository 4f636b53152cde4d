//! Agents: anything that turns observations into tool calls, and two built-ins to
//! calibrate the reward against — a heuristic [`Baseline`] that an RL policy should beat
//! and a [`RandomAgent`] that any policy must beat.

mod baseline;
mod random;

pub use baseline::Baseline;
pub use random::RandomAgent;

use crate::observation::Observation;
use crate::tools::Action;

/// An RCA agent, driven one observation at a time.
pub trait Agent {
    /// A short name for score tables.
    fn name(&self) -> &str;

    /// The next tool call, given what the last one returned (the alert, on the first
    /// call of an episode). Called again after an error observation.
    fn act(&mut self, obs: &Observation) -> Action;
}
