#!/usr/bin/env bash
# Device call (session 3, third): the Triton K/V-write kernel (lever kv_write): CUDA tests, the K-path
# microbenchmark, the reference run with the kept levers with and without it and the FP8 path with the
# levers that apply to it (same process), and the block profile of the best BF16 path. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
step 90 python -m pytest -q -x tests/test_cuda.py -k "kv_write or levers"
step 90 python benchmarks/kpath_bench.py $OUT
P=ring:default_cudagraphs:fa3
step 330 python scripts/benchmark.py hydra.run.dir=/tmp/bl out_dir=$OUT/rows vae=false \
  "paths=[$P,$P:none:gelu+kv_only,$P:none:gelu+kv_only+kv_write,$P:fp8dq_row,$P:fp8dq_row:kv_only+kv_write]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
step 80 python scripts/profile_block.py compile=default_cudagraphs attention=fa3 "compile.levers=[gelu,kv_only,kv_write]" \
  out=/tmp/pl hydra.run.dir=/tmp/hpl
cp /tmp/pl/profile_block.json "$OUT/profile_block_default_cudagraphs_fa3_gelu_kv_only_kv_write.json" 2>/dev/null
