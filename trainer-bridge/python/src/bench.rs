//! The Rust side of the step-overhead measurement: the same steps as a Python
//! `env.step()`, without Python.

use std::time::Instant;

use crate::core::Core;
use crate::error::BridgeError;
use crate::options::{EnvOptions, Prepared};

/// The cheap action both sides time.
pub const BENCH_ACTION: &str = r#"{"tool": "list_services", "args": {}}"#;

/// Seconds taken by `n` steps of [`BENCH_ACTION`] through [`Core::step_text`] (the
/// path a Python step takes, JSON conversions included), after one reset with seed 0.
pub fn rust_steps(scenario: &str, n: u32) -> Result<f64, BridgeError> {
    let prepared = Prepared::load(&EnvOptions {
        scenario: scenario.to_owned(),
        backend: "sim".into(),
        max_steps: Some(n.saturating_add(1)),
        ..EnvOptions::default()
    })?;
    let mut core = Core::new(&prepared)?;
    core.reset(0)?;
    let started = Instant::now();
    for _ in 0..n {
        let out = core.step_text(BENCH_ACTION)?;
        std::hint::black_box(out);
    }
    Ok(started.elapsed().as_secs_f64())
}
