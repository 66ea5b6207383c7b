#!/usr/bin/env bash
# Device call (session 3, fifth): the headline rows, same process, streaming VAE on: the eager reference
# path, compiled + CUDA graphs + FA3 without and with the kept levers (gelu, kv_only, kv_write), and FP8
# row-wise with the levers that apply to it. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3
step 570 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=true \
  "paths=[reference:none:sdpa,$P,$P:none:gelu+kv_only+kv_write,$P:fp8dq_row:kv_only+kv_write]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
