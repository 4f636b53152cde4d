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

echo
echo "all checks passed"
