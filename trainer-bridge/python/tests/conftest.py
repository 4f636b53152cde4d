"""Shared fixtures of the otrashi Python tests."""

from __future__ import annotations

from pathlib import Path

import pytest

import otrashi

#: The repository's root (tests/ -> python/ -> trainer-bridge/ -> root).
REPO_ROOT = Path(__file__).resolve().parents[3]

#: A small, fast scenario for tests that need just one.
SCENARIO = "shop-cart-memory-leak"


@pytest.fixture
def env() -> otrashi.OtrashiEnv:
    e = otrashi.make(SCENARIO, max_steps=5, render_mode="ansi")
    yield e
    e.close()


def report(component: str) -> dict:
    """A submit_report action naming one component."""
    return {
        "tool": "submit_report",
        "args": {"root_causes": [{"component": component, "confidence": 0.7}]},
    }
