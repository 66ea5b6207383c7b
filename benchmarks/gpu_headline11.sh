#!/usr/bin/env bash
# Run 2026-11-26 (session 9, first call). The CUDA tests of the vae_kernel refactor (8518b0b: one launch site,
# not yet run on the GPU), then the headline with the VAE head conv through its taps (`vae_head_taps=true`,
# OPTIMIZATION_LOG.md row 45: the VAE alone 31.7 -> 30.8 ms per latent frame). The first half of
# gpu_headline10.sh (its warm-start pair is gpu_warmstart_taps.sh). Prediction from headline 8 (10:29Z):
# VAE 32.3 -> ~31.4, end to end BF16 117.1 -> ~116.2. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
step 150 python -m pytest -q -x tests/test_vae_kernel.py
P=ring:default_cudagraphs:fa3
step 430 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=true quality_frames=16 vae_head_taps=true \
  "paths=[reference:none:sdpa,$P:none:gelu+kv_only+kv_write,$P:fp8dq_row:kv_only+kv_write+fp8_gelu]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
