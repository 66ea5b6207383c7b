#!/usr/bin/env bash
# Device call prepared for what is still open (not yet run): compiled quantized paths now that torchao no
# longer turns on coordinate-descent tuning (rows with SQNR against BF16, written path by path), the
# profiler proof of low-precision GEMMs, max-autotune, and batch 4. Set LONGLIVE_COMMIT before calling.
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default:fa3
step 240 python scripts/benchmark.py hydra.run.dir=/tmp/bq out_dir=$OUT/quant vae=false \
  "paths=[$P,$P:fp8dq_row,$P:int8dq,$P:fp8dq_tensor,ring:default:fa3_fp8:fp8dq_row]"
step 60 python -m pytest -q tests/test_cuda.py -k dynamic_schemes
step 90 python scripts/profile_block.py compile=default attention=fa3 quant=fp8dq_row out=/tmp/pq hydra.run.dir=/tmp/hpq
cp /tmp/pq/profile_block.json "$OUT/profile_block_fp8dq_row.json" 2>/dev/null
step 150 python scripts/benchmark.py hydra.run.dir=/tmp/bm out_dir=$OUT/autotune vae=false num_frames=120 \
  prompts=batch batch_size=1 "paths=[ring:default:fa3,ring:max_autotune:fa3]"
