"""Seeds: the same seed gives the same episode; unseeded resets continue the env's own
generator, as Gymnasium requires."""

from __future__ import annotations

import json

import otrashi
from conftest import SCENARIO

ACTIONS = [
    {"tool": "list_services", "args": {}},
    '{"tool": "get_events", "args": {}}',
    {"tool": "query_metrics", "args": {"metric": "up"}},
    "not an action",
]


def _episode(env: otrashi.OtrashiEnv, seed: int | None) -> list:
    out = [env.reset(seed=seed)]
    for action in ACTIONS:
        out.append(env.step(action))
    return out


def test_same_seed_same_observations_and_infos() -> None:
    a = otrashi.make(SCENARIO, max_steps=10)
    b = otrashi.make(SCENARIO, max_steps=10)
    assert _episode(a, 11) == _episode(b, 11)
    # And again on the same env: nothing carries over between episodes.
    assert _episode(a, 11) == _episode(b, 11)


def test_different_seeds_differ() -> None:
    env = otrashi.make(SCENARIO)
    first, _ = env.reset(seed=1)
    second, _ = env.reset(seed=2)
    assert first != second


def test_the_seed_is_the_episode_seed_and_ids_derive_from_it() -> None:
    env = otrashi.make(SCENARIO)
    _, info = env.reset(seed=42)
    assert info["seed"] == 42
    assert info["episode_id"] == f"ep-{SCENARIO}-42"
    # Nothing in the observation depends on the clock or the process.
    obs, _ = env.reset(seed=42)
    assert "ep-" not in obs


def test_unseeded_resets_continue_the_env_generator() -> None:
    a = otrashi.make(SCENARIO)
    b = otrashi.make(SCENARIO)
    a.reset(seed=5)
    b.reset(seed=5)
    for _ in range(3):
        obs_a, info_a = a.reset()
        obs_b, info_b = b.reset()
        assert obs_a == obs_b and info_a == info_b
        assert info_a["seed"] != 5


def test_unseeded_first_reset_draws_a_fresh_seed() -> None:
    seeds = {otrashi.make(SCENARIO).reset()[1]["seed"] for _ in range(3)}
    assert len(seeds) == 3


def test_observations_are_json_text_in_the_space() -> None:
    env = otrashi.make("platform-notifications-memory-leak")
    obs, _ = env.reset(seed=9)
    assert obs in env.observation_space
    start = json.loads(obs)
    assert start["kind"] == "start"
    assert start["content"]["alert"]["service"]
    for action in ACTIONS:
        obs, *_ = env.step(action)
        assert obs in env.observation_space
        assert obs.isascii()
