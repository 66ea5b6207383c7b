#!/usr/bin/env bash
# Run 2026-11-26 (session 9). gpu_warmstart_profile.sh found 22 Triton compilations (ptxas: 5 s) in the warm run
# with lever ln although every FX graph came from the cache, and 176 new files in Inductor's Triton cache. Which
# kernels are compiled again, with ln and without? Each pair from empty caches; after each run the Triton cache's
# kernel metadata (name, hash) is listed and the warm run's new entries printed. Then the warm start with the VAE
# head taps (output.vae_head_taps=true). Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
ARGS="model=wan_1_3b compile=default_cudagraphs attention=fa3 compile.cache_dir=/tmp/ccache prompts=single num_frames=24
  output.video=true output.mp4=false output.latents=false"
list() { find /tmp/ccache/triton ~/.triton/cache -name "*.json" ! -name "__grp__*" 2>/dev/null | sort > $OUT/$1.txt; }
pair() {
  local tag=$1; shift
  rm -rf /tmp/ccache ~/.triton/cache
  for i in 1 2; do
    step 200 python scripts/generate.py $ARGS "$@" hydra.run.dir=/tmp/ws$i
    list ${tag}$i
    cp /tmp/ws$i/timings.json $OUT/warmstart_${tag}$i.json 2>/dev/null
    python -c "import json; t = json.load(open('/tmp/ws$i/timings.json')); print('$tag start $i:', {k: t.get(k) for k in
      ('setup_s', 'warmup_s', 'first_frame_s', 'compile_cache')})" 2>&1 | tee -a "$LOG"
  done
  echo "$tag: $(wc -l < $OUT/${tag}1.txt) kernels after the cold run, new in the warm run:" | tee -a "$LOG"
  comm -13 $OUT/${tag}1.txt $OUT/${tag}2.txt | xargs -r -n1 basename | sort | uniq -c | tee -a "$LOG"
}
pair ln "compile.levers=[gelu,kv_only,kv_write,fp8_gelu,ln]"
pair noln
pair taps output.vae_head_taps=true
