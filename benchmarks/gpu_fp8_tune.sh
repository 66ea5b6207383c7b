#!/usr/bin/env bash
# FP8 row-wise with and without lever tune (Inductor's coordinate-descent tuning) in one process: its
# GELU + FP8-quantization kernel runs at ~0.8 TB/s (156 us per layer call). The tune path timed out in
# gpu_headline4.sh's box. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3
step 560 python scripts/benchmark.py hydra.run.dir=/tmp/bt out_dir=$OUT vae=false prompts=batch batch_size=1 \
  "paths=[$P:fp8dq_row:kv_only+kv_write,$P:fp8dq_row:kv_only+kv_write+tune]"
