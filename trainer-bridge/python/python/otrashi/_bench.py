"""The step-overhead measurement: what a Python ``env.step()`` adds over the same step
called from Rust."""

from __future__ import annotations

import time
from typing import Any

from ._otrashi import BENCH_ACTION, _bench_rust_steps
from .env import OtrashiEnv

_SCENARIO = "shop-cart-memory-leak"


def _python_steps(n: int) -> float:
    env = OtrashiEnv(_SCENARIO, max_steps=n + 1)
    env.reset(seed=0)
    step = env.step
    started = time.perf_counter()
    for _ in range(n):
        step(BENCH_ACTION)
    elapsed = time.perf_counter() - started
    env.close()
    return elapsed


def _bench_step_overhead_us(n: int = 2000, repeats: int = 5) -> dict[str, Any]:
    """Times ``n`` cheap steps (``list_services``) from Python and from Rust, ``repeats``
    times each, alternating (the best of each is kept, to shed scheduling noise on a
    shared machine), and returns the per-step figures in microseconds,
    ``py_step_overhead_us`` being the difference."""
    rust_runs: list[float] = []
    python_runs: list[float] = []
    for _ in range(repeats):
        rust_runs.append(_bench_rust_steps(n, _SCENARIO))
        python_runs.append(_python_steps(n))
    rust, python = min(rust_runs), min(python_runs)
    rust_us = rust / n * 1e6
    py_us = python / n * 1e6
    return {
        "py_step_overhead_us": round(py_us - rust_us, 2),
        "py_step_us": round(py_us, 2),
        "rust_step_us": round(rust_us, 2),
        "steps": n,
        "repeats": repeats,
    }
