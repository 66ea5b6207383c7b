#!/usr/bin/env bash
# Cold and warm start of generate.py with the VAE compiled, as gpu_warmstart_vae.sh, with this session's VAE
# defaults (sub-pixel upsampling, the fused norm kernel: a triton_op whose kernels Inductor compiles and
# caches with the graph). The warm start was 29.2 s against the 30 s target; does it still hold? Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
for i in 1 2; do
  step 200 python scripts/generate.py model=wan_1_3b compile=default_cudagraphs attention=fa3 compile.cache_dir=/tmp/ccache \
    prompts=single num_frames=24 output.video=true output.mp4=false output.latents=false hydra.run.dir=/tmp/ws$i
  python -c "import json; t = json.load(open('/tmp/ws$i/timings.json')); print('start $i:', {k: t.get(k) for k in
    ('setup_s', 'warmup_s', 'first_frame_s', 'peak_mem_gib', 'estimated_peak_gib', 'levers')})" 2>&1 | tee -a "$LOG"
  cp /tmp/ws$i/timings.json $OUT/warmstart_vae_$i.json 2>/dev/null
done
