#!/usr/bin/env bash
# The CUDA tests after this evening's changes (the VAE runner's contiguous latent, the cublas_workspace key):
# gpu_cuda_tests2.sh's files plus tests/test_vae_kernel.py, with the FA3 wheel and LongLive's checkout.
# Give LONGLIVE_COMMIT as a literal (device_common.sh).
set -uo pipefail
source benchmarks/device_common.sh
export LONGLIVE_SRC=$PWD/.longlive
step 570 python -m pytest -q -p no:cacheprovider -rs tests/test_cuda.py tests/test_levers.py tests/test_longlive_ref.py \
  tests/test_fp8_kernel.py tests/test_vae_kernel.py
