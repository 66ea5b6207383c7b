#!/usr/bin/env bash
# Why lever pair gained nothing (gpu_pair.sh: 84.5 vs 84.4 ms per latent frame): the kernel profile of one steady
# block with and without it (written and run 2026-11-26 at c95f2d0, the commit that has the lever). With pair the
# profiled block is steps 1-3 of its block + the paired call (its clean pass and the next block's step 0): the
# same work as the 5 calls of a plain block. Compare the GEMM class's time and TFLOP/s and the copies class.
# Result: not usable for pair. profile_block.py profiles the stream's last block, which has no next block to pair
# with: 4 of the 5 calls, and its unpaired clean pass was a shape first met (and captured) under the profiler.
# Its unprofiled block (the one before, paired) took 248.1 ms against 251.2 without the lever, one block each.
set -uo pipefail
source benchmarks/device_common.sh
for L in gelu,kv_only,kv_write gelu,kv_only,kv_write,pair; do
  step 150 python scripts/profile_block.py compile=default_cudagraphs attention=fa3 "compile.levers=[$L]" \
    compile.cache_dir=/tmp/cc hydra.run.dir=/tmp/pl out=/tmp/pl
  cp /tmp/pl/profile_block.json "$OUT/profile_block_${L//,/_}.json" 2>/dev/null
done
