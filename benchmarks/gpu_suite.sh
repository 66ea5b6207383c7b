#!/usr/bin/env bash
# The whole test suite on the GPU machine, PyAV included (the default config writes video.mp4, which `validate`
# refuses without PyAV: the ~30 failures of the 2026-11-26 ~15:05Z run without it; with PyAV hidden the CPU suite
# fails the same 27 ways). Carry `.whl_suite` instead of `.whl` (torchao, hydra-core, omegaconf, antlr4 and PyAV, 38 MiB; with
# fa3-fwd the two would pass the 64 MiB carry limit, so the FA3 tests skip here: they ran in the day's other calls):
#   mkdir -p .whl_suite && cp .whl/{antlr4,hydra,omegaconf,torchao}*.whl .whl_suite/ && pip download --no-deps \
#     --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64 -d .whl_suite av
#   (and '/.whl_suite/' in .git/info/exclude)
# Arguments: test files (default tests/: 570 s were 70% of it at 16:15Z, through test_model.py, no failure).
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl_suite/*.whl \
  && export PYTHONPATH=/tmp/site:$PWD || exit 1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
timeout 570 python -m pytest -q -p no:cacheprovider --tb=line --durations=20 "${@:-tests/}" 2>&1 | tee "$OUT/log.txt" \
  | grep -v "Warning\|warn" | tail -60
