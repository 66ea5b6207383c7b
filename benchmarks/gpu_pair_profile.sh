#!/usr/bin/env bash
# Why lever pair gained nothing (gpu_pair.sh: 84.5 vs 84.4 ms per latent frame): the kernel profile of one steady
# block with and without it (written and run 2026-11-26 at c95f2d0, the commit that has the lever). With pair the
# profiled block is steps 1-3 of its block + the paired call (its clean pass and the next block's step 0): the
# same work as the 5 calls of a plain block. Compare the GEMM class's time and TFLOP/s and the copies class.
set -uo pipefail
source benchmarks/device_common.sh
for L in gelu,kv_only,kv_write gelu,kv_only,kv_write,pair; do
  step 150 python scripts/profile_block.py compile=default_cudagraphs attention=fa3 "compile.levers=[$L]" \
    compile.cache_dir=/tmp/cc hydra.run.dir=/tmp/pl out=/tmp/pl
  cp /tmp/pl/profile_block.json "$OUT/profile_block_${L//,/_}.json" 2>/dev/null
done
