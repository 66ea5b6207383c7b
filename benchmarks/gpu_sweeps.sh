#!/usr/bin/env bash
# Device call: the quantization sweep (every scheme, eager torchao kernels replayed from CUDA graphs, plus
# FP8 attention and the compiled BF16 path) in one process against eager BF16, then the window/sink sweep
# (a Hydra multirun in one process). Rows under $OUT/quant and $OUT/window.
set -uo pipefail
source benchmarks/device_common.sh
P=ring:none_cudagraphs
step 330 python scripts/benchmark.py hydra.run.dir=/tmp/bq out_dir=$OUT/quant vae=false \
  "paths=[$P:fa3,$P:fa3:int8wo,$P:fa3:int8dq,$P:fa3:fp8wo,$P:fa3:fp8dq_tensor,$P:fa3:fp8dq_row,$P:fa3_fp8:fp8dq_row,$P:fa3_fp8]"
step 230 python scripts/benchmark.py -m hydra.sweep.dir=/tmp/bw out_dir=$OUT/window vae=false prompts=single \
  num_frames=60 "paths=[$P:fa3]" generation.local_attn_size=6,9,12,15,21 generation.sink_size=0,3,6
