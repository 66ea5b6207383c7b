#!/usr/bin/env bash
# The CUDA tests after lever ln's FP8 path (norm_kernel.add_norm_fp8, model.wan.linear) and the CPU-only edits of
# session 12 (longlive_ref's BlockTimer, test_cuda's _fa3_with helper): tests/test_cuda.py, test_levers.py,
# test_longlive_ref.py and test_fp8_kernel.py whole, with the FA3 wheel and LongLive's checkout
# (LONGLIVE_SRC=.longlive) so that none is skipped for those. Give LONGLIVE_COMMIT as a literal (device_common.sh).
set -uo pipefail
source benchmarks/device_common.sh
export LONGLIVE_SRC=$PWD/.longlive
step 570 python -m pytest -q -p no:cacheprovider -rs tests/test_cuda.py tests/test_levers.py tests/test_longlive_ref.py \
  tests/test_fp8_kernel.py
