"""The ansi rendering shows the episode so far, and at the end the report and score."""

from __future__ import annotations

import otrashi
from conftest import SCENARIO, report


def test_render_ansi_shows_alert_steps_report_and_score(env: otrashi.OtrashiEnv) -> None:
    env.reset(seed=2)
    text = env.render()
    assert "=== otrashi episode: shop-cart-memory-leak (seed 2) ===" in text
    assert "# Incident" in text and "alert:" in text
    env.step({"tool": "list_services"})
    env.step("oops")
    text = env.render()
    assert "--- step 1: list_services" in text
    assert "--- step 2: (unreadable action)" in text
    assert "episode over" not in text
    env.step(report("cart"))
    text = env.render()
    assert "=== episode over: Submitted ===" in text
    assert "report:" in text and '"component": "cart"' in text
    assert "score:" in text and "localization" in text
    assert "truth:" in text


def test_render_without_mode_returns_none() -> None:
    env = otrashi.make(SCENARIO)
    env.reset(seed=0)
    assert env.render() is None


def test_render_before_reset() -> None:
    env = otrashi.make(SCENARIO, render_mode="ansi")
    assert "no episode yet" in env.render()
