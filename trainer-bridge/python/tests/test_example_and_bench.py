"""The training example learns, and the overhead benchmark reports its figure."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import otrashi
from conftest import REPO_ROOT


def test_train_bandit_improves_the_reward() -> None:
    script = REPO_ROOT / "examples" / "python" / "train_bandit.py"
    out = subprocess.run(
        [sys.executable, str(script), "--episodes", "200", "--seed", "0", "--json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    summary = json.loads(out.stdout)
    assert summary["final_avg_reward"] > summary["initial_avg_reward"], summary
    probs = summary["policy_probabilities"]
    assert max(probs, key=probs.get) in ("blame-latest-deploy", "blame-warning-events")


def test_bench_step_overhead_reports_finite_figures() -> None:
    figures = otrashi._bench_step_overhead_us(n=200, repeats=1)
    assert figures["steps"] == 200
    for key in ("py_step_overhead_us", "py_step_us", "rust_step_us"):
        assert math.isfinite(figures[key])
    assert figures["rust_step_us"] > 0
