"""Actions: JSON text and dicts are the same action; malformed ones are answered with
an error observation, never an exception."""

from __future__ import annotations

import json

import otrashi
from conftest import SCENARIO, report


def _twin_envs():
    a = otrashi.make(SCENARIO, max_steps=10)
    b = otrashi.make(SCENARIO, max_steps=10)
    a.reset(seed=3)
    b.reset(seed=3)
    return a, b


def test_dict_and_json_string_actions_agree() -> None:
    a, b = _twin_envs()
    args = {"service": "cart"}
    out_dict = a.step({"tool": "get_events", "args": args})
    out_text = b.step(json.dumps({"tool": "get_events", "args": args}))
    assert out_dict == out_text
    assert json.loads(out_dict[0])["kind"] == "tool_result"


def test_llm_tool_call_shapes_are_read() -> None:
    a, b = _twin_envs()
    openai = {"type": "function", "function": {"name": "list_services", "arguments": "{}"}}
    fenced = '```json\n{"name": "list_services", "arguments": {}}\n```'
    obs_a, *_ = a.step(openai)
    obs_b, *_ = b.step(fenced)
    assert obs_a == obs_b
    assert json.loads(obs_a)["tool"] == "list_services"


def test_malformed_actions_give_error_observations(env: otrashi.OtrashiEnv) -> None:
    env.reset(seed=1)
    cases = [
        "this is not json",
        '{"tool": "qurey_metrics"}',
        {"tool": "get_traces", "args": {"limit": [1]}},
        {"args": {}},
        12345,
        object(),
    ]
    for action in cases[:4]:
        obs, reward, terminated, truncated, info = env.step(action)
        parsed = json.loads(obs)
        assert parsed["kind"] == "error", action
        assert parsed["content"]["error"]
        assert info["invalid_action"] is True
        assert info["error"] == parsed["content"]["error"]
        assert not terminated
        assert reward <= 0.0
    # The fifth step hits the step budget (5): a malformed action still counts.
    obs, _, terminated, truncated, info = env.step(cases[4])
    assert json.loads(obs)["kind"] == "error" and truncated and not terminated
    assert info["end_reason"] == "step_budget"
    env.reset(seed=1)
    obs, *_ = env.step(cases[5])
    assert json.loads(obs)["kind"] == "error"


def test_a_report_terminates_and_reveals_the_truth(env: otrashi.OtrashiEnv) -> None:
    env.reset(seed=4)
    obs, reward, terminated, truncated, info = env.step(report("cart"))
    assert terminated and not truncated
    assert info["end_reason"] == "submitted"
    assert 0.0 <= reward <= 1.0
    assert info["score"]["total"] == reward
    assert info["truth"]["root_causes"]


def test_tool_specs_are_in_function_calling_format(env: otrashi.OtrashiEnv) -> None:
    specs = otrashi.tool_specs()
    assert env.tool_specs == specs
    names = [s["function"]["name"] for s in specs]
    assert names[0] == "list_services" and "submit_report" in names
    for spec in specs:
        assert spec["type"] == "function"
        assert spec["function"]["parameters"]["type"] == "object"
        assert spec["function"]["description"]
