#!/usr/bin/env bash
# Device call (prepared 2026-11-26, not yet run): where lever `waves` gains in the model. Alone it saves ~20 us a
# self-attention call (0.867 vs 0.887 ms, CUDA graphs, fenced); in four runs the DiT saved 50-68 us a call. First
# the CUDA tests of waves (they assert backends.fa3_writes_into_out() on the wheel, added after the last call),
# then the kernel breakdown of a steady block without and with waves on the same machine, one after the other.
# Give LONGLIVE_COMMIT as a literal (device_common.sh).
set -uo pipefail
source benchmarks/device_common.sh
step 120 python -m pytest -q -p no:cacheprovider tests/test_cuda.py -k "waves or halves"
for L in gelu,kv_only,kv_write,ln,q_rope gelu,kv_only,kv_write,ln,q_rope,waves; do
  step 150 python scripts/profile_block.py compile=default_cudagraphs attention=fa3 "compile.levers=[$L]" \
    out=/tmp/pl hydra.run.dir=/tmp/hpl
  cp /tmp/pl/profile_block.json "$OUT/profile_block_${L//,/_}.json" 2>/dev/null
done
