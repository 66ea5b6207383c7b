#!/usr/bin/env bash
# The headline with lever `mod` a default (every block's modulation rows in one op per forward; 18:08Z A/B: 80.8 ->
# 79.9 and 81.1 -> 80.0 BF16, 75.9 -> 75.6 FP8), LongLive 1.0's own code first (path `longlive`, carry .longlive
# and the diffusers + einops wheels in .whl: gpu_longlive.sh), the streaming VAE on: LongLive, our eager reference,
# the 15:49Z BF16 default (no mod), the BF16 default, the FP8 default. Prediction: BF16 ~1 ms per latent frame
# under the row without mod, ~1.9x LongLive. Give LONGLIVE_COMMIT as a literal (device_common.sh).
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3
step 560 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=true quality_frames=16 \
  longlive_src=$PWD/.longlive \
  "paths=[longlive,reference:none:sdpa,$P:none:gelu+kv_only+kv_write+ln+q_rope+waves,$P:none:gelu+kv_only+kv_write+ln+q_rope+waves+mod,$P:fp8dq_row:kv_only+kv_write+fp8_gelu+q_rope+waves+mod]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
