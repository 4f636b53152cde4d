//! The Python classes: `RustEnv` (one environment) and `RustVecEnv` (N environments
//! stepped in parallel). The pure-Python layer wraps them into Gymnasium's `Env` and
//! `VectorEnv`; they are not meant to be used directly.

use std::path::PathBuf;
use std::time::Duration;

use pyo3::prelude::*;

use otrashi_gym::GymError;

use crate::core::Core;
use crate::error::BridgeError;
use crate::exceptions::to_py;
use crate::options::{EnvOptions, Prepared};
use crate::vector::{Answer, Command, VecCore};

/// One step's result as Python receives it: observation JSON, reward, terminated,
/// truncated, info JSON (the JSON fields are `None` for a skipped sub-environment).
type PyStep = (Option<String>, f64, bool, bool, Option<String>);

fn options(
    scenario: String,
    backend: String,
    max_steps: Option<u32>,
    time_budget_s: Option<f64>,
    rubric: Option<PathBuf>,
) -> EnvOptions {
    EnvOptions {
        scenario,
        backend,
        max_steps,
        time_budget_s,
        rubric,
    }
}

/// A closed gym answers `close` again without complaint, as Gymnasium expects.
fn close_result(r: Result<(), BridgeError>) -> Result<(), BridgeError> {
    match r {
        Err(BridgeError::Gym(GymError::Closed)) => Ok(()),
        other => other,
    }
}

/// One otrashi environment (the Rust core of `otrashi.OtrashiEnv`).
#[pyclass(module = "otrashi._otrashi")]
pub struct RustEnv {
    core: Core,
    scenario: String,
    max_steps: u32,
    time_budget_s: f64,
}

#[pymethods]
impl RustEnv {
    /// Loads the scenario (a bundled name or a file path) and builds the gym.
    #[new]
    #[pyo3(signature = (scenario, backend="sim".to_owned(), max_steps=None, time_budget_s=None, rubric=None))]
    fn new(
        py: Python<'_>,
        scenario: String,
        backend: String,
        max_steps: Option<u32>,
        time_budget_s: Option<f64>,
        rubric: Option<PathBuf>,
    ) -> PyResult<RustEnv> {
        let opts = options(scenario, backend, max_steps, time_budget_s, rubric);
        let built = py.detach(|| {
            let prepared = Prepared::load(&opts)?;
            Ok::<_, BridgeError>((Core::new(&prepared)?, prepared))
        });
        let (core, prepared) = built.map_err(|e| to_py(py, e))?;
        Ok(RustEnv {
            core,
            scenario: prepared.scenario_name().to_owned(),
            max_steps: prepared.max_steps(),
            time_budget_s: prepared.time_budget_s(),
        })
    }

    /// Starts an episode from `seed`; returns (observation JSON, info JSON).
    fn reset(&mut self, py: Python<'_>, seed: u64) -> PyResult<(String, String)> {
        let core = &mut self.core;
        let out = py.detach(|| core.reset(seed)).map_err(|e| to_py(py, e))?;
        Ok((out.observation, out.info))
    }

    /// Runs one action given as text; returns (observation JSON, reward, terminated,
    /// truncated, info JSON).
    fn step(
        &mut self,
        py: Python<'_>,
        action: String,
    ) -> PyResult<(String, f64, bool, bool, String)> {
        let core = &mut self.core;
        let out = py
            .detach(|| core.step_text(&action))
            .map_err(|e| to_py(py, e))?;
        Ok((
            out.observation,
            out.reward,
            out.terminated,
            out.truncated,
            out.info,
        ))
    }

    /// The episode so far as text.
    fn render(&self) -> String {
        self.core.render()
    }

    /// Ends the environment; calling it again is harmless.
    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        close_result(self.core.close()).map_err(|e| to_py(py, e))
    }

    /// The scenario's name.
    #[getter]
    fn scenario(&self) -> &str {
        &self.scenario
    }

    /// The step budget.
    #[getter]
    fn max_steps(&self) -> u32 {
        self.max_steps
    }

    /// The time budget, seconds.
    #[getter]
    fn time_budget_s(&self) -> f64 {
        self.time_budget_s
    }

    /// The current episode's seed, if one was started.
    #[getter]
    fn seed(&self) -> Option<u64> {
        self.core.gym().seed()
    }
}

