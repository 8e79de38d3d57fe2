#!/usr/bin/env bash
# Fuzz the pure pipeline (parse → classify → thread → commands → quotes) for N seconds
# (default 1800) on each core; crashing inputs land in tests/fixtures/fuzz-crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-1800}
cargo build --release --bench fuzz --quiet
jobs=$(nproc)
for j in $(seq 1 "$jobs"); do
    cargo bench --quiet --bench fuzz -- --seconds "$seconds" &
done
wait
