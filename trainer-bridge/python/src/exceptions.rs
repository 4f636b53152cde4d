//! The Python exception hierarchy, defined here and re-exported by `otrashi`:
//!
//! - `OtrashiError(Exception)`: the base of every error the package raises.
//! - `ScenarioError(OtrashiError, ValueError)`: the scenario is invalid or unknown;
//!   `.text` holds the file:line:column diagnostics, `.diagnostics` them as dicts.
//! - `ConfigError(OtrashiError, ValueError)`: an option is out of range or the rubric
//!   cannot be read.
//! - `BackendError(OtrashiError, RuntimeError)`: the backend failed to run an episode.
//! - `EpisodeError(OtrashiError, RuntimeError)`: misuse — step before reset, step
//!   after the episode ended, use after close.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};

use otrashi_gym::GymError;
use otrashi_scenarios::Diagnostics;

use crate::error::{chain, BridgeError};

struct Types {
    base: Py<PyType>,
    scenario: Py<PyType>,
    config: Py<PyType>,
    backend: Py<PyType>,
    episode: Py<PyType>,
}

static TYPES: PyOnceLock<Types> = PyOnceLock::new();

fn make_type<'py>(
    py: Python<'py>,
    name: &str,
    bases: Bound<'py, PyTuple>,
    doc: &str,
) -> PyResult<Py<PyType>> {
    let namespace = PyDict::new(py);
    namespace.set_item("__doc__", doc)?;
    namespace.set_item("__module__", "otrashi")?;
    // `type(name, bases, dict)`: pyo3's own exception types take one base, and
    // `ScenarioError` must also be a `ValueError` for callers that catch that.
    let ty = py
        .get_type::<PyType>()
        .call1((name, bases, namespace))?
        .cast_into::<PyType>()?;
    Ok(ty.unbind())
}

fn types(py: Python<'_>) -> PyResult<&Types> {
    TYPES.get_or_try_init(py, || {
        let exception = py.get_type::<pyo3::exceptions::PyException>();
        let value_error = py.get_type::<pyo3::exceptions::PyValueError>();
        let runtime_error = py.get_type::<PyRuntimeError>();
        let base = make_type(
            py,
            "OtrashiError",
            PyTuple::new(py, [exception])?,
            "Base of every error otrashi raises.",
        )?;
        let b = base.bind(py).clone();
        Ok::<_, PyErr>(Types {
            scenario: make_type(
                py,
                "ScenarioError",
                PyTuple::new(py, [b.clone(), value_error.clone()])?,
                "The scenario is invalid or unknown. `.text` holds the diagnostics \
                 (file:line:column, message, excerpt, hint); `.diagnostics` them as dicts.",
            )?,
            config: make_type(
                py,
                "ConfigError",
                PyTuple::new(py, [b.clone(), value_error])?,
                "An option is out of range, or the rubric file cannot be read.",
            )?,
            backend: make_type(
                py,
                "BackendError",
                PyTuple::new(py, [b.clone(), runtime_error.clone()])?,
                "The backend failed to run an episode.",
            )?,
            episode: make_type(
                py,
                "EpisodeError",
                PyTuple::new(py, [b, runtime_error])?,
                "The environment was misused: step before reset, step after the episode \
                 ended, or use after close.",
            )?,
            base,
        })
    })
}

/// Adds the exception types to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let t = types(py)?;
    m.add("OtrashiError", t.base.bind(py))?;
    m.add("ScenarioError", t.scenario.bind(py))?;
    m.add("ConfigError", t.config.bind(py))?;
    m.add("BackendError", t.backend.bind(py))?;
    m.add("EpisodeError", t.episode.bind(py))?;
    Ok(())
}

/// The Python exception for a bridge error.
pub fn to_py(py: Python<'_>, err: BridgeError) -> PyErr {
    match build(py, &err) {
        Ok(e) => e,
        // Building the exception failed (out of memory, say): report that failure with
        // the original message rather than lose it.
        Err(e) => PyRuntimeError::new_err(format!("{}: {e}", chain(&err))),
    }
}

fn build(py: Python<'_>, err: &BridgeError) -> PyResult<PyErr> {
    let t = types(py)?;
    let message = chain(err);
    let ty = match err {
        BridgeError::Scenario(diags) => return scenario_error(py, t, &message, diags),
        BridgeError::NotFound(_) => &t.scenario,
        BridgeError::Config(_) => &t.config,
        BridgeError::Gym(g) => match g {
            GymError::NotReset | GymError::EpisodeOver { .. } | GymError::Closed => &t.episode,
            GymError::Sample(_) => &t.scenario,
            GymError::Backend { .. } | GymError::RunAndTeardown { .. } => &t.backend,
        },
        BridgeError::Runtime(_) | BridgeError::WorkerPanicked => &t.backend,
    };
    Ok(PyErr::from_type(ty.bind(py).clone(), (message,)))
}

fn scenario_error(
    py: Python<'_>,
    t: &Types,
    message: &str,
    diags: &Diagnostics,
) -> PyResult<PyErr> {
    let value = t.scenario.bind(py).call1((message,))?;
    let list = PyList::empty(py);
    for d in diags.iter() {
        let item = PyDict::new(py);
        item.set_item("origin", &d.origin)?;
        item.set_item("line", d.line)?;
        item.set_item("column", d.column)?;
        item.set_item("severity", d.severity.as_str())?;
        item.set_item("message", &d.message)?;
        item.set_item("hint", d.hint.as_deref())?;
        item.set_item("location", d.location())?;
        list.append(item)?;
    }
    value.setattr("diagnostics", list)?;
    value.setattr("text", diags.to_string())?;
    Ok(PyErr::from_value(value))
}
