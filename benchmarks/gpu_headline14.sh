#!/usr/bin/env bash
# Written 2026-11-26 (session 9) for the next device session, not yet run. The VAE head conv through its taps
# (`head_taps`, OPTIMIZATION_LOG.md row 45: the VAE alone 31.7 -> 30.8 ms per latent frame) measured in the whole
# run beside the same path without it, one process, through the benchmark's per-path VAE field. If the VAE
# column keeps ~0.9 ms and end to end follows, make output.vae_head_taps the default (its warm start had no cost:
# 27.7 s against 30.7 without, 12:25Z). Prediction from headline 12 (12:47Z): VAE 32.8 -> ~31.9, end to end BF16
# 117.3 -> ~116.4. Give LONGLIVE_COMMIT as a literal (device_common.sh).
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3:none:gelu+kv_only+kv_write+ln
step 560 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=true quality_frames=16 \
  "paths=[reference:none:sdpa,$P,'$P:head_taps=true']"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
