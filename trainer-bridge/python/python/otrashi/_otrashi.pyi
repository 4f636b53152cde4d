"""Type stubs of the Rust core (``otrashi._otrashi``)."""

from typing import Optional

__version__: str
BENCH_ACTION: str

class OtrashiError(Exception):
    """Base of every error otrashi raises."""

class ScenarioError(OtrashiError, ValueError):
    """The scenario is invalid or unknown."""

    #: The diagnostics as text: file:line:column, message, excerpt, hint.
    text: str
    #: The diagnostics as dicts: origin, line, column, severity, message, hint, location.
    diagnostics: list[dict[str, object]]

class ConfigError(OtrashiError, ValueError):
    """An option is out of range, or the rubric file cannot be read."""

class BackendError(OtrashiError, RuntimeError):
    """The backend failed to run an episode."""

class EpisodeError(OtrashiError, RuntimeError):
    """Step before reset, step after the episode ended, or use after close."""

class RustEnv:
    """One environment; wrapped by ``otrashi.OtrashiEnv``."""

    def __init__(
        self,
        scenario: str,
        backend: str = "sim",
        max_steps: Optional[int] = None,
        time_budget_s: Optional[float] = None,
        rubric: Optional[str] = None,
    ) -> None: ...
    def reset(self, seed: int) -> tuple[str, str]: ...
    def step(self, action: str) -> tuple[str, float, bool, bool, str]: ...
    def render(self) -> str: ...
    def close(self) -> None: ...
    @property
    def scenario(self) -> str: ...
    @property
    def max_steps(self) -> int: ...
    @property
    def time_budget_s(self) -> float: ...
    @property
    def seed(self) -> Optional[int]: ...

class RustVecEnv:
    """N environments stepped in parallel; wrapped by ``otrashi.OtrashiVectorEnv``."""

    def __init__(
        self,
        scenario: str,
        num_envs: int,
        backend: str = "sim",
        max_steps: Optional[int] = None,
        time_budget_s: Optional[float] = None,
        rubric: Optional[str] = None,
        threads: Optional[int] = None,
        parallel_min_work_us: Optional[float] = None,
    ) -> None: ...
    def run(
        self, seeds: list[Optional[int]], actions: list[Optional[str]]
    ) -> list[tuple[Optional[str], float, bool, bool, Optional[str]]]: ...
    def render(self, index: int) -> Optional[str]: ...
    def close(self) -> None: ...
    def __len__(self) -> int: ...

def scenario_names() -> list[str]: ...
def tool_specs_json() -> str: ...
def _bench_rust_steps(n: int, scenario: str = "shop-cart-memory-leak") -> float: ...
