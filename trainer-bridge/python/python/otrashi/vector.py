"""N otrashi environments stepped in parallel on Rust threads, a
:class:`gymnasium.vector.VectorEnv`."""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from . import _common
from ._otrashi import ConfigError, RustVecEnv
from .env import tool_specs


class OtrashiVectorEnv(VectorEnv):
    """``num_envs`` otrashi environments over one scenario, stepped in parallel.

    Each ``step`` and ``reset`` is one call into Rust, which runs the sub-environments
    on scoped threads with the GIL released. Results equal those of ``num_envs``
    :class:`~otrashi.OtrashiEnv` run one after the other with the same seeds: each
    sub-environment has its own generator (seeded ``seed + i`` by ``reset(seed=seed)``,
    as Gymnasium's vector environments do) from which unseeded resets draw.

    Observations are a tuple of JSON strings (Gymnasium batches ``Text`` spaces as a
    ``Tuple``); actions a sequence of JSON strings or dicts. The autoreset mode is
    ``NEXT_STEP`` by default (``SAME_STEP`` and ``DISABLED`` are supported); see
    ``metadata["autoreset_mode"]``.

    ``threads`` caps the worker threads (default: the machine's parallelism). Spawning
    a thread costs more than a cheap tool call, so a batch of steps is spread over
    threads only when its estimated work per thread exceeds ``parallel_min_work_us``
    (default 200; 0 spreads every batch); resets always are.
    """

    metadata = {
        "render_modes": ["ansi"],
        "render_fps": 4,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        scenario: str | os.PathLike[str],
        num_envs: int = 1,
        backend: str = "sim",
        *,
        max_steps: int | None = None,
        time_budget_s: float | None = None,
        rubric: str | os.PathLike[str] | None = None,
        render_mode: str | None = None,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        threads: int | None = None,
        parallel_min_work_us: float | None = None,
    ) -> None:
        if render_mode is not None and render_mode != "ansi":
            raise ConfigError(
                f"unknown render_mode {render_mode!r}; otrashi renders 'ansi' (or None)"
            )
        self.autoreset_mode = (
            autoreset_mode
            if isinstance(autoreset_mode, AutoresetMode)
            else AutoresetMode(autoreset_mode)
        )
        self._core = RustVecEnv(
            os.fspath(scenario),
            num_envs,
            backend,
            max_steps,
            time_budget_s,
            None if rubric is None else os.fspath(rubric),
            threads,
            parallel_min_work_us,
        )
        self.num_envs = num_envs
        self.render_mode = render_mode
        self.metadata = dict(self.metadata)
        self.metadata["autoreset_mode"] = self.autoreset_mode
        self.single_observation_space = _common.observation_space()
        self.single_action_space = _common.action_space()
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._rngs: list[np.random.Generator | None] = [None] * num_envs
        self._rng_seeds: list[int | None] = [None] * num_envs
        self._observations: list[str] = [""] * num_envs
        self._autoreset = np.zeros(num_envs, dtype=np.bool_)

    @property
    def tool_specs(self) -> list[dict[str, Any]]:
        """The agent's tools in the OpenAI function-calling format."""
        return tool_specs()

    @property  # type: ignore[misc]
    def np_random(self) -> tuple[np.random.Generator, ...]:  # type: ignore[override]
        """Each sub-environment's generator (created from entropy when not seeded yet)."""
        return tuple(self._rng(i) for i in range(self.num_envs))

    @property
    def np_random_seed(self) -> tuple[int | None, ...]:  # type: ignore[override]
        """The seed of each sub-environment's generator (-1 when drawn from entropy,
        ``None`` before it exists), as ``Env.np_random_seed``."""
        return tuple(self._rng_seeds)

    def _rng(self, i: int) -> np.random.Generator:
        rng = self._rngs[i]
        if rng is None:
            # As `Env.np_random`: a generator made lazily from entropy reports seed -1.
            rng, _ = seeding.np_random()
            self._rngs[i], self._rng_seeds[i] = rng, -1
        return rng

    def _episode_seed(self, i: int, seed: int | None) -> int:
        """As ``OtrashiEnv.reset``: a given seed reseeds the generator and is the episode
        seed; otherwise the episode seed is drawn from the generator."""
        if seed is not None:
            self._rngs[i], self._rng_seeds[i] = seeding.np_random(seed)
            return seed
        return _common.draw_seed(self._rng(i))

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[tuple[str, ...], dict[str, Any]]:
        """Resets every sub-environment, or those in ``options["reset_mask"]``.

        ``seed`` is ``None``, an int (sub-environment ``i`` gets ``seed + i``) or one
        seed (or ``None``) per sub-environment.
        """
        if seed is None:
            seeds: list[int | None] = [None] * self.num_envs
        elif isinstance(seed, (int, np.integer)):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
        if len(seeds) != self.num_envs:
            raise ValueError(
                f"expected {self.num_envs} seeds, got {len(seeds)}"
            )
        mask = np.ones(self.num_envs, dtype=np.bool_)
        if options is not None and "reset_mask" in options:
            mask = np.asarray(options["reset_mask"], dtype=np.bool_)
            if mask.shape != (self.num_envs,) or not mask.any():
                raise ValueError(
                    f"options['reset_mask'] must be {self.num_envs} booleans, one true at least"
                )
        run_seeds = [
            self._episode_seed(i, s) if mask[i] else None for i, s in enumerate(seeds)
        ]
        infos: dict[str, Any] = {}
        for i, result in enumerate(self._run(run_seeds, [None] * self.num_envs)):
            if result is not None:
                self._observations[i] = result[0]
                self._autoreset[i] = False
                infos = self._add_info(infos, result[4], i)
        return tuple(self._observations), infos

    def _run(
        self, seeds: list[int | None], actions: list[str | None]
    ) -> list[tuple[str, float, bool, bool, dict[str, Any]] | None]:
        """One parallel call into Rust; ``None`` for the sub-environments left alone."""
        return [
            None
            if obs is None or info is None
            else (obs, reward, terminated, truncated, json.loads(info))
            for obs, reward, terminated, truncated, info in self._core.run(seeds, actions)
        ]

    def step(
        self, actions: Sequence[Any]
    ) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Steps every sub-environment in parallel (with NEXT_STEP autoreset, those
        whose episode ended on the previous step reset instead)."""
        actions = list(actions)
        if len(actions) != self.num_envs:
            raise ValueError(f"expected {self.num_envs} actions, got {len(actions)}")
        texts: list[str | None] = [_common.action_text(a) for a in actions]
        seeds: list[int | None]
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            seeds = [
                _common.draw_seed(self._rng(i)) if self._autoreset[i] else None
                for i in range(self.num_envs)
            ]
        else:
            seeds = [None] * self.num_envs
        results = self._run(seeds, texts)

        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminations = np.zeros(self.num_envs, dtype=np.bool_)
        truncations = np.zeros(self.num_envs, dtype=np.bool_)
        env_infos: list[dict[str, Any]] = []
        for i, result in enumerate(results):
            if result is None:
                raise RuntimeError(f"sub-environment {i} was not stepped")
            self._observations[i], rewards[i], terminations[i], truncations[i], info = result
            env_infos.append(info)
        ended = np.logical_or(terminations, truncations)

        infos: dict[str, Any] = {}
        if self.autoreset_mode == AutoresetMode.SAME_STEP and ended.any():
            reset_seeds: list[int | None] = [
                _common.draw_seed(self._rng(i)) if ended[i] else None
                for i in range(self.num_envs)
            ]
            resets = self._run(reset_seeds, [None] * self.num_envs)
            for i, reset in enumerate(resets):
                if reset is not None:
                    infos = self._add_info(
                        infos,
                        {"final_obs": self._observations[i], "final_info": env_infos[i]},
                        i,
                    )
                    self._observations[i] = reset[0]
                    env_infos[i] = reset[4]
        for i, info in enumerate(env_infos):
            infos = self._add_info(infos, info, i)
        self._autoreset = ended
        return tuple(self._observations), rewards, terminations, truncations, infos

    def render(self) -> tuple[str | None, ...] | None:  # type: ignore[override]
        """Each sub-environment's episode so far as text, in ``ansi`` mode."""
        if self.render_mode != "ansi":
            return None
        return tuple(self._core.render(i) for i in range(self.num_envs))

    def close_extras(self, **kwargs: Any) -> None:
        """Ends every sub-environment."""
        core = getattr(self, "_core", None)  # absent when the constructor failed
        if core is not None:
            core.close()

