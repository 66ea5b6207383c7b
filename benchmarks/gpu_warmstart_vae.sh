#!/usr/bin/env bash
# Device call (ran 2026-11-26, H100: BENCHMARKS.md, warm start; OPTIMIZATION_LOG.md window table): cold then warm start to the first decoded block
# with the VAE compiled too (`output.mp4=false`: decoded and timed, nothing written, so PyAV is not needed),
# the same Inductor cache directory for both runs; then the window/sink cell (21, 6) issue #8 misses.
# Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
for i in 1 2; do
  step 200 python scripts/generate.py model=wan_1_3b compile=default_cudagraphs attention=fa3 compile.cache_dir=/tmp/ccache \
    prompts=single num_frames=24 output.video=true output.mp4=false output.latents=false hydra.run.dir=/tmp/ws$i
  python -c "import json; t = json.load(open('/tmp/ws$i/timings.json')); print('start $i:', {k: t.get(k) for k in
    ('setup_s', 'warmup_s', 'first_frame_s', 'peak_mem_gib', 'estimated_peak_gib', 'levers')})" 2>&1 | tee -a "$LOG"
  cp /tmp/ws$i/timings.json $OUT/warmstart_vae_$i.json 2>/dev/null
done
step 60 python scripts/benchmark.py hydra.run.dir=/tmp/bw out_dir=$OUT vae=false prompts=single num_frames=60 \
  "paths=[ring:none_cudagraphs:fa3]" generation.local_attn_size=21 generation.sink_size=6
