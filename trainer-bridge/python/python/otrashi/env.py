"""The single otrashi environment, a :class:`gymnasium.Env`."""

from __future__ import annotations

import json
import os
from typing import Any

import gymnasium as gym

from . import _common
from ._otrashi import ConfigError, RustEnv, tool_specs_json

#: The agent's tools in the function-calling format, decoded once.
_TOOL_SPECS: str = tool_specs_json()


def tool_specs() -> list[dict[str, Any]]:
    """The agent's tools in the OpenAI function-calling format (a fresh list each call)."""
    return json.loads(_TOOL_SPECS)


class OtrashiEnv(gym.Env[str, Any]):
    """One otrashi episode at a time: an incident to investigate with tool calls.

    - ``reset(seed=...)`` samples an incident from the scenario with that seed, runs it
      in the simulator and returns the alert and the tool list as JSON text. Without a
      seed, the seed is drawn from the env's own generator (``self.np_random``), so a
      seeded reset followed by unseeded ones is reproducible.
    - ``step(action)`` runs one tool call. The action is JSON text
      (``'{"tool": "list_services", "args": {}}'``, or any shape LLM APIs emit) or a
      dict ``{"tool": ..., "args": ...}``; the declared space is ``Text``, dicts are
      accepted too. A malformed action yields an error observation (and an invalid
      action in ``info``), never an exception. ``submit_report`` ends the episode
      (``terminated``) with the report's reward; running out of steps or time
      truncates it.
    - ``info`` is a dict: episode id (derived from scenario and seed), seed, step,
      budgets, and on the last step the score breakdown and the revealed truth.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        scenario: str | os.PathLike[str],
        backend: str = "sim",
        *,
        max_steps: int | None = None,
        time_budget_s: float | None = None,
        rubric: str | os.PathLike[str] | None = None,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(
                f"unknown render_mode {render_mode!r}; otrashi renders 'ansi' (or None)"
            )
        self._core = RustEnv(
            os.fspath(scenario),
            backend,
            max_steps,
            time_budget_s,
            None if rubric is None else os.fspath(rubric),
        )
        self.render_mode = render_mode
        self.observation_space = _common.observation_space()
        self.action_space = _common.action_space()

    @property
    def scenario(self) -> str:
        """The scenario's name."""
        return self._core.scenario

    @property
    def max_steps(self) -> int:
        """The step budget of an episode."""
        return self._core.max_steps

    @property
    def tool_specs(self) -> list[dict[str, Any]]:
        """The agent's tools in the OpenAI function-calling format."""
        return tool_specs()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Starts an episode; ``options`` is accepted for the Gymnasium API and unused."""
        super().reset(seed=seed)
        episode_seed = seed if seed is not None else _common.draw_seed(self.np_random)
        observation, info = self._core.reset(episode_seed)
        return observation, json.loads(info)

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Runs one tool call."""
        observation, reward, terminated, truncated, info = self._core.step(
            _common.action_text(action)
        )
        return observation, reward, terminated, truncated, json.loads(info)

    def render(self) -> str | None:  # type: ignore[override]
        """The episode so far as text (alert, steps, and at the end report and score)
        in ``ansi`` mode; ``None`` otherwise."""
        if self.render_mode == "ansi":
            return self._core.render()
        return None

    def close(self) -> None:
        """Ends the environment; calling it again is harmless."""
        core = getattr(self, "_core", None)
        if core is not None:
            core.close()
        super().close()
