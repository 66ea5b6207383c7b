#!/usr/bin/env bash
# Device call: the CUDA tests of this session's changes (the shared graph pool, FA3 key splits, the graphed VAE
# passes, the kv_write kernel reading lever qkv's fused projection in place), then the DiT alone with the kept
# levers against + split, + qkv (now that kv_write reads K and V in place, the strided-read penalty that
# dropped it in row 15 is gone), + both, one process; and the block profile of the last.
# Predictions (per latent frame): split -1.0 ms (21 us x 150 attention calls a block); qkv -0.7 ms (the
# 2 ms a block its GEMMs saved in row 15). Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
step 200 python -m pytest -q tests/test_cuda.py tests/test_vae_kernel.py -k "shared_pool or split or graph or fused_kv_write"
P=ring:default_cudagraphs:fa3:none:gelu+kv_only+kv_write
step 300 python scripts/benchmark.py hydra.run.dir=/tmp/bl out_dir=$OUT/rows vae=false \
  "paths=[$P,$P+split,$P+qkv,$P+split+qkv]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
step 90 python scripts/profile_block.py compile=default_cudagraphs attention=fa3 \
  "compile.levers=[gelu,kv_only,kv_write,split,qkv]" out=/tmp/pl hydra.run.dir=/tmp/hpl
cp /tmp/pl/profile_block.json "$OUT/profile_block_default_cudagraphs_fa3_gelu_kv_only_kv_write_split_qkv.json" 2>/dev/null
