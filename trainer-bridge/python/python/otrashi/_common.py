"""Pieces shared by the single and the vector environment."""

from __future__ import annotations

import json
import string
from typing import Any

import numpy as np
from gymnasium import spaces

#: Every character an observation can contain: the Rust core escapes everything outside
#: printable ASCII (``\uXXXX``), so JSON text from any log line stays in this set. Tab,
#: newline and carriage return are included for text actions (an LLM's raw output).
CHARSET: str = "".join(chr(c) for c in range(0x20, 0x7F)) + "\t\n\r"

#: Upper bound of an observation's length, in characters. Every tool bounds its answer
#: (series, log groups, traces per call) far below this.
OBSERVATION_MAX_LENGTH: int = 1 << 20

#: Upper bound of a text action's length, in characters (a long report fits easily).
ACTION_MAX_LENGTH: int = 1 << 16

#: Seeds the env draws for itself lie in [0, SEED_BOUND).
SEED_BOUND: int = 2**63 - 1


def observation_space() -> spaces.Text:
    """The observation space: one observation as JSON text."""
    return spaces.Text(OBSERVATION_MAX_LENGTH, min_length=1, charset=CHARSET)


def action_space() -> spaces.Text:
    """The declared action space: one tool call as JSON text.

    Dict actions (``{"tool": ..., "args": ...}``) are accepted too, though the declared
    space is ``Text``: Gymnasium has no space for free-form JSON objects.
    """
    return spaces.Text(ACTION_MAX_LENGTH, min_length=1, charset=CHARSET)


def draw_seed(rng: np.random.Generator) -> int:
    """The next episode seed from an environment's own generator."""
    return int(rng.integers(0, SEED_BOUND))


def action_text(action: Any) -> str:
    """An action as the text the Rust core reads.

    Strings pass through; dicts (and other JSON values) are encoded; anything else
    becomes its ``repr``, which the core answers with an error observation rather than
    an exception, as it does any malformed action.
    """
    if isinstance(action, str):
        return action
    if isinstance(action, bytes):
        return action.decode("utf-8", errors="replace")
    try:
        return json.dumps(action)
    except (TypeError, ValueError):
        return repr(action)
