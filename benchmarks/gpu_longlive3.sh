#!/usr/bin/env bash
# Our paths against LongLive 1.0's own code on the same weights, prompts AND noise: the paths after `longlive` now
# replay its starting noise and re-noising draws (model.noise.ReplayNoise), so each row carries its latents' SQNR
# and rel. L2 against LongLive's (full shapes, 240 frames, 5 switches, BF16 on both sides; the tiny FP32 oracle
# agrees to ~1e-5). Prediction: our eager reference 30-45 dB against LongLive (BF16 kernels differ: SDPA vs FA3,
# fused vs unfused, float32 vs float64 RoPE), the BF16 default within a few dB of it, FP8 ~25 dB; timings as in
# gpu_longlive2.sh. Give LONGLIVE_COMMIT as a literal (device_common.sh).
# Result (18:00Z): against LongLive (152.9 ms): eager SDPA and FA3 9.4e-3 / 40.5 dB, BF16 default 80.3 ms (1.90x)
# 9.8e-3 / 40.2 dB, FP8 74.9 ms (2.04x) 27.7 dB.
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3
step 400 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=false longlive_src=$PWD/.longlive \
  "paths=[longlive,reference:none:sdpa,ring:none:fa3,$P:none:gelu+kv_only+kv_write+ln+q_rope+waves,$P:fp8dq_row:kv_only+kv_write+fp8_gelu+q_rope+waves]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
