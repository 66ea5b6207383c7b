#!/usr/bin/env bash
# Device call (session 3, last minutes): the streaming VAE's kernel breakdown (compiled, channels-last, one
# latent frame a pass: the default), then compile=max_autotune against mode default with the kept levers
# (120 latent frames, batch 1, same process), with a longer time box than the first attempt (190 s).
set -uo pipefail
source benchmarks/device_common.sh
step 110 python benchmarks/vae_bench.py --blocks 6 --only cl:frame:compiled --profile --out $OUT
L=none:gelu+kv_only+kv_write
step 370 python scripts/benchmark.py hydra.run.dir=/tmp/bm out_dir=$OUT vae=false prompts=batch batch_size=1 \
  "paths=[ring:default:fa3:$L,ring:max_autotune:fa3:$L]"
