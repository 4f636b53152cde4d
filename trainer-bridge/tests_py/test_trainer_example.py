"""`otrashi eval --trainer` against the Python trainer example
(examples/python/trainer_grpc.py): every episode arrives, feedback is stored with its
episode, and the stored feedback exports for TRL / OpenRLHF.

Needs grpcio, grpcio-tools and pytest, and the otrashi binary: $OTRASHI_BIN, else
target/debug/otrashi (built with `cargo build -p otrashi` when missing).
"""

import json
import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TRAINER = os.path.join(ROOT, "examples", "python", "trainer_grpc.py")


def otrashi_bin():
    path = os.environ.get("OTRASHI_BIN") or os.path.join(ROOT, "target", "debug", "otrashi")
    if not os.path.exists(path):
        subprocess.run(["cargo", "build", "-q", "-p", "otrashi"], cwd=ROOT, check=True)
    return path


def first_scenario(exe):
    out = subprocess.run([exe, "scenarios", "list", "--json"], capture_output=True, check=True, text=True)
    return json.loads(out.stdout)["scenarios"][0]["name"]


@pytest.fixture
def trainer(tmp_path):
    summary = tmp_path / "summary.json"
    proc = subprocess.Popen(
        [sys.executable, TRAINER, "--port", "0", "--credit", "2", "--summary", str(summary)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on "), f"trainer did not start: {line!r}"
        yield line.split()[-1], summary
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def eval_with_trainer(exe, scenario, addr, tmp_path):
    out = subprocess.run(
        [exe, "eval", scenario, "--seeds", "2", "--json",
         "--trainer", f"http://{addr}", "--worker", "pytest-1",
         "--spool", str(tmp_path / "spool"), "--out", str(tmp_path / "runs"),
         "--trainer-drain", "20s"],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_every_episode_reaches_the_python_trainer_and_its_feedback_is_stored(trainer, tmp_path):
    addr, summary_path = trainer
    exe = otrashi_bin()
    scenario = first_scenario(exe)

    first = eval_with_trainer(exe, scenario, addr, tmp_path)
    second = eval_with_trainer(exe, scenario, addr, tmp_path)
    played = first["episodes"] + second["episodes"]
    assert len(played) == 4

    # The summary is rewritten after every frame; the last frames are the receipts.
    deadline = time.time() + 10
    while True:
        summary = json.loads(summary_path.read_text())
        if len(summary["feedback_receipts"]) >= 4 * 2 or time.time() > deadline:
            break
        time.sleep(0.1)

    episodes = summary["episodes"]
    assert len(episodes) == 4, "every episode arrived, once"
    for ep in episodes.values():
        assert ep["end"] is not None
        indices = [s["index"] for s in ep["steps"]]
        assert indices == list(range(1, len(indices) + 1)), "steps complete and in order"
        assert ep["end"]["steps"] == len(indices)
        assert not any(s["terminated"] and s["truncated"] for s in ep["steps"])
        assert ep["policy_version"] == "example-v1"
    # Sequence numbers carried on across the two runs of the same worker.
    assert summary["last_seq"]["pytest-1"] == summary["messages"]
    assert all(r["stored"] for r in summary["feedback_receipts"]), summary["feedback_receipts"]

    store = tmp_path / "runs"
    feedback = read_jsonl(store / "feedback.jsonl")
    scored = {f["episode_id"] for f in feedback if f["type"] == "score"}
    assert scored == set(episodes), "a score stored for every episode"
    assert any(f["type"] == "critique" for f in feedback)
    assert len({f["id"] for f in feedback}) == len(feedback), "stored once per id"
    recorded = {e["episode_id"] for e in read_jsonl(store / "episodes.jsonl")}
    assert recorded == set(episodes)

    rm = tmp_path / "rm.jsonl"
    subprocess.run([exe, "feedback", "export", "--format", "rm", "--store", str(store), "--out", str(rm)],
                   check=True, capture_output=True)
    samples = read_jsonl(rm)
    assert len(samples) == 4
    assert all(set(["prompt", "response", "score"]) <= set(s) for s in samples)
    assert all("# Tools" in s["prompt"] and "## Step 1" in s["response"] for s in samples)

    dpo = tmp_path / "dpo.jsonl"
    subprocess.run([exe, "feedback", "export", "--format", "dpo", "--store", str(store), "--out", str(dpo)],
                   check=True, capture_output=True)
    pairs = read_jsonl(dpo)
    prefs = [f for f in feedback if f["type"] == "preference"]
    assert len(prefs) == 2, "the second run repeats both incidents"
    # Same scenario and seed give the same prompt, so both preferences become pairs.
    assert len(pairs) == 2
    for p in pairs:
        assert set(["prompt", "chosen", "rejected"]) <= set(p)
        assert p["prompt"].startswith("# Incident")
