//! One environment in Rust: a gym, the runtime that drives its `reset`, and the
//! conversions to the strings the Python layer hands to Gymnasium.

use otrashi_gym::gym::{Info, ResetOptions, StepOutcome};
use otrashi_gym::observation::Observation;
use otrashi_gym::Gym;

use crate::error::BridgeError;
use crate::json::ascii_json;
use crate::options::Prepared;
use crate::render;

/// What `reset` returns: the observation and the info, both as JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct ResetOut {
    /// The start observation (alert and tools), ASCII JSON.
    pub observation: String,
    /// The info, ASCII JSON.
    pub info: String,
}

/// What `step` returns: the Gymnasium 5-tuple with JSON text for the observation and
/// the info.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOut {
    /// The observation, ASCII JSON.
    pub observation: String,
    /// The step's reward.
    pub reward: f64,
    /// Whether the episode ended with a report.
    pub terminated: bool,
    /// Whether a budget ran out.
    pub truncated: bool,
    /// The info, ASCII JSON.
    pub info: String,
}

/// One environment.
pub struct Core {
    gym: Gym,
    /// `Gym::reset` is async because real backends await containers. A current-thread
    /// runtime drives it on the calling thread: the simulator's futures finish without
    /// waiting, and a backend that does wait is parked on properly rather than spun.
    /// Only the `rt` feature is enabled, so a backend that needs tokio's IO or timer
    /// drivers would have to bring its own; the package offers `sim` only.
    runtime: tokio::runtime::Runtime,
    start: Option<Observation>,
}

impl Core {
    /// A fresh environment.
    pub fn new(prepared: &Prepared) -> Result<Core, BridgeError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(BridgeError::Runtime)?;
        Ok(Core {
            gym: prepared.gym(),
            runtime,
            start: None,
        })
    }

    /// Starts an episode from `seed`. The Python layer always passes a seed (drawn from
    /// the env's own generator when the user gives none), so the observation and the
    /// info depend on the seed alone.
    pub fn reset(&mut self, seed: u64) -> Result<ResetOut, BridgeError> {
        let gym = &mut self.gym;
        let (observation, info) = self
            .runtime
            .block_on(gym.reset(Some(seed), ResetOptions::default()))?;
        let out = ResetOut {
            observation: ascii_json(&observation),
            info: info_json(info),
        };
        self.start = Some(observation);
        Ok(out)
    }

    /// Runs one action written as text (JSON, or an LLM's raw output). Text that is
    /// not an action yields an error observation, not an error.
    pub fn step_text(&mut self, action: &str) -> Result<StepOut, BridgeError> {
        let outcome = self.gym.step_text(action)?;
        Ok(step_out(outcome))
    }

    /// The episode so far as text.
    pub fn render(&self) -> String {
        render::episode(&self.gym, self.start.as_ref())
    }

    /// Ends the environment; later calls fail.
    pub fn close(&mut self) -> Result<(), BridgeError> {
        let gym = &mut self.gym;
        self.runtime.block_on(gym.close())?;
        Ok(())
    }

    /// The gym, for reading its state.
    pub fn gym(&self) -> &Gym {
        &self.gym
    }
}

fn step_out(outcome: StepOutcome) -> StepOut {
    StepOut {
        observation: ascii_json(&outcome.observation),
        reward: outcome.reward,
        terminated: outcome.terminated,
        truncated: outcome.truncated,
        info: info_json(outcome.info),
    }
}

/// The info as JSON, with an episode id derived from the scenario and the seed: the
/// gym's own id mixes in the clock, and Gymnasium's determinism checks compare infos.
fn info_json(mut info: Info) -> String {
    info.episode_id = format!("ep-{}-{}", info.scenario, info.seed);
    ascii_json(&info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::EnvOptions;

    fn core(max_steps: u32) -> Core {
        let prepared = Prepared::load(&EnvOptions {
            scenario: "shop-cart-memory-leak".into(),
            backend: "sim".into(),
            max_steps: Some(max_steps),
            ..EnvOptions::default()
        })
        .unwrap();
        Core::new(&prepared).unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_strings() {
        let mut a = core(5);
        let mut b = core(5);
        assert_eq!(a.reset(3).unwrap(), b.reset(3).unwrap());
        let action = r#"{"tool": "list_services", "args": {}}"#;
        let sa = a.step_text(action).unwrap();
        assert_eq!(sa, b.step_text(action).unwrap());
        assert!(sa
            .info
            .contains("\"episode_id\":\"ep-shop-cart-memory-leak-3\""));
        assert_ne!(a.reset(4).unwrap(), b.reset(3).unwrap());
    }

    #[test]
    fn bad_text_is_an_error_observation_and_render_shows_it() {
        let mut c = core(2);
        c.reset(1).unwrap();
        let out = c.step_text("not json").unwrap();
        assert!(out.observation.contains("\"kind\":\"error\""));
        assert!(!out.terminated && !out.truncated);
        let out = c.step_text(r#"{"tool": "get_events"}"#).unwrap();
        assert!(out.truncated);
        let text = c.render();
        assert!(text.contains("# Incident"), "{text}");
        assert!(text.contains("step 2"), "{text}");
        assert!(text.contains("step_budget"), "{text}");
        assert!(matches!(
            c.step_text("{}"),
            Err(BridgeError::Gym(otrashi_gym::GymError::EpisodeOver { .. }))
        ));
    }
}
