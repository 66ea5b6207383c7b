#!/usr/bin/env bash
# cuDNN's heuristic against its timed algorithm choice (cudnn.benchmark) for the streaming VAE, eager and
# compiled, in one process (each variant on a fresh thread: the plan cache is per thread). Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
step 420 python benchmarks/vae_bench.py --blocks 6 --out $OUT \
  --only cl:frame:eager:heuristic,cl:frame:eager:timed,cl:frame:compiled:heuristic,cl:frame:compiled:timed
