#!/usr/bin/env bash
# The headline in one process with the VAE's cuDNN timed algorithms (now the default) and decoded-frame PSNR
# against the eager BF16 reference (issue #8's quality rows): eager reference, best BF16 path, FP8 row-wise,
# FP8 weight-only, FP8 row-wise with lever tune (last: its compile is the longest). The full reference run.
# int8wo compiled is not here: its warm-up outlasted a 450 s box (gpu_next5.sh: 70-90 s per graph).
# Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3
step 575 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=true quality_frames=16 \
  "paths=[reference:none:sdpa,$P:none:gelu+kv_only+kv_write,$P:fp8dq_row:kv_only+kv_write,$P:fp8wo:kv_only+kv_write,$P:fp8dq_row:kv_only+kv_write+tune]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
