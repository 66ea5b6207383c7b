#!/usr/bin/env bash
# One device call for the levers: CUDA tests of the new paths, FP8 attention (speed and the sink risk),
# the VAE layout/pass/compile variants, and the kernel breakdown of one steady block in BF16, FP8 and
# INT8 (scripts/profile_block.py; the matmul ops prove low-precision GEMMs). Every step is time-boxed and
# logs to $OUT/log.txt as it runs. Run from the repository root with .whl carried.
set -uo pipefail
source benchmarks/device_common.sh
step 150 python -m pytest -q -x tests/test_cuda.py tests/test_vae.py -k "cuda or fp8 or dynamic_schemes"
step 90 python benchmarks/fp8_attention.py --out "$OUT"
step 200 python benchmarks/vae_bench.py --compile --out "$OUT"
for q in none fp8dq_row int8dq; do
  step 120 python scripts/profile_block.py compile=default attention=fa3 quant=$q out=/tmp/prof_$q \
    hydra.run.dir=/tmp/hprof_$q
  cp /tmp/prof_$q/profile_block.json "$OUT/profile_block_$q.json" 2>/dev/null
done
