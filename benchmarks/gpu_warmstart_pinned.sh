#!/usr/bin/env bash
# Run 2026-11-26 (session 9), after pin_triton_ptxas (compile/recipe.py). gpu_warmstart_keys2.sh found the cause of
# the warm-start cost of lever ln: Triton's cache key holds the ptxas version, and Inductor switches Triton from its
# bundled ptxas 12.8 to torch's 13.0 lazily, at its first in-process compile; kernels compiled in the cold run before
# the switch were looked up after it in the warm run. With the ptxas pinned first: the warm start with ln, without,
# and with ln + persist (row 37's same unexplained cost), each pair from empty caches, the warm run's recompiled
# kernels listed (as gpu_warmstart_recompiles.sh). Set LONGLIVE_COMMIT.
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
pair lnpersist "compile.levers=[gelu,kv_only,kv_write,fp8_gelu,ln,persist]"
tar czf $OUT/warmstart_pinned.tgz -C $OUT $(cd $OUT && ls warmstart_*.json) && rm -f $OUT/warmstart_*.json
