#!/usr/bin/env bash
# Device call: batch 1/2/4 with different prompts and switch times per sample (compiled + CUDA graphs,
# FA3, streaming VAE), the 2001-latent-frame stream of the real shapes, and cold vs warm start with an
# inductor cache directory (DiT only: the GPU image has no PyAV for the mp4).
set -uo pipefail
source benchmarks/device_common.sh
step 250 python scripts/benchmark.py -m hydra.sweep.dir=/tmp/bb out_dir=$OUT/batch prompts=batch batch_size=1,2,4 \
  vae=true vae_per_frame=true vae_channels_last=true "paths=[ring:default_cudagraphs:fa3]"
step 230 python benchmarks/long_stream.py 2001 wan_1_3b cuda default_cudagraphs fa3 $OUT
for i in 1 2; do
  step 100 python scripts/generate.py model=wan_1_3b compile=default_cudagraphs attention=fa3 compile.cache_dir=/tmp/ccache \
    prompts=single num_frames=24 output.video=false hydra.run.dir=/tmp/ws$i
  python -c "import json; t = json.load(open('/tmp/ws$i/timings.json')); print('start $i:', {k: t.get(k) for k in
    ('setup_s', 'warmup_s', 'first_frame_s', 'peak_mem_gib', 'estimated_peak_gib')})" 2>&1 | tee -a "$LOG"
done
