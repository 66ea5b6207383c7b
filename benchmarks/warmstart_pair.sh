# Sourced by gpu_warmstart_recompiles.sh and gpu_warmstart_pinned.sh (after device_common.sh): `pair TAG
# [HYDRA OVERRIDES...]` runs generate.py cold then warm on one Inductor cache dir, each from empty Inductor and
# Triton caches for the pair, and after each run lists the Triton cache's kernel metadata ($OUT/TAG1.txt, TAG2.txt);
# prints each run's timings and the kernels the warm run compiled again; timings.json to $OUT/warmstart_TAGN.json.
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
