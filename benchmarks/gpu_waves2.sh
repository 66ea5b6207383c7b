#!/usr/bin/env bash
# Device call: FA3 alone at the model's attention shapes, now also replayed from CUDA graphs (attn_split.py's
# graph column: the 15:43Z eager figures carried the wheel's Python wrapper, which the waves variant skips); the
# kernel breakdown of a steady block with the defaults (lever waves included); then every CUDA test (test_cuda.py,
# FA3 ones included: the whole-suite call carries PyAV instead of the FA3 wheel). Prediction: waves 1.05-1.06x
# on the steady self-attention in the graph column; FA3 in the block profile ~128 ms instead of 135.7.
# Give LONGLIVE_COMMIT as a literal (device_common.sh).
# Result (16:01Z): graph column waves 0.902 vs 0.883 ms (0.98x), halves compiled 0.824 (1.07x); block 235.8 ms,
# FA3 131.8 + combine 0.8 under the profiler (BENCHMARKS.md, the waves section); test_cuda.py 36 passed.
set -uo pipefail
source benchmarks/device_common.sh
step 120 python benchmarks/attn_split.py --out $OUT
step 120 python scripts/profile_block.py compile=default_cudagraphs attention=fa3 out=/tmp/pl hydra.run.dir=/tmp/hpl
cp /tmp/pl/profile_block.json "$OUT/profile_block_default_cudagraphs_fa3_defaults_waves.json" 2>/dev/null
step 320 python -m pytest -q -p no:cacheprovider tests/test_cuda.py
