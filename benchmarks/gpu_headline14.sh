#!/usr/bin/env bash
# Written 2026-11-26 (session 9) for the next device session, not yet run. Two VAE options measured in the whole
# run beside the same path without them, one process, through the benchmark's per-path VAE field:
#   head_taps        the head conv through its taps (OPTIMIZATION_LOG.md row 45: the VAE alone 31.7 -> 30.8 ms per
#                    latent frame; its warm start had no cost: 27.7 s against 30.7 without, 12:25Z)
#   attention_gemms  the middle attention as two GEMMs with float32 logits instead of SDPA's cutlass kernel (0.6 ms a
#                    pass at ~100 TFLOP/s; the GEMMs should take ~0.2)
# First the attention alone (benchmarks/vae_attention_bench.py) and its CUDA tests. Later paths find the DiT's
# graphs in the process's Inductor cache (headline 12: 16-20 s warm-up), so five paths fit; rows are written as
# each path ends. Prediction from headline 12 (12:47Z): VAE 32.8 -> ~31.9 with taps, ~0.4 less with the GEMMs;
# if both hold, make them defaults (end to end ~116). Give LONGLIVE_COMMIT as a literal (device_common.sh).
set -uo pipefail
source benchmarks/device_common.sh
step 90 python -m pytest -q tests/test_vae.py -k gemms
step 80 python benchmarks/vae_attention_bench.py --json $OUT/vae_attention_bench.json
P=ring:default_cudagraphs:fa3:none:gelu+kv_only+kv_write+ln
T=head_taps=true
G=attention_gemms=true
step 410 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=true quality_frames=16 \
  "paths=[reference:none:sdpa,$P,'$P:$T','$P:$G','$P:$T+$G']"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
