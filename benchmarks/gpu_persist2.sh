#!/usr/bin/env bash
# Lever persist, second form (the first, Inductor's multi-kernel mode, does not compile here: gpu_persist.sh):
# Inductor's reduction heuristic swapped for one that keeps rows of up to 2048 persistent (compile/recipe.py
# persistent_rows), aimed at the LayerNorm + modulation and Q/K RMSNorm kernels (26-34 us a layer call,
# 1-2 TB/s; rows of 1536 are looped by default). Prediction: those kernels toward 12-22 us, -3 to -4 ms a block
# (~1.2 ms per latent frame). DiT alone, one process, then the block profile (persistent kernels are named
# triton_per_*, looped ones triton_red_*). Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3:none:gelu+kv_only+kv_write
step 260 python scripts/benchmark.py hydra.run.dir=/tmp/bl out_dir=$OUT/rows vae=false "paths=[$P,$P+persist]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
step 100 python scripts/profile_block.py compile=default_cudagraphs attention=fa3 \
  "compile.levers=[gelu,kv_only,kv_write,persist]" out=/tmp/pl hydra.run.dir=/tmp/hpl
cp /tmp/pl/profile_block.json "$OUT/profile_block_default_cudagraphs_fa3_gelu_kv_only_kv_write_persist.json" 2>/dev/null
