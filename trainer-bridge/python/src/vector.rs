//! N environments stepped in parallel on scoped threads.

use std::thread;
use std::time::{Duration, Instant};

use crate::core::{Core, ResetOut, StepOut};
use crate::error::BridgeError;
use crate::options::Prepared;

/// What one sub-environment is asked to do in a vector call.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Start an episode from this seed.
    Reset(u64),
    /// Run this action.
    Step(String),
    /// Nothing (a sub-environment left out of a partial reset).
    Skip,
}

/// What one sub-environment answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// It reset.
    Reset(ResetOut),
    /// It stepped.
    Step(StepOut),
    /// It was skipped.
    Skipped,
}

/// Spawning a scoped thread costs tens of microseconds, more than most tool calls: a
/// batch is split across threads only when its estimated work per thread exceeds this.
const PARALLEL_MIN_WORK: Duration = Duration::from_micros(200);

/// N environments over the same options.
pub struct VecCore {
    envs: Vec<Core>,
    threads: usize,
    /// A running mean of the time one step takes, to decide whether a batch of steps is
    /// worth spreading over threads. Resets (a whole simulation) always are.
    step_cost: Duration,
    /// [`PARALLEL_MIN_WORK`], or zero in tests to force threads.
    parallel_min_work: Duration,
}

impl VecCore {
    /// `num_envs` environments, run on at most `threads` threads (at least one).
    pub fn new(
        prepared: &Prepared,
        num_envs: usize,
        threads: usize,
    ) -> Result<VecCore, BridgeError> {
        if num_envs == 0 {
            return Err(BridgeError::Config("num_envs must be at least 1".into()));
        }
        let envs = (0..num_envs)
            .map(|_| Core::new(prepared))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(VecCore {
            envs,
            threads: threads.clamp(1, num_envs),
            step_cost: Duration::ZERO,
            parallel_min_work: PARALLEL_MIN_WORK,
        })
    }

    /// Sets the estimated work per thread below which a batch of steps runs on the
    /// calling thread (default 200 µs); zero spreads every batch over threads.
    pub fn set_parallel_min_work(&mut self, work: Duration) {
        self.parallel_min_work = work;
    }

    /// How many environments.
    pub fn len(&self) -> usize {
        self.envs.len()
    }

    /// The environments, for rendering and inspection.
    pub fn envs(&self) -> &[Core] {
        &self.envs
    }

    /// Runs one command per environment, environments split into contiguous chunks, one
    /// chunk per thread. Each environment's result depends only on its own commands, so
    /// the answers equal those of running the environments one after the other.
    pub fn run(&mut self, commands: Vec<Command>) -> Result<Vec<Answer>, BridgeError> {
        if commands.len() != self.envs.len() {
            return Err(BridgeError::Config(format!(
                "expected {} actions or seeds, got {}",
                self.envs.len(),
                commands.len()
            )));
        }
        let chunk = self.envs.len().div_ceil(self.threads);
        let steps = commands
            .iter()
            .filter(|c| matches!(c, Command::Step(_)))
            .count();
        let resets = commands.iter().any(|c| matches!(c, Command::Reset(_)));
        let per_thread =
            self.step_cost * u32::try_from(steps.div_ceil(self.threads)).unwrap_or(u32::MAX);
        if self.threads == 1 || (!resets && per_thread < self.parallel_min_work) {
            let started = Instant::now();
            let answers = run_chunk(&mut self.envs, commands);
            if !resets && steps > 0 {
                self.observe_step_cost(
                    started.elapsed() / u32::try_from(steps).unwrap_or(u32::MAX),
                );
            }
            return answers.into_iter().collect();
        }
        let started = Instant::now();
        let mut commands = commands.into_iter();
        let results: Vec<Vec<Result<Answer, BridgeError>>> = thread::scope(|scope| {
            let handles: Vec<_> = self
                .envs
                .chunks_mut(chunk)
                .map(|envs| {
                    let cmds: Vec<Command> = commands.by_ref().take(envs.len()).collect();
                    scope.spawn(move || run_chunk(envs, cmds))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| vec![Err(BridgeError::WorkerPanicked)])
                })
                .collect()
        });
        if !resets && steps > 0 {
            // Wall time times threads over steps: the cost of one step, spawning included.
            let threads = u32::try_from(self.threads).unwrap_or(u32::MAX);
            let steps = u32::try_from(steps).unwrap_or(u32::MAX);
            self.observe_step_cost(started.elapsed() * threads / steps);
        }
        results.into_iter().flatten().collect()
    }

    fn observe_step_cost(&mut self, cost: Duration) {
        self.step_cost = if self.step_cost.is_zero() {
            cost
        } else {
            (self.step_cost * 3 + cost) / 4
        };
    }

    /// Closes every environment.
    pub fn close(&mut self) -> Result<(), BridgeError> {
        self.envs.iter_mut().try_for_each(Core::close)
    }
}

fn run_chunk(envs: &mut [Core], commands: Vec<Command>) -> Vec<Result<Answer, BridgeError>> {
    envs.iter_mut()
        .zip(commands)
        .map(|(env, cmd)| match cmd {
            Command::Reset(seed) => env.reset(seed).map(Answer::Reset),
            Command::Step(action) => env.step_text(&action).map(Answer::Step),
            Command::Skip => Ok(Answer::Skipped),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::EnvOptions;

    #[test]
    fn parallel_equals_sequential() {
        let prepared = Prepared::load(&EnvOptions {
            scenario: "chain-db-disk-full".into(),
            backend: "sim".into(),
            max_steps: Some(3),
            ..EnvOptions::default()
        })
        .unwrap();
        let mut par = VecCore::new(&prepared, 5, 3).unwrap();
        // Every batch on threads, however cheap its steps.
        par.set_parallel_min_work(Duration::ZERO);
        let mut seq = VecCore::new(&prepared, 5, 1).unwrap();
        let resets: Vec<Command> = (0..5).map(|i| Command::Reset(10 + i)).collect();
        assert_eq!(par.run(resets.clone()).unwrap(), seq.run(resets).unwrap());
        for round in 0..3 {
            let steps: Vec<Command> = (0..5)
                .map(|i| match (i + round) % 3 {
                    0 => Command::Step(r#"{"tool": "list_services"}"#.into()),
                    1 => Command::Step(r#"{"tool": "get_events", "args": {}}"#.into()),
                    _ => Command::Step("garbage".into()),
                })
                .collect();
            assert_eq!(par.run(steps.clone()).unwrap(), seq.run(steps).unwrap());
        }
        assert!(par.run(vec![Command::Skip]).is_err());
    }
}
