#!/usr/bin/env bash
# Headline 9 (written and run 2026-11-26 11:02Z at 5b7d66f; ln was a default then, an option since: its warm
# start measured 42.0 s here, 36.2 vs 25.8 without on one machine, gpu_warmstart_ln.sh) with lever ln in the
# BF16 default (gpu_ln.sh: 83.5 vs 84.5 ms per latent frame, DiT alone): eager reference, the BF16 default, FP8 row-wise with its levers, one process, full reference run,
# streaming VAE, decoded-frame PSNR against the eager reference; then the warm start of generate.py with the
# defaults (cold and warm, gpu_warmstart_vae2.sh). Prediction from headline 8 (10:29Z): BF16 ~83.9, end to end
# ~116; FP8 unchanged (ln is skipped for quantized models); warm start ~25 s. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3
step 420 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=true quality_frames=16 \
  "paths=[reference:none:sdpa,$P:none:gelu+kv_only+kv_write+ln,$P:fp8dq_row:kv_only+kv_write+fp8_gelu]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
bash benchmarks/gpu_warmstart_vae2.sh ln_
