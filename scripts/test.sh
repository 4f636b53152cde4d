#!/usr/bin/env bash
# Runs every check otrashi's CI runs: formatting, lints, tests, docs, and the README's
# examples. Usage: scripts/test.sh        (from anywhere in the repository)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "formatting (cargo fmt --check)"
cargo fmt --all --check

step "lints (clippy, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --no-fail-fast
fi
cargo test --workspace --locked --doc

step "docs (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "the bundled library validates"
cargo run --quiet --locked -p otrashi -- scenarios validate scenarios/library/*.yaml >/dev/null

step "Python package (Gymnasium environment) and Python examples"
# A virtual environment under target/ (a build artifact) keeps the system Python untouched. The
# extension is built with the dev profile so that it reuses what the Rust tests built.
venv="${OTRASHI_VENV:-target/python-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
MATURIN_PEP517_ARGS="--profile dev" "$venv/bin/python" -m pip install --quiet "./trainer-bridge/python[test]"
"$venv/bin/python" -m pip install --quiet grpcio grpcio-tools
"$venv/bin/python" -m pytest -q trainer-bridge/python/tests

step "Python trainer over gRPC (examples/python/trainer_grpc.py)"
OTRASHI_BIN="$PWD/target/debug/otrashi" "$venv/bin/python" -m pytest -q trainer-bridge/tests_py

echo
echo "all checks passed"
