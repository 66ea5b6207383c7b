#!/usr/bin/env bash
# Device call: lever persist (Inductor's multi-kernel reductions). The block profile (gpu_split_qkv.sh) shows
# the three LayerNorm + modulation kernels at 26-29 us a layer call (~1-2 TB/s) and the Q RMSNorm at 33.5 us:
# Inductor loops over rows of 1536 (its persistent-reduction threshold is 1024). With triton.multi_kernel it
# also generates the persistent kernel and keeps the faster. Prediction: those kernels toward ~15 us, -5 to
# -7 ms a block (~2 ms per latent frame); on FP8 the GELU + row-wise quantization kernel (rows of 8960,
# 156 us a call) may gain too. DiT alone, one process, then the block profile. Set LONGLIVE_COMMIT.
# Ran once (2026-11-26, commit 4acd5bc): the persist paths failed to compile (torch 2.11 with the image's Triton:
# MultiKernelCall.cache_file_path reads the Triton JIT function's cache_key, whose _hash_lock is None: TypeError);
# the other two paths' rows came back. The lever was removed again (OPTIMIZATION_LOG.md row 34).
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3
step 420 python scripts/benchmark.py hydra.run.dir=/tmp/bl out_dir=$OUT/rows vae=false \
  "paths=[$P:none:gelu+kv_only+kv_write,$P:none:gelu+kv_only+kv_write+persist,$P:fp8dq_row:kv_only+kv_write,$P:fp8dq_row:kv_only+kv_write+persist]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
step 100 python scripts/profile_block.py compile=default_cudagraphs attention=fa3 \
  "compile.levers=[gelu,kv_only,kv_write,persist]" out=/tmp/pl hydra.run.dir=/tmp/hpl
cp /tmp/pl/profile_block.json "$OUT/profile_block_default_cudagraphs_fa3_gelu_kv_only_kv_write_persist.json" 2>/dev/null
