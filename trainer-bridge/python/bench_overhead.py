#!/usr/bin/env python3
"""Prints, as one JSON line, what a Python ``env.step()`` adds over the same step called
from Rust: ``{"py_step_overhead_us": ..., "py_step_us": ..., "rust_step_us": ...}``.

Both sides run the same cheap tool call (``list_services``) through the same Rust path
(JSON conversions included); the Python side adds the pyo3 call, the GIL release, the
action handling and ``json.loads`` of the info. Usage:

    python trainer-bridge/python/bench_overhead.py [--steps 2000] [--repeats 5]
"""

import argparse
import json

import otrashi


def main() -> None:
    parser = argparse.ArgumentParser(description="otrashi Python step overhead")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(otrashi._bench_step_overhead_us(args.steps, args.repeats)))


if __name__ == "__main__":
    main()
