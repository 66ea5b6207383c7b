#!/usr/bin/env bash
# Device call (session 3, fourth): lever q_rope (Q's norm + RoPE in the Triton kernel) and lever tune
# (Inductor coordinate-descent tuning) on top of the kept levers, same process; CUDA tests; the block
# profile with the kept levers. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
step 90 python -m pytest -q -x tests/test_cuda.py -k "kv_write or levers or q_norm"
P=ring:default_cudagraphs:fa3:none:gelu+kv_only+kv_write
step 360 python scripts/benchmark.py hydra.run.dir=/tmp/bl out_dir=$OUT/rows vae=false \
  "paths=[$P,$P+q_rope,$P+q_rope+tune]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
step 80 python scripts/profile_block.py compile=default_cudagraphs attention=fa3 "compile.levers=[gelu,kv_only,kv_write,q_rope]" \
  out=/tmp/pl hydra.run.dir=/tmp/hpl
cp /tmp/pl/profile_block.json "$OUT/profile_block_default_cudagraphs_fa3_gelu_kv_only_kv_write_q_rope.json" 2>/dev/null