/// N otrashi environments over the same options, stepped in parallel on Rust threads
/// with the GIL released (the Rust core of `otrashi.OtrashiVectorEnv`).
#[pyclass(module = "otrashi._otrashi")]
pub struct RustVecEnv {
    envs: VecCore,
}

#[pymethods]
impl RustVecEnv {
    /// `num_envs` environments; `threads` defaults to the machine's parallelism;
    /// `parallel_min_work_us` is the estimated work per thread below which a batch of
    /// steps runs on one thread (default 200; 0 always uses the threads).
    #[new]
    #[pyo3(signature = (scenario, num_envs, backend="sim".to_owned(), max_steps=None, time_budget_s=None, rubric=None, threads=None, parallel_min_work_us=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        scenario: String,
        num_envs: usize,
        backend: String,
        max_steps: Option<u32>,
        time_budget_s: Option<f64>,
        rubric: Option<PathBuf>,
        threads: Option<usize>,
        parallel_min_work_us: Option<f64>,
    ) -> PyResult<RustVecEnv> {
        let opts = options(scenario, backend, max_steps, time_budget_s, rubric);
        let threads = threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        let min_work = match parallel_min_work_us {
            None => None,
            Some(us) => Some(
                Duration::try_from_secs_f64(us / 1e6)
                    .map_err(|_| {
                        BridgeError::Config(format!(
                            "parallel_min_work_us must be a number of microseconds >= 0, got {us}"
                        ))
                    })
                    .map_err(|e| to_py(py, e))?,
            ),
        };
        let mut envs = py
            .detach(|| VecCore::new(&Prepared::load(&opts)?, num_envs, threads))
            .map_err(|e| to_py(py, e))?;
        if let Some(work) = min_work {
            envs.set_parallel_min_work(work);
        }
        Ok(RustVecEnv { envs })
    }

    /// One call per sub-environment, in parallel: sub-environment `i` resets from
    /// `seeds[i]` when that is not `None`, else runs `actions[i]` when that is not
    /// `None`, else is left alone. Returns one 5-tuple per sub-environment (a reset's
    /// reward is 0 and its flags false; a skipped one has `None` for the JSON).
    fn run(
        &mut self,
        py: Python<'_>,
        seeds: Vec<Option<u64>>,
        actions: Vec<Option<String>>,
    ) -> PyResult<Vec<PyStep>> {
        if seeds.len() != actions.len() {
            return Err(to_py(
                py,
                BridgeError::Config(format!(
                    "{} seeds but {} actions",
                    seeds.len(),
                    actions.len()
                )),
            ));
        }
        let commands = seeds
            .into_iter()
            .zip(actions)
            .map(|(seed, action)| match (seed, action) {
                (Some(seed), _) => Command::Reset(seed),
                (None, Some(action)) => Command::Step(action),
                (None, None) => Command::Skip,
            })
            .collect();
        let envs = &mut self.envs;
        let answers = py.detach(|| envs.run(commands)).map_err(|e| to_py(py, e))?;
        Ok(answers
            .into_iter()
            .map(|a| match a {
                Answer::Reset(r) => (Some(r.observation), 0.0, false, false, Some(r.info)),
                Answer::Step(s) => (
                    Some(s.observation),
                    s.reward,
                    s.terminated,
                    s.truncated,
                    Some(s.info),
                ),
                Answer::Skipped => (None, 0.0, false, false, None),
            })
            .collect())
    }

    /// Sub-environment `index`'s episode so far as text.
    fn render(&self, index: usize) -> Option<String> {
        self.envs.envs().get(index).map(Core::render)
    }

    /// How many sub-environments.
    fn __len__(&self) -> usize {
        self.envs.len()
    }

    /// Ends every sub-environment; calling it again is harmless.
    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        close_result(self.envs.close()).map_err(|e| to_py(py, e))
    }
}
