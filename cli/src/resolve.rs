//! Turning a command-line argument into a scenario: a path, or a bundled name.

use std::path::Path;

use otrashi_scenarios::diag::Diagnostics;
use otrashi_scenarios::{catalog::closest, library, Scenario};

use crate::exit::InputError;

/// A scenario and where it came from.
pub struct Resolved {
    /// The parsed, validated scenario.
    pub scenario: Scenario,
    /// The file path or `library/<name>.yaml`.
    pub origin: String,
}

/// Why an argument did not give a scenario.
pub enum ResolveError {
    /// The file or bundled scenario exists but is invalid.
    Invalid(Diagnostics),
    /// Nothing of that name exists.
    NotFound(String),
}

impl From<ResolveError> for anyhow::Error {
    fn from(e: ResolveError) -> Self {
        match e {
            ResolveError::Invalid(diags) => {
                InputError(format!("the scenario is not valid:\n{diags}")).into()
            }
            ResolveError::NotFound(msg) => InputError(msg).into(),
        }
    }
}

/// Reads `arg` as a file when one exists at that path, otherwise as the name of a bundled
/// scenario. Invalid files give every diagnostic at once.
pub fn try_scenario(arg: &str) -> Result<Resolved, ResolveError> {
    let path = Path::new(arg);
    if path.exists() {
        let scenario = otrashi_scenarios::parse_file(path).map_err(ResolveError::Invalid)?;
        return Ok(Resolved {
            scenario,
            origin: arg.to_owned(),
        });
    }
    if let Some(bundled) = library::scenarios().iter().find(|s| s.name == arg) {
        let scenario = library::load(bundled.name).map_err(ResolveError::Invalid)?;
        return Ok(Resolved {
            scenario,
            origin: bundled.file.to_owned(),
        });
    }
    let hint = closest(arg, library::scenarios().iter().map(|s| s.name))
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default();
    Err(ResolveError::NotFound(format!(
        "no file `{arg}` and no bundled scenario of that name{hint} (see `otrashi scenarios list`)"
    )))
}

/// As [`try_scenario`], as an `anyhow` error for commands that stop at the first problem.
pub fn scenario(arg: &str) -> anyhow::Result<Resolved> {
    Ok(try_scenario(arg)?)
}

/// Every bundled scenario name, in library order.
pub fn all_bundled() -> Vec<String> {
    library::scenarios()
        .iter()
        .map(|s| s.name.to_owned())
        .collect()
}
