#!/usr/bin/env bash
# One device call for the compile work: GPU tests, then the reference run timed for eager and compiled
# paths side by side (scripts/benchmark.py). Run from the repository root with .whl carried.
# Set SKIP_TESTS=1 to time only. Everything is logged to $OUT/bench.log as it happens (no tail
# buffering), so a call stopped at its limit still returns what finished.
set -uo pipefail
source benchmarks/device_common.sh
[ "${SKIP_TESTS:-0}" = 1 ] || python -m pytest -q tests/test_cuda.py 2>&1 | grep -E "passed|failed|error"
python scripts/benchmark.py hydra.run.dir=/tmp/bench out_dir=$OUT/results "$@" 2>&1 | tee "$OUT/bench.log" \
  | grep --line-buffered -v "^\[\|^W[0-9]"
