#!/usr/bin/env bash
# Device call (session 3, batch rows): batch 4 then batch 2 with the kept levers and the streaming VAE,
# different prompts and switch times per sample (conf/prompts/batch.yaml), recompiles counted over the run.
set -uo pipefail
source benchmarks/device_common.sh
for b in 4 2; do
  step 300 python scripts/benchmark.py hydra.run.dir=/tmp/bb$b out_dir=$OUT prompts=batch batch_size=$b vae=true \
    "paths=[ring:default_cudagraphs:fa3:none:gelu+kv_only+kv_write]"
done
