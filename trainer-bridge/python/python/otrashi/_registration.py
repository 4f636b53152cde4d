"""Registers every bundled scenario with Gymnasium as ``otrashi/<name>``."""

from __future__ import annotations

import gymnasium

from ._otrashi import scenario_names

#: The namespace of otrashi's environment ids.
ENV_ID_PREFIX: str = "otrashi/"


def register_bundled() -> None:
    """Registers ``otrashi/<name>`` for each bundled scenario (once per process)."""
    for name in scenario_names():
        env_id = ENV_ID_PREFIX + name
        if env_id in gymnasium.registry:
            continue
        gymnasium.register(
            id=env_id,
            entry_point="otrashi.env:OtrashiEnv",
            vector_entry_point="otrashi.vector:OtrashiVectorEnv",
            kwargs={"scenario": name},
            nondeterministic=False,
        )
