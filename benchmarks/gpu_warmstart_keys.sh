#!/usr/bin/env bash
# Run 2026-11-26 (session 9). gpu_warmstart_recompiles.sh: with lever ln the warm run compiles 22 Triton kernels
# again (3 of ln's, 13 of the VAE norm's, 6 of Inductor's), without ln none; so their cache keys differ between the
# cold and the warm process. The same ln pair, then the metadata (json) of a cold and a warm entry of each kernel
# compiled again, the fields that differ printed. Second run (12:33Z): whole cache entries (IR files) come back.
# Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
ARGS="model=wan_1_3b compile=default_cudagraphs attention=fa3 compile.cache_dir=/tmp/ccache prompts=single num_frames=24
  output.video=true output.mp4=false output.latents=false compile.levers=[gelu,kv_only,kv_write,fp8_gelu,ln]"
rm -rf /tmp/ccache ~/.triton/cache
for i in 1 2; do
  step 200 python scripts/generate.py $ARGS hydra.run.dir=/tmp/ws$i
  find /tmp/ccache/triton -name "*.json" ! -name "__grp__*" | sort > /tmp/list$i.txt
done
comm -13 /tmp/list1.txt /tmp/list2.txt > $OUT/new.txt
tar czf $OUT/json_new.tgz -C / $(xargs -n1 dirname < $OUT/new.txt | sed 's#^/##')
tar czf $OUT/json_cold.tgz -C / $(grep -F -f <(xargs -n1 basename < $OUT/new.txt | sort -u) /tmp/list1.txt | xargs -n1 dirname | sed 's#^/##')
python - <<'PY' 2>&1 | tee -a "$LOG"
import json, os, collections
new = [l.strip() for l in open(os.environ.get("OUT", "/tmp/out") + "/new.txt")]
cold = [l.strip() for l in open("/tmp/list1.txt")]
done = set()
for p in new:
    name = os.path.basename(p)
    if name in done:
        continue
    done.add(name)
    w = json.load(open(p))
    for c in (q for q in cold if os.path.basename(q) == name):
        cj = json.load(open(c))
        diff = {k: (cj.get(k), w.get(k)) for k in set(cj) | set(w) if cj.get(k) != w.get(k) and k != "hash"}
        print(name, "cold vs warm:", json.dumps(diff)[:1500])
        break
PY
