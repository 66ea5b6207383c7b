#!/usr/bin/env bash
# The headline's BF16 path holds 9.01 GiB allocated at its peak but 11.88 GiB reserved (gpu_headline6.sh: the CUDA
# graphs' pool and the caching allocator's free blocks). Does the allocator's expandable segments
# (PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True) bring the reserved peak under 10 GiB, at the same speed?
# The same path twice, default allocator then expandable segments, each its own process. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3:none:gelu+kv_only+kv_write
step 200 python scripts/benchmark.py hydra.run.dir=/tmp/b1 out_dir=$OUT/default vae=true "paths=[$P]"
PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True step 200 python scripts/benchmark.py hydra.run.dir=/tmp/b2 \
  out_dir=$OUT/expandable vae=true "paths=[$P]"
tar czf $OUT/rows.tgz -C $OUT default expandable && rm -rf $OUT/default $OUT/expandable
