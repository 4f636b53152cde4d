//! The Rust core of the `otrashi` Python package (`otrashi._otrashi`): environments,
//! a parallel vector of them, the tool specs, and the exception hierarchy. The
//! Gymnasium classes themselves are pure Python (`python/otrashi/`), thin wrappers over
//! the classes here.
//!
//! Observations and infos cross the boundary as ASCII JSON text: one string per step
//! is cheaper to hand to Python than a tree of objects, and it is exactly what an LLM
//! agent consumes.

// Tests may unwrap: a panic there is the failure report.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod bench;
mod classes;
mod core;
mod error;
mod exceptions;
mod json;
mod options;
mod render;
mod vector;

use pyo3::prelude::*;

/// The names of the bundled scenarios.
#[pyfunction]
fn scenario_names() -> Vec<&'static str> {
    options::bundled_names()
}

/// The agent's tools in the OpenAI function-calling format, as JSON text.
#[pyfunction]
fn tool_specs_json() -> String {
    json::ascii_json(&otrashi_gym::tools::function_calling_json())
}

/// Seconds taken by `n` cheap steps (`list_services`) called from Rust, the baseline of
/// the Python step-overhead measurement.
#[pyfunction]
#[pyo3(signature = (n, scenario="shop-cart-memory-leak".to_owned()))]
fn _bench_rust_steps(py: Python<'_>, n: u32, scenario: String) -> PyResult<f64> {
    py.detach(|| bench::rust_steps(&scenario, n))
        .map_err(|e| exceptions::to_py(py, e))
}

/// The Rust core of the otrashi Gymnasium environments.
#[pymodule]
fn _otrashi(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<classes::RustEnv>()?;
    m.add_class::<classes::RustVecEnv>()?;
    m.add_function(wrap_pyfunction!(scenario_names, m)?)?;
    m.add_function(wrap_pyfunction!(tool_specs_json, m)?)?;
    m.add_function(wrap_pyfunction!(_bench_rust_steps, m)?)?;
    m.add("BENCH_ACTION", bench::BENCH_ACTION)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    exceptions::register(m)
}
