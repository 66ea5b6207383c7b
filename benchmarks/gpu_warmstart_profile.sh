#!/usr/bin/env bash
# Run 2026-11-26 (session 9). Where do the warm start's extra ~10 s with lever ln go (gpu_warmstart_ln.sh: warm-up
# 24.0 s with ln against 14.2 s without, one machine, all 18 FX graphs served from the cache in both)? The same
# cold + warm pair with ln, the warm run under cProfile (its stats file and a top-40 table come back), and the
# Triton cache directories counted after each run: new entries in the warm run would mean kernels compiled again.
# Then the rest of tests/test_vae_kernel.py (gpu_headline11.sh ran 23 of 26 in its 150 s). Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
count() { for d in ~/.triton/cache /tmp/ccache/triton; do echo "$1 $d: $(find $d -type f 2>/dev/null | wc -l) files"; done | tee -a "$LOG"; }
ARGS="model=wan_1_3b compile=default_cudagraphs attention=fa3 compile.cache_dir=/tmp/ccache prompts=single num_frames=24
  output.video=true output.mp4=false output.latents=false compile.levers=[gelu,kv_only,kv_write,fp8_gelu,ln]"
rm -rf /tmp/ccache ~/.triton/cache
step 200 python scripts/generate.py $ARGS hydra.run.dir=/tmp/ws1
count cold
step 200 python -m cProfile -o $OUT/warm_ln.prof scripts/generate.py $ARGS hydra.run.dir=/tmp/ws2
count warm
for i in 1 2; do cp /tmp/ws$i/timings.json $OUT/warmstart_profile_ln$i.json 2>/dev/null; done
python - <<'PY' 2>&1 | tee -a "$LOG" | tail -n 60
import json, os, pstats
for i in (1, 2):
    t = json.load(open(f"/tmp/ws{i}/timings.json"))
    print(f"start {i}:", {k: t.get(k) for k in ("setup_s", "warmup_s", "first_frame_s", "compile_cache")})
s = pstats.Stats(os.environ.get("OUT", "/tmp/out") + "/warm_ln.prof")
s.sort_stats("cumulative").print_stats(45)
s.sort_stats("tottime").print_stats(20)
PY
step 400 python -m pytest -q -x tests/test_vae_kernel.py -k "compiled_equals or pass_runner or graphed_vae"
