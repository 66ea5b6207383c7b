#!/usr/bin/env bash
# The CUDA tests after lever `mod` became a default and the benchmark's longlive path landed: tests/test_cuda.py
# whole, with the FA3 wheel and LongLive's checkout (LONGLIVE_SRC=.longlive) so that none is skipped for those.
# Give LONGLIVE_COMMIT as a literal (device_common.sh).
set -uo pipefail
source benchmarks/device_common.sh
export LONGLIVE_SRC=$PWD/.longlive
step 540 python -m pytest -q -p no:cacheprovider -rs tests/test_cuda.py tests/test_levers.py tests/test_longlive_ref.py
