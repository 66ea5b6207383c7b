#!/usr/bin/env bash
# Device call (session 3, last): batch 1 and 4 with the kept levers and the streaming VAE (different prompts
# and switch times per sample; recompiles counted), max-autotune against mode default (same process), the
# window/sink rows still missing (local 21 with sink 0/3/6, local 15 with sink 6), then the weight-only
# schemes compiled. Rows come back as rows.tgz. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
L=none:gelu+kv_only+kv_write
step 230 python scripts/benchmark.py -m hydra.sweep.dir=/tmp/bb out_dir=$OUT/rows prompts=batch batch_size=1,4 \
  vae=true "paths=[ring:default_cudagraphs:fa3:$L]"
step 190 python scripts/benchmark.py hydra.run.dir=/tmp/bm out_dir=$OUT/rows vae=false prompts=batch batch_size=1 \
  "paths=[ring:default:fa3:$L,ring:max_autotune:fa3:$L]"
step 100 python scripts/benchmark.py -m hydra.sweep.dir=/tmp/bw out_dir=$OUT/rows vae=false prompts=single \
  num_frames=60 "paths=[ring:none_cudagraphs:fa3]" generation.local_attn_size=21 generation.sink_size=0,3,6
step 40 python scripts/benchmark.py -m hydra.sweep.dir=/tmp/bw2 out_dir=$OUT/rows vae=false prompts=single \
  num_frames=60 "paths=[ring:none_cudagraphs:fa3]" generation.local_attn_size=15 generation.sink_size=6
P=ring:default_cudagraphs:fa3
step 150 python scripts/benchmark.py hydra.run.dir=/tmp/bq out_dir=$OUT/rows vae=false prompts=batch batch_size=1 \
  "paths=[$P,$P:int8wo,$P:fp8wo]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
