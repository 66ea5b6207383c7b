#!/usr/bin/env bash
# Cold and warm start of generate.py with the VAE compiled, as gpu_warmstart_vae.sh, with this session's VAE
# defaults (sub-pixel upsampling, the fused norm kernel: a triton_op whose kernels Inductor compiles and
# caches with the graph; the default at c2b4b5c, where it ran: today add output.vae_fused_norm_op=traced).
# The warm start was 29.2 s against the 30 s target; does it still hold?
# Usage: gpu_warmstart_vae2.sh [TAG [HYDRA OVERRIDES...]]: the overrides go to both runs, the timings to
# $OUT/warmstart_vae_${TAG}1.json and ..2.json (gpu_warmstart_vae3.sh and ..4.sh call it so). Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
TAG=${1:-}
shift $(( $# > 0 ? 1 : 0 ))
for i in 1 2; do
  step 200 python scripts/generate.py model=wan_1_3b compile=default_cudagraphs attention=fa3 compile.cache_dir=/tmp/ccache \
    prompts=single num_frames=24 output.video=true output.mp4=false output.latents=false "$@" hydra.run.dir=/tmp/ws$i
  python -c "import json; t = json.load(open('/tmp/ws$i/timings.json')); print('start $i:', {k: t.get(k) for k in
    ('setup_s', 'warmup_s', 'first_frame_s', 'peak_mem_gib', 'estimated_peak_gib', 'levers')})" 2>&1 | tee -a "$LOG"
  cp /tmp/ws$i/timings.json $OUT/warmstart_vae_${TAG}$i.json 2>/dev/null
done
