#!/usr/bin/env bash
# The headline with lever `waves` a default (FA3 runs the query tiles of its whole waves as one call and splits
# only the rest's keys), beside the 14:15Z defaults in one process: eager reference, BF16 without waves, BF16
# default, FP8 default; then a warm-start pair of the defaults from empty caches (no kernel may compile again).
# Prediction from the 15:43Z DiT-only call (83.4 -> 80.7, FP8 78.4 -> 75.0): BF16 ~2.7 ms less DiT and end to
# end, the VAE unchanged. Give LONGLIVE_COMMIT as a literal (device_common.sh).
# Result (15:49Z): 82.3 -> 79.1 ms, end to end 114.0 -> 111.1, FP8 74.5; warm start 25.1 s (BENCHMARKS.md top).
set -uo pipefail
source benchmarks/device_common.sh
source benchmarks/warmstart_pair.sh
P=ring:default_cudagraphs:fa3
step 380 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=true quality_frames=16 \
  "paths=[reference:none:sdpa,$P:none:gelu+kv_only+kv_write+ln+q_rope,$P:none:gelu+kv_only+kv_write+ln+q_rope+waves,$P:fp8dq_row:kv_only+kv_write+fp8_gelu+q_rope+waves]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
pair defaults
tar czf $OUT/warmstart.tgz -C $OUT $(cd $OUT && ls warmstart_*.json) && rm -f $OUT/warmstart_*.json
