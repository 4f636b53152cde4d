//! What `otrashi.make` is given, turned into a scenario, a backend and a gym config.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use otrashi_clusters::sim::SimBackend;
use otrashi_gym::score::Rubric;
use otrashi_gym::scorer::RubricScorer;
use otrashi_gym::{Backend, Gym, GymConfig};
use otrashi_scenarios::{catalog::closest, library, Scenario};

use crate::error::BridgeError;

/// The options of one environment, as `otrashi.make` receives them.
#[derive(Debug, Clone, Default)]
pub struct EnvOptions {
    /// A bundled scenario's name, or a path to a scenario file.
    pub scenario: String,
    /// The backend's name; only `sim` exists in the Python package.
    pub backend: String,
    /// Tool calls allowed per episode (the gym's default when `None`).
    pub max_steps: Option<u32>,
    /// Wall-clock seconds the agent may take per episode (the gym's default when `None`).
    pub time_budget_s: Option<f64>,
    /// A rubric TOML file (the default rubric when `None`).
    pub rubric: Option<PathBuf>,
}

/// Everything needed to build gyms for one set of options: parsed once, cloned into
/// every gym of a vector environment.
#[derive(Clone)]
pub struct Prepared {
    scenario: Scenario,
    backend: Arc<dyn Backend>,
    config: GymConfig,
}

impl Prepared {
    /// Reads the scenario and rubric and checks the options.
    pub fn load(opts: &EnvOptions) -> Result<Prepared, BridgeError> {
        let scenario = resolve_scenario(&opts.scenario)?;
        let backend: Arc<dyn Backend> = match opts.backend.as_str() {
            "sim" => Arc::new(SimBackend::new()),
            other => {
                return Err(BridgeError::Config(format!(
                    "unknown backend `{other}`; the Python package runs the `sim` backend"
                )))
            }
        };
        let rubric = match &opts.rubric {
            Some(path) => Rubric::load(path).map_err(|e| BridgeError::Config(e.to_string()))?,
            None => Rubric::default(),
        };
        let mut config = GymConfig::new(Arc::new(RubricScorer::new(rubric)));
        if let Some(max_steps) = opts.max_steps {
            if max_steps == 0 {
                return Err(BridgeError::Config("max_steps must be at least 1".into()));
            }
            config.max_steps = max_steps;
        }
        if let Some(secs) = opts.time_budget_s {
            config.time_budget = Duration::try_from_secs_f64(secs)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    BridgeError::Config(format!(
                        "time_budget_s must be a positive number of seconds, got {secs}"
                    ))
                })?;
        }
        Ok(Prepared {
            scenario,
            backend,
            config,
        })
    }

    /// The scenario's name.
    pub fn scenario_name(&self) -> &str {
        &self.scenario.metadata.name
    }

    /// The step budget.
    pub fn max_steps(&self) -> u32 {
        self.config.max_steps
    }

    /// The time budget, seconds.
    pub fn time_budget_s(&self) -> f64 {
        self.config.time_budget.as_secs_f64()
    }

    /// A fresh gym.
    pub fn gym(&self) -> Gym {
        Gym::new(
            self.scenario.clone(),
            Arc::clone(&self.backend),
            self.config.clone(),
        )
    }
}

/// Reads `arg` as a file when one exists at that path, otherwise as a bundled name — the
/// same rule as the command line.
fn resolve_scenario(arg: &str) -> Result<Scenario, BridgeError> {
    let path = Path::new(arg);
    if path.exists() {
        return otrashi_scenarios::parse_file(path).map_err(BridgeError::Scenario);
    }
    if library::scenarios().iter().any(|s| s.name == arg) {
        return library::load(arg).map_err(BridgeError::Scenario);
    }
    let hint = closest(arg, library::scenarios().iter().map(|s| s.name))
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default();
    Err(BridgeError::NotFound(format!(
        "no file `{arg}` and no bundled scenario of that name{hint}"
    )))
}

/// The names of the bundled scenarios, in library order.
pub fn bundled_names() -> Vec<&'static str> {
    library::scenarios().iter().map(|s| s.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(scenario: &str) -> EnvOptions {
        EnvOptions {
            scenario: scenario.into(),
            backend: "sim".into(),
            ..EnvOptions::default()
        }
    }

    #[test]
    fn bundled_names_and_defaults_load() {
        let p = Prepared::load(&opts("shop-oom-kill")).unwrap();
        assert_eq!(p.scenario_name(), "shop-oom-kill");
        assert_eq!(p.max_steps(), 30);
        assert_eq!(p.time_budget_s(), 600.0);
        assert_eq!(bundled_names().len(), library::scenarios().len());
    }

    #[test]
    fn bad_options_are_config_errors() {
        let mut o = opts("shop-oom-kill");
        o.max_steps = Some(0);
        assert!(matches!(Prepared::load(&o), Err(BridgeError::Config(_))));
        let mut o = opts("shop-oom-kill");
        o.time_budget_s = Some(f64::NAN);
        assert!(matches!(Prepared::load(&o), Err(BridgeError::Config(_))));
        let mut o = opts("shop-oom-kill");
        o.backend = "docker".into();
        assert!(
            matches!(Prepared::load(&o), Err(BridgeError::Config(m)) if m.contains("`docker`"))
        );
    }

    #[test]
    fn unknown_names_suggest_the_closest() {
        match Prepared::load(&opts("shop-oom-kil")) {
            Err(BridgeError::NotFound(m)) => assert!(m.contains("`shop-oom-kill`"), "{m}"),
            _ => panic!("expected NotFound"),
        }
    }
}
