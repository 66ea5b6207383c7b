#!/usr/bin/env bash
# Device call (session 3, second): the levers of compile/recipe.py on the H100. CUDA tests of the GELU
# epilogue and of the levers under CUDA graphs; the K/V-write and GEMM microbenchmark; the reference run
# with each lever alone and all together, same process; the block profile with every lever (idle gaps
# by neighbours). Set LONGLIVE_COMMIT before calling. Benchmark rows come back as rows.tgz.
set -uo pipefail
source benchmarks/device_common.sh
step 90 python -m pytest -q -x tests/test_cuda.py -k "gelu or levers"
step 100 python benchmarks/kpath_bench.py $OUT
P=ring:default_cudagraphs:fa3
step 300 python scripts/benchmark.py hydra.run.dir=/tmp/bl out_dir=$OUT/rows vae=false \
  "paths=[$P,$P:none:kv_only,$P:none:gelu,$P:none:qkv,$P:none:qkv+gelu+kv_only]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
step 100 python scripts/profile_block.py compile=default_cudagraphs attention=fa3 "compile.levers=[qkv,gelu,kv_only]" \
  out=/tmp/pl hydra.run.dir=/tmp/hpl
cp /tmp/pl/profile_block.json "$OUT/profile_block_default_cudagraphs_fa3_levers.json" 2>/dev/null
