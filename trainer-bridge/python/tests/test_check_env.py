"""Gymnasium's own checker passes, without warnings, on every bundled scenario."""

from __future__ import annotations

import warnings

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env

import otrashi


def test_every_bundled_scenario_is_registered() -> None:
    names = otrashi.scenarios()
    assert len(names) >= 31
    for name in names:
        assert f"otrashi/{name}" in gymnasium.registry


@pytest.mark.parametrize("name", otrashi.scenarios())
def test_check_env_passes_without_warnings(name: str) -> None:
    env = gymnasium.make(f"otrashi/{name}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    env.close()
    assert [str(w.message) for w in caught] == []


def test_check_env_passes_in_ansi_mode() -> None:
    env = gymnasium.make("otrashi/chain-db-disk-full", render_mode="ansi")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []


def test_gymnasium_make_wraps_and_steps() -> None:
    env = gymnasium.make("otrashi/shop-oom-kill", max_steps=4)
    obs, info = env.reset(seed=3)
    assert obs in env.observation_space
    assert info["seed"] == 3 and info["max_steps"] == 4
    obs, reward, terminated, truncated, info = env.step('{"tool": "get_events"}')
    assert obs in env.observation_space
    assert isinstance(reward, float) and not terminated and not truncated
    env.close()
