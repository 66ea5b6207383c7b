#!/usr/bin/env bash
# Device call (session 3, first): the kernel table of a steady block replayed from CUDA graphs, the
# compiled quantized paths now that torchao no longer turns on coordinate-descent tuning (rows with SQNR
# against BF16, written path by path; warm-up per scheme), the profiler proof of low-precision GEMMs
# (CUDA test + the kernel table of fp8dq_row). Set LONGLIVE_COMMIT before calling.
set -uo pipefail
source benchmarks/device_common.sh
step 100 python scripts/profile_block.py compile=default_cudagraphs attention=fa3 out=/tmp/pg hydra.run.dir=/tmp/hpg
cp /tmp/pg/profile_block.json "$OUT/profile_block_default_cudagraphs_fa3.json" 2>/dev/null
P=ring:default_cudagraphs:fa3
step 330 python scripts/benchmark.py hydra.run.dir=/tmp/bq out_dir=$OUT/quant vae=false \
  "paths=[$P,$P:fp8dq_row,$P:fp8dq_tensor,$P:int8dq]"
step 60 python -m pytest -q -x tests/test_cuda.py -k dynamic_schemes
step 90 python scripts/profile_block.py compile=default attention=fa3 quant=fp8dq_row out=/tmp/pq hydra.run.dir=/tmp/hpq
cp /tmp/pq/profile_block.json "$OUT/profile_block_default_fa3_fp8dq_row.json" 2>/dev/null
