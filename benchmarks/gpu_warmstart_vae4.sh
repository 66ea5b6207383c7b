#!/usr/bin/env bash
# Which new VAE default costs the warm start (gpu_warmstart_vae2.sh: 36.4 s to the first decoded block warm,
# 29.2 s before this session's VAE changes)? The same cold + warm pair with the fused norm kernel off
# (output.vae_fused_norm_op=opaque; sub-pixel upsampling still on). Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
for i in 1 2; do
  step 200 python scripts/generate.py model=wan_1_3b compile=default_cudagraphs attention=fa3 compile.cache_dir=/tmp/ccache \
    prompts=single num_frames=24 output.video=true output.mp4=false output.latents=false output.vae_fused_norm_op=opaque \
    hydra.run.dir=/tmp/ws$i
  python -c "import json; t = json.load(open('/tmp/ws$i/timings.json')); print('start $i:', {k: t.get(k) for k in
    ('setup_s', 'warmup_s', 'first_frame_s', 'peak_mem_gib', 'estimated_peak_gib', 'levers')})" 2>&1 | tee -a "$LOG"
  cp /tmp/ws$i/timings.json $OUT/warmstart_vae_opaque_$i.json 2>/dev/null
done
