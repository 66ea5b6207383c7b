#!/usr/bin/env bash
# A second process of the LongLive comparison (gpu_longlive.sh, 17:46Z: LongLive 151.4 ms, BF16 default 80.8 =
# 1.87x, FP8 75.7 = 2.00x), the DiT alone (vae=false), on another machine start: how much the ratio moves.
# Prediction: 1.85-1.90x BF16, 1.98-2.03x FP8. Give LONGLIVE_COMMIT as a literal (device_common.sh).
# Result (17:54Z): LongLive 155.3 ms; our eager 139.5; BF16 default 80.8 (1.92x); FP8 75.7 (2.05x).
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3
step 400 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=false longlive_src=$PWD/.longlive \
  "paths=[longlive,reference:none:sdpa,$P:none:gelu+kv_only+kv_write+ln+q_rope+waves,$P:fp8dq_row:kv_only+kv_write+fp8_gelu+q_rope+waves]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
