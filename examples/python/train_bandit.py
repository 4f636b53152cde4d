"""Learns which simple diagnosis policy to trust, from otrashi's rewards alone.

A policy-gradient bandit (REINFORCE with a running-average baseline over a softmax of
preferences) chooses, for each episode, one of four hand-written diagnosis policies:

- ``blame-alert``: name the service the alert fired on;
- ``blame-latest-deploy``: read the deploys, name the service deployed last;
- ``blame-warning-events``: read orchestrator events, name the service with most warnings;
- ``blame-error-logs``: search error logs, name the service that wrote the most.

Each policy plays a whole otrashi episode (a few tool calls, then ``submit_report``),
and the episode's reward updates the bandit. Incidents are sampled from a mix of
bundled scenarios, so no policy is right every time; the bandit learns which one is
right most often. Runs in seconds:

    python examples/python/train_bandit.py --episodes 200 --seed 0

It prints the average reward of the first and the last episodes, and a JSON summary
with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections import Counter
from typing import Any, Callable

import otrashi

SCENARIOS = [
    "shop-cart-memory-leak",
    "shop-failed-deploy",
    "shop-oom-kill",
    "chain-api-crash-loop",
    "platform-notifications-memory-leak",
    "shop-retry-storm-with-unrelated-deploy",
]


def _content(obs: str) -> dict[str, Any]:
    return json.loads(obs).get("content", {})


def _report(component: str) -> dict[str, Any]:
    return {
        "tool": "submit_report",
        "args": {"root_causes": [{"component": component, "confidence": 0.6}]},
    }


def blame_alert(env: otrashi.OtrashiEnv, start: dict[str, Any]) -> tuple[str, Any]:
    return "", _report(start["alert"]["service"])


def blame_latest_deploy(env: otrashi.OtrashiEnv, start: dict[str, Any]) -> tuple[str, Any]:
    obs, *_ = env.step({"tool": "get_deploys", "args": {}})
    deploys = _content(obs).get("deploys", [])
    if not deploys:
        return "", _report(start["alert"]["service"])
    latest = max(deploys, key=lambda d: d.get("time", ""))
    return "", _report(latest["service"])


def blame_warning_events(env: otrashi.OtrashiEnv, start: dict[str, Any]) -> tuple[str, Any]:
    obs, *_ = env.step({"tool": "get_events", "args": {}})
    counts: Counter[str] = Counter()
    for event in _content(obs).get("events", []):
        if event.get("type") == "Warning":
            counts[event.get("service", "")] += int(event.get("count", 1))
    name = counts.most_common(1)[0][0] if counts else start["alert"]["service"]
    return "", _report(name)


def blame_error_logs(env: otrashi.OtrashiEnv, start: dict[str, Any]) -> tuple[str, Any]:
    obs, *_ = env.step({"tool": "search_logs", "args": {"level": "error"}})
    counts: Counter[str] = Counter()
    for group in _content(obs).get("groups", []):
        for service in group.get("services", []):
            name = service if isinstance(service, str) else service.get("name", "")
            counts[name] += int(group.get("count", 1))
    name = counts.most_common(1)[0][0] if counts else start["alert"]["service"]
    return "", _report(name)


POLICIES: dict[str, Callable[[otrashi.OtrashiEnv, dict[str, Any]], tuple[str, Any]]] = {
    "blame-alert": blame_alert,
    "blame-latest-deploy": blame_latest_deploy,
    "blame-warning-events": blame_warning_events,
    "blame-error-logs": blame_error_logs,
}


def play(env: otrashi.OtrashiEnv, policy: str, seed: int) -> float:
    """One episode with one policy; returns otrashi's reward."""
    obs, _ = env.reset(seed=seed)
    _, report = POLICIES[policy](env, _content(obs))
    _, reward, terminated, truncated, _ = env.step(report)
    if not (terminated or truncated):
        raise RuntimeError("the report did not end the episode")
    return float(reward)


def train(episodes: int, seed: int, lr: float = 0.3) -> dict[str, Any]:
    rng = random.Random(seed)
    envs = {name: otrashi.make(name, max_steps=10) for name in SCENARIOS}
    names = list(POLICIES)
    prefs = [0.0] * len(names)
    baseline = 0.0
    rewards: list[float] = []
    for t in range(episodes):
        top = max(prefs)
        weights = [math.exp(p - top) for p in prefs]
        total = sum(weights)
        probs = [w / total for w in weights]
        arm = rng.choices(range(len(names)), weights=probs)[0]
        scenario = rng.choice(SCENARIOS)
        reward = play(envs[scenario], names[arm], rng.randrange(2**32))
        rewards.append(reward)
        # REINFORCE with a baseline: raise the chosen arm's preference in proportion
        # to how much better than usual its reward was, lower the others'.
        advantage = reward - baseline
        baseline += (reward - baseline) / (t + 1) if t < 20 else 0.05 * (reward - baseline)
        for i in range(len(names)):
            grad = (1.0 if i == arm else 0.0) - probs[i]
            prefs[i] += lr * advantage * grad
    for env in envs.values():
        env.close()
    window = max(1, episodes // 10)
    top = max(prefs)
    weights = [math.exp(p - top) for p in prefs]
    return {
        "episodes": episodes,
        "seed": seed,
        "initial_avg_reward": sum(rewards[:window]) / window,
        "final_avg_reward": sum(rewards[-window:]) / window,
        "policy_probabilities": {
            n: round(w / sum(weights), 3) for n, w in zip(names, weights)
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print a JSON summary only")
    args = parser.parse_args()
    summary = train(args.episodes, args.seed)
    if args.json:
        print(json.dumps(summary))
        return
    print(f"average reward, first {max(1, args.episodes // 10)} episodes: {summary['initial_avg_reward']:.3f}")
    print(f"average reward, last {max(1, args.episodes // 10)} episodes:  {summary['final_avg_reward']:.3f}")
    for name, p in sorted(summary["policy_probabilities"].items(), key=lambda kv: -kv[1]):
        print(f"  {p:.3f}  {name}")


if __name__ == "__main__":
    main()
