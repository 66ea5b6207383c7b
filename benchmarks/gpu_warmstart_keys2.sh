#!/usr/bin/env bash
# Run 2026-11-26 (session 9). gpu_warmstart_keys.sh: the kernels a warm start with lever ln compiles again have the
# same IR and metadata as cold-run entries but another cache hash. Which part of Triton's key differs? The ln pair
# with benchmarks/keyshim (sitecustomize) logging each compile's key parts; the parts of the warm run's compiles
# compared with the cold run's for the same kernel (second run 12:42Z: the first logged no parts). Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
export PYTHONPATH=$PWD/benchmarks/keyshim:$PYTHONPATH
python -c "import triton.compiler.compiler as c; print('triton', __import__('triton').__version__, 'get_cache_key' in dir(c))" | tee -a "$LOG"
ARGS="model=wan_1_3b compile=default_cudagraphs attention=fa3 compile.cache_dir=/tmp/ccache prompts=single num_frames=24
  output.video=true output.mp4=false output.latents=false compile.levers=[gelu,kv_only,kv_write,fp8_gelu,ln]"
rm -rf /tmp/ccache ~/.triton/cache /tmp/keys
mkdir -p /tmp/keys
for i in 1 2; do
  KEYSHIM_LOG=/tmp/keys/run$i step 200 python scripts/generate.py $ARGS hydra.run.dir=/tmp/ws$i
done
cat /tmp/keys/run1.* > $OUT/keys_cold.jsonl; cat /tmp/keys/run2.* > $OUT/keys_warm.jsonl
python - <<'PY' 2>&1 | tee -a "$LOG"
import json, os
out = os.environ.get("OUT", "/tmp/out")
def load(p):
    return [json.loads(l) for l in open(p) if l.strip()]
cold, warm = load(out + "/keys_cold.jsonl"), load(out + "/keys_warm.jsonl")
print(len(cold), "compiles cold,", len(warm), "warm")
for w in warm:
    same = [c for c in cold if c.get("name") == w.get("name")]
    if not same:
        print("warm only:", w.get("name")); continue
    best = min(same, key=lambda c: sum(c.get(k) != w.get(k) for k in w))
    diff = {k: (best.get(k), w.get(k)) for k in w if best.get(k) != w.get(k)}
    hit = any(c.get("key") == w.get("key") for c in cold)
    print(w.get("name"), "hit" if hit else "MISS", json.dumps(diff, default=str)[:900])
PY
