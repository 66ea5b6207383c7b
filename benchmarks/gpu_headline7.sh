#!/usr/bin/env bash
# Run 2026-11-26 10:07Z at 7bc3a59 (headline 7, BENCHMARKS.md). The headline with session 7's kept lever,
# fp8_gelu on the FP8 path (DiT alone: 82.0 -> 78.9 ms per latent frame, gpu_fp8_gelu.sh): eager reference, the
# BF16 default, FP8 row-wise with its levers, one process, full reference run, streaming VAE, decoded-frame PSNR
# against the eager reference. Prediction: BF16 as in headline 6 (84.8, end to end 121.0; nothing of its path
# changed); FP8 81.9 -> ~79, end to end 117.6 -> ~114.7, switch +129 -> ~+122. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3
step 420 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=true quality_frames=16 \
  "paths=[reference:none:sdpa,$P:none:gelu+kv_only+kv_write,$P:fp8dq_row:kv_only+kv_write+fp8_gelu]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
