"""The vector environment: parallel Rust threads, results equal to sequential envs."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, VectorEnv

import otrashi
from conftest import report

SCENARIO = "chain-db-disk-full"
N = 4
MAX_STEPS = 3


def _actions(t: int) -> list:
    """A schedule with every kind of step: tools, malformed text, and reports that end
    episodes at different times (so autoresets happen out of step)."""
    out = []
    for i in range(N):
        k = (t + i) % 4
        if k == 0:
            out.append({"tool": "list_services"})
        elif k == 1:
            out.append('{"tool": "get_events", "args": {}}')
        elif k == 2:
            out.append("garbage")
        else:
            out.append(report("db"))
    return out


def _sequential(seed: int, steps: int) -> list:
    """N single envs driven as Gymnasium's NEXT_STEP autoreset would drive them."""
    envs = [otrashi.make(SCENARIO, max_steps=MAX_STEPS) for _ in range(N)]
    first = [env.reset(seed=seed + i) for i, env in enumerate(envs)]
    history = [("reset", [o for o, _ in first], [i for _, i in first])]
    ended = [False] * N
    for t in range(steps):
        results = []
        for i, (env, action) in enumerate(zip(envs, _actions(t))):
            if ended[i]:
                obs, info = env.reset()
                results.append((obs, 0.0, False, False, info))
                ended[i] = False
            else:
                obs, reward, term, trunc, info = env.step(action)
                results.append((obs, reward, term, trunc, info))
                ended[i] = term or trunc
        history.append(("step", results))
    return history


def _info_of(infos: dict, i: int) -> dict:
    """Sub-environment i's info out of a vector info dict."""
    out = {}
    for key, value in infos.items():
        if key.startswith("_") or not infos[f"_{key}"][i]:
            continue
        item = _info_of(value, i) if isinstance(value, dict) else value[i]
        out[key] = item.item() if isinstance(item, np.generic) else item
    return out


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_vector_equals_sequential(threads: int) -> None:
    seed, steps = 100, 9
    expected = _sequential(seed, steps)
    # parallel_min_work_us=0: every batch on the threads, however cheap its steps.
    venv = otrashi.make_vec(
        SCENARIO, num_envs=N, max_steps=MAX_STEPS, threads=threads, parallel_min_work_us=0
    )
    assert isinstance(venv, VectorEnv)
    obs, infos = venv.reset(seed=seed)
    assert isinstance(obs, tuple) and len(obs) == N
    assert list(obs) == expected[0][1]
    assert [_info_of(infos, i) for i in range(N)] == expected[0][2]
    for t in range(steps):
        obs, rewards, terms, truncs, infos = venv.step(_actions(t))
        want = expected[t + 1][1]
        assert list(obs) == [w[0] for w in want]
        assert rewards.tolist() == [w[1] for w in want]
        assert terms.tolist() == [w[2] for w in want]
        assert truncs.tolist() == [w[3] for w in want]
        for i in range(N):
            info = _info_of(infos, i)
            assert info["episode_id"] == want[i][4]["episode_id"]
            assert info["step"] == want[i][4]["step"]
            assert info.get("end_reason") == want[i][4].get("end_reason")
    venv.close()
    venv.close()


def test_autoreset_mode_and_spaces() -> None:
    venv = otrashi.make_vec(SCENARIO, num_envs=2)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert venv.autoreset_mode == AutoresetMode.NEXT_STEP
    assert venv.observation_space == gymnasium.vector.utils.batch_space(
        venv.single_observation_space, 2
    )
    obs, _ = venv.reset(seed=0)
    assert obs in venv.observation_space
    venv.action_space.seed(0)
    obs, *_ = venv.step(venv.action_space.sample())
    assert obs in venv.observation_space


def test_same_step_autoreset_reports_the_final_observation() -> None:
    venv = otrashi.make_vec(SCENARIO, num_envs=2, max_steps=MAX_STEPS, autoreset_mode="SameStep")
    assert venv.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    obs, _ = venv.reset(seed=1)
    obs, rewards, terms, truncs, infos = venv.step([report("db"), {"tool": "list_services"}])
    assert terms.tolist() == [True, False]
    assert infos["_final_obs"].tolist() == [True, False]
    assert '"kind":"end"' in infos["final_obs"][0]
    assert '"kind":"start"' in obs[0]  # already reset
    assert infos["final_info"]["end_reason"][0] == "submitted"


def test_reset_mask_resets_only_some() -> None:
    venv = otrashi.make_vec(SCENARIO, num_envs=3)
    obs0, _ = venv.reset(seed=0)
    venv.step([{"tool": "list_services"}] * 3)
    obs, infos = venv.reset(seed=10, options={"reset_mask": np.array([False, True, False])})
    assert infos["_seed"].tolist() == [False, True, False]
    assert infos["seed"][1] == 11
    assert '"kind":"start"' in obs[1] and '"kind":"tool_result"' in obs[0]


def test_gymnasium_make_vec_uses_the_rust_vector_env() -> None:
    venv = gymnasium.make_vec("otrashi/shop-oom-kill", num_envs=2, max_steps=4)
    assert isinstance(venv, otrashi.OtrashiVectorEnv)
    obs, infos = venv.reset(seed=5)
    assert infos["seed"].tolist() == [5, 6]
    venv.close()


def test_vector_render_and_errors() -> None:
    venv = otrashi.make_vec(SCENARIO, num_envs=2, render_mode="ansi")
    with pytest.raises(otrashi.EpisodeError):
        venv.step(["{}", "{}"])
    venv.reset(seed=0)
    frames = venv.render()
    assert len(frames) == 2 and all("# Incident" in f for f in frames)
    with pytest.raises(ValueError):
        venv.step(["{}"])
    with pytest.raises(otrashi.ConfigError):
        otrashi.make_vec(SCENARIO, num_envs=0)
    with pytest.raises(otrashi.ConfigError):
        otrashi.make_vec(SCENARIO, num_envs=2, parallel_min_work_us=-1.0)


def test_gymnasium_sync_vectorization_agrees_with_the_rust_vector_env() -> None:
    sync = gymnasium.make_vec(
        "otrashi/shop-oom-kill", num_envs=2, vectorization_mode="sync", max_steps=MAX_STEPS
    )
    rust = otrashi.make_vec("shop-oom-kill", num_envs=2, max_steps=MAX_STEPS)
    assert sync.reset(seed=7)[0] == rust.reset(seed=7)[0]
    for t in range(5):
        actions = [{"tool": "list_services"}, "garbage" if t % 2 else report("cart")]
        got_sync = sync.step(actions)
        got_rust = rust.step(actions)
        assert got_sync[0] == got_rust[0]
        for a, b in zip(got_sync[1:4], got_rust[1:4]):
            assert a.tolist() == b.tolist()
    sync.close()
    rust.close()


def test_sub_environment_generators_follow_the_seeds() -> None:
    venv = otrashi.make_vec(SCENARIO, num_envs=3)
    venv.reset(seed=[4, None, 9])
    seeds = venv.np_random_seed
    assert seeds[0] == 4 and seeds[2] == 9 and seeds[1] == -1
    assert len(venv.np_random) == 3


def test_a_group_of_rollouts_of_one_incident() -> None:
    venv = otrashi.make_vec(SCENARIO, num_envs=3)
    obs, infos = venv.reset(seed=[8, 8, 8])
    assert obs[0] == obs[1] == obs[2]
    assert infos["seed"].tolist() == [8, 8, 8]
    obs, rewards, *_ = venv.step([report("db"), report("api"), "bad"])
    assert len(set(obs)) == 3
