#!/usr/bin/env bash
# Headline 18: the defaults after lever ln joined the FP8 path (19:26Z ABBA: 75.0 / 75.2 -> 73.3 / 73.2 ms per latent
# frame, DiT alone): LongLive 1.0's own code, our eager path, the BF16 default and the FP8 default (ln now
# applied there), the reference run with the VAE, one process. Prediction: BF16 ~80.4 as at 18:17Z, FP8 ~74.3,
# FP8 end to end ~106.5. Give LONGLIVE_COMMIT as a literal (device_common.sh).
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3
step 560 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=true quality_frames=16 \
  longlive_src=$PWD/.longlive \
  "paths=[longlive,reference:none:sdpa,$P:none:gelu+kv_only+kv_write+ln+q_rope+waves+mod,$P:fp8dq_row:kv_only+kv_write+fp8_gelu+ln+q_rope+waves+mod]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
