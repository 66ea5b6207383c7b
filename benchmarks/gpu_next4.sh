#!/usr/bin/env bash
# Device call (ran 2026-11-26, H100: BENCHMARKS.md, streaming VAE; the cuDNN comparison was then repeated in one process by gpu_vae_cudnn.sh): the VAE levers.
#  - the VAE with cuDNN's timed algorithm choice (the heuristic picks an Ampere kernel for 21 convolutions
#    of a block on the H100: BENCHMARKS.md, VAE), profiled, against the heuristic's choice;
#  - the VAE decode on a second stream against the serial decode (one Hydra process: the basic launcher
#    runs the jobs in turn in the same process), best BF16 path, streaming VAE on, 120 latent frames.
# Set LONGLIVE_COMMIT before calling; rows come back as rows.tgz.
set -uo pipefail
source benchmarks/device_common.sh
step 110 python benchmarks/vae_bench.py --blocks 6 --only cl:frame:compiled --profile --out /tmp/v0
step 110 python benchmarks/vae_bench.py --blocks 6 --only cl:frame:compiled --profile --cudnn-benchmark --out /tmp/v1
cp /tmp/v0/vae_bench.json $OUT/vae_profile_heuristic.json; cp /tmp/v1/vae_bench.json $OUT/vae_profile_cudnn_benchmark.json
step 330 python scripts/benchmark.py -m hydra.sweep.dir=/tmp/bo out_dir=$OUT/rows vae=true prompts=batch batch_size=1 \
  vae_overlap=false,true "paths=[ring:default_cudagraphs:fa3:none:gelu+kv_only+kv_write]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
