#!/usr/bin/env bash
# Device call prepared for the next session (not yet run): what the issues still miss.
#  - the VAE with cuDNN's timed algorithm choice (the heuristic picks an Ampere kernel for 21 convolutions
#    of a block on the H100: BENCHMARKS.md, VAE), profiled, against the default in the call before;
#  - the weight-only schemes compiled, against BF16 in the same process (rows with SQNR);
#  - the window/sink cell (21, 6).
# Set LONGLIVE_COMMIT before calling; rows come back as rows.tgz.
set -uo pipefail
source benchmarks/device_common.sh
step 120 python benchmarks/vae_bench.py --blocks 6 --only cl:frame:compiled --profile --out /tmp/v0
step 120 python benchmarks/vae_bench.py --blocks 6 --only cl:frame:compiled --profile --cudnn-benchmark --out /tmp/v1
cp /tmp/v0/vae_bench.json $OUT/vae_profile_heuristic.json; cp /tmp/v1/vae_bench.json $OUT/vae_profile_cudnn_benchmark.json
P=ring:default_cudagraphs:fa3
step 200 python scripts/benchmark.py hydra.run.dir=/tmp/bq out_dir=$OUT/rows vae=false prompts=batch batch_size=1 \
  "paths=[$P,$P:int8wo,$P:fp8wo]"
step 60 python scripts/benchmark.py hydra.run.dir=/tmp/bw out_dir=$OUT/rows vae=false prompts=single num_frames=60 \
  "paths=[ring:none_cudagraphs:fa3]" generation.local_attn_size=21 generation.sink_size=6
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
