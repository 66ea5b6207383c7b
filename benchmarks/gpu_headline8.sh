#!/usr/bin/env bash
# Headline 8 (written and run 2026-11-26 10:29Z at c892330) after the VAE's padded 96-channel convs
# (output.vae_conv_channels=128, now the default of compiled VAEs; gpu_vae_chan.sh): eager reference, the BF16
# default, FP8 row-wise with its levers, one process, full reference run, streaming VAE, decoded-frame PSNR
# against the eager reference. Prediction from headline 7 (10:07Z: VAE 36.3 / 36.1 in the run): VAE ~33, end to end BF16 ~119.5, FP8 ~113. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3
step 420 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=true quality_frames=16 \
  "paths=[reference:none:sdpa,$P:none:gelu+kv_only+kv_write,$P:fp8dq_row:kv_only+kv_write+fp8_gelu]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
