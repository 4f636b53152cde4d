"""Errors map to otrashi's exception hierarchy."""

from __future__ import annotations

from pathlib import Path

import pytest

import otrashi
from conftest import REPO_ROOT, SCENARIO


def test_hierarchy() -> None:
    assert issubclass(otrashi.ScenarioError, otrashi.OtrashiError)
    assert issubclass(otrashi.ScenarioError, ValueError)
    assert issubclass(otrashi.ConfigError, ValueError)
    assert issubclass(otrashi.BackendError, otrashi.OtrashiError)
    assert issubclass(otrashi.EpisodeError, otrashi.OtrashiError)
    assert issubclass(otrashi.EpisodeError, RuntimeError)
    assert otrashi.ScenarioError.__module__ == "otrashi"


def test_bad_file_raises_scenario_error_with_line(tmp_path: Path) -> None:
    source = (REPO_ROOT / "scenarios" / "library" / f"{SCENARIO}.yaml").read_text()
    lines = source.splitlines()
    # Misspell the first fault's kind: the diagnostic must point at that line.
    index = next(i for i, line in enumerate(lines) if line.strip() == "kind: code.memory_leak")
    lines[index] = lines[index].replace("code.memory_leak", "code.memory_leek")
    bad = tmp_path / "bad.yaml"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(otrashi.ScenarioError) as caught:
        otrashi.make(bad)
    err = caught.value
    line = index + 1
    assert f"bad.yaml:{line}:" in str(err)
    assert f"bad.yaml:{line}:" in err.text
    assert any(d["line"] == line and d["severity"] == "error" for d in err.diagnostics)
    assert "code.memory_leak" in err.text  # the did-you-mean hint


def test_yaml_syntax_error_is_a_scenario_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("apiVersion: otrashi/v1\nkind: Scenario\nmetadata: [unclosed\n")
    with pytest.raises(ValueError) as caught:
        otrashi.make(bad)
    assert isinstance(caught.value, otrashi.ScenarioError)
    assert "broken.yaml:" in str(caught.value)


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(otrashi.ScenarioError, match="did you mean `shop-cart-memory-leak`"):
        otrashi.make("shop-cart-memory-leek")


def test_bad_options_raise_config_error() -> None:
    with pytest.raises(otrashi.ConfigError):
        otrashi.make(SCENARIO, max_steps=0)
    with pytest.raises(otrashi.ConfigError):
        otrashi.make(SCENARIO, time_budget_s=-1.0)
    with pytest.raises(otrashi.ConfigError):
        otrashi.make(SCENARIO, backend="kubernetes")
    with pytest.raises(otrashi.ConfigError):
        otrashi.make(SCENARIO, render_mode="human")
    with pytest.raises(otrashi.ConfigError):
        otrashi.make(SCENARIO, rubric="/nonexistent/rubric.toml")


def test_step_before_reset_is_an_episode_error() -> None:
    env = otrashi.make(SCENARIO)
    with pytest.raises(otrashi.EpisodeError, match="before reset"):
        env.step({"tool": "list_services"})


def test_step_after_the_end_is_an_episode_error() -> None:
    env = otrashi.make(SCENARIO, max_steps=1)
    env.reset(seed=0)
    *_, truncated, _ = env.step({"tool": "list_services"})
    assert truncated
    with pytest.raises(otrashi.EpisodeError, match="episode is over"):
        env.step({"tool": "list_services"})
    env.reset(seed=0)  # a new episode is fine


def test_close_twice_is_harmless_and_use_after_close_fails() -> None:
    env = otrashi.make(SCENARIO)
    env.reset(seed=0)
    env.close()
    env.close()
    with pytest.raises(otrashi.EpisodeError, match="closed"):
        env.reset(seed=0)
