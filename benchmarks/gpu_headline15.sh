#!/usr/bin/env bash
# The headline with the new defaults (q_rope; the VAE's head taps and attention GEMMs; the norm + RoPE kernel's
# whole-row loads, ROWS=1 / 4 warps), beside the earlier defaults in one process: eager reference, BF16 as at
# 12:52Z (ln, no q_rope, VAE without taps / GEMMs), BF16 default, FP8 default; then a warm-start pair of the
# defaults from empty caches (no kernel may compile again). Prediction from 14:06Z: BF16 ~0.3 ms less DiT and
# ~0.6 ms less VAE than the earlier defaults. Give LONGLIVE_COMMIT as a literal (device_common.sh).
set -uo pipefail
source benchmarks/device_common.sh
source benchmarks/warmstart_pair.sh
step 90 python -m pytest -q tests/test_cuda.py -k "fused_kv_write or fused_q_norm_rope"
P=ring:default_cudagraphs:fa3
step 360 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=true quality_frames=16 \
  "paths=[reference:none:sdpa,'$P:none:gelu+kv_only+kv_write+ln:head_taps=false+attention_gemms=false',$P:none:gelu+kv_only+kv_write+ln+q_rope,$P:fp8dq_row:kv_only+kv_write+fp8_gelu+q_rope]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
pair defaults
tar czf $OUT/warmstart.tgz -C $OUT $(cd $OUT && ls warmstart_*.json) && rm -f $OUT/warmstart_*.json
