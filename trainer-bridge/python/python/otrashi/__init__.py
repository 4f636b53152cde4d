"""otrashi: a chaos gym for root-cause-analysis agents, as Gymnasium environments.

>>> import otrashi
>>> env = otrashi.make("shop-cart-memory-leak", max_steps=20)
>>> obs, info = env.reset(seed=7)
>>> obs, reward, terminated, truncated, info = env.step({"tool": "list_services", "args": {}})

Every bundled scenario is also registered with Gymnasium on import, as
``gymnasium.make("otrashi/<name>")`` (and ``gymnasium.make_vec`` runs them in parallel
in Rust). See ``README.md`` next to this package for the details.
"""

from __future__ import annotations

import os
from typing import Any

from . import _otrashi
from ._otrashi import (
    BackendError,
    ConfigError,
    EpisodeError,
    OtrashiError,
    ScenarioError,
    scenario_names,
)
from ._bench import _bench_step_overhead_us
from ._registration import ENV_ID_PREFIX, register_bundled
from .env import OtrashiEnv, tool_specs
from .vector import OtrashiVectorEnv

__version__: str = _otrashi.__version__

__all__ = [
    "BackendError",
    "ConfigError",
    "ENV_ID_PREFIX",
    "EpisodeError",
    "OtrashiEnv",
    "OtrashiError",
    "OtrashiVectorEnv",
    "ScenarioError",
    "make",
    "make_vec",
    "scenarios",
    "tool_specs",
]


def scenarios() -> list[str]:
    """The names of the bundled scenarios."""
    return list(scenario_names())


def make(
    scenario: str | os.PathLike[str],
    backend: str = "sim",
    *,
    max_steps: int | None = None,
    time_budget_s: float | None = None,
    rubric: str | os.PathLike[str] | None = None,
    render_mode: str | None = None,
) -> OtrashiEnv:
    """An otrashi environment for a bundled scenario name or a scenario file path.

    Args:
        scenario: a bundled scenario's name (see :func:`scenarios`) or a path to a
            scenario YAML file (a path that exists wins over a name).
        backend: where incidents run; ``"sim"``, the embedded simulator.
        max_steps: tool calls per episode, the report included (default 30).
        time_budget_s: wall-clock seconds per episode (default 600).
        rubric: a rubric TOML file for scoring (default: the built-in rubric).
        render_mode: ``"ansi"`` to have ``render()`` return the episode as text.

    Returns the environment itself, without Gymnasium's checking wrappers (use
    ``gymnasium.make("otrashi/<name>")`` for those). Raises :class:`ScenarioError`
    for an invalid or unknown scenario and :class:`ConfigError` for bad options.
    """
    return OtrashiEnv(
        scenario,
        backend,
        max_steps=max_steps,
        time_budget_s=time_budget_s,
        rubric=rubric,
        render_mode=render_mode,
    )


def make_vec(
    scenario: str | os.PathLike[str],
    num_envs: int,
    backend: str = "sim",
    **options: Any,
) -> OtrashiVectorEnv:
    """``num_envs`` environments stepped in parallel on Rust threads.

    Takes the options of :func:`make`, plus ``autoreset_mode`` (default
    ``NEXT_STEP``) and ``threads`` (default: the machine's parallelism).
    """
    return OtrashiVectorEnv(scenario, num_envs, backend, **options)


register_bundled()
