#!/usr/bin/env python3
"""A complete otrashi command agent in standard-library Python.

Run it with:  otrashi run shop-cart-memory-leak --agent 'python3 examples/agents/heuristic_agent.py'

otrashi starts this program with the alert (one JSON object) on stdin and the tool API
on loopback at $OTRASHI_API. The agent calls tools with POST $OTRASHI_API/tools/<name>
(the body is the tool's JSON arguments) and ends the episode by submitting a report to
POST $OTRASHI_API/tools/submit_report. Replace `investigate` with your own agent (an
LLM loop, a learned policy) and keep the plumbing.
"""
import json
import os
import sys
import urllib.request
from collections import Counter

API = os.environ["OTRASHI_API"]

# Event reasons and log phrases, and the fault kinds they usually mean.
EVENT_HINTS = {
    "OOMKilled": "code.memory_leak",
    "BackOff": "orchestration.crash_loop",
    "Unhealthy": "orchestration.liveness_probe_misconfig",
    "Deleted": "orchestration.dependency_removed",
}
LOG_HINTS = [
    ("no such host", "infra.dns_failure"),
    ("no space left", "infra.disk_full"),
    ("timeout acquiring connection", "code.connection_leak"),
    ("panicked at", "code.panic_crash"),
    ("connection refused", "orchestration.scale_to_zero"),
]


def call(tool, args=None):
    """Calls one tool and returns its observation (a dict)."""
    body = json.dumps(args or {}).encode()
    request = urllib.request.Request(
        f"{API}/tools/{tool}", data=body, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def deepest_failures(span, found):
    """Collects the services of failing spans that have no failing child."""
    failing_children = [c for c in span.get("children", []) if c.get("status") == "error"]
    if span.get("status") == "error" and not failing_children:
        found[span["service"]] += 1
    for child in span.get("children", []):
        deepest_failures(child, found)


def investigate(alert):
    services = [s["name"] for s in call("list_services")["observation"].get("services", [])]
    votes = Counter()
    evidence = {}
    fault_hint = {}

    traces = call("get_traces", {"errors_only": True, "limit": 20})["observation"]
    origins = Counter()
    for trace in traces.get("traces", []):
        deepest_failures(trace["root"], origins)
    for service, n in origins.items():
        votes[service] += 3 * n
        evidence.setdefault(service, []).append(
            {"kind": "trace", "service": service, "signal": "error", "note": f"{n} traces fail here first"}
        )

    events = call("get_events", {"type": "Warning"})["observation"]
    for event in events.get("events", []):
        service, reason = event["service"], event["reason"]
        votes[service] += 2 * event.get("count", 1)
        if reason in EVENT_HINTS:
            fault_hint.setdefault(service, EVENT_HINTS[reason])
        evidence.setdefault(service, []).append(
            {"kind": "event", "service": service, "signal": reason, "note": event["message"][:120]}
        )

    logs = call("search_logs", {"level": "ERROR", "sort": "count"})["observation"]
    for group in logs.get("groups", []):
        for service in group.get("services", []):
            votes[service] += 1
        text = group.get("pattern", "").lower()
        for phrase, fault in LOG_HINTS:
            if phrase in text and group.get("services"):
                fault_hint.setdefault(group["services"][0], fault)

    deploys = call("get_deploys")["observation"].get("deploys", [])
    deployed = {d["service"]: d for d in deploys}

    if not votes:
        votes[alert.get("alert", {}).get("service") or (services[0] if services else "unknown")] += 1
    ranked = [s for s, _ in votes.most_common(3)]
    total = sum(votes[s] for s in ranked) or 1
    causes = []
    for service in ranked:
        fault = fault_hint.get(service)
        if fault is None:
            fault = "code.error_injection" if service in deployed else "infra.cpu_saturation"
        cited = evidence.get(service, [])[:3]
        if service in deployed:
            cited.append({"kind": "deploy", "service": service, "signal": deployed[service]["id"], "note": deployed[service]["title"]})
        causes.append(
            {
                "component": service,
                "fault": fault,
                "confidence": round(votes[service] / total, 2),
                "evidence": cited,
                "explanation": f"{votes[service]} signals point at {service}",
            }
        )
    return {
        "root_causes": causes,
        "affected": [s for s in votes if s not in ranked],
        "remediation": [f"roll back or restart {ranked[0]}"],
        "summary": f"Most signals originate in {ranked[0]}.",
    }


def main():
    alert = json.loads(sys.stdin.readline() or "{}")
    report = investigate(alert)
    result = call("submit_report", report)
    print(json.dumps({"submitted": True, "done": result.get("done")}), file=sys.stderr)


if __name__ == "__main__":
    main()
