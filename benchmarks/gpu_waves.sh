#!/usr/bin/env bash
# Device call: lever `waves` (compile/backends.fa3_wave_plan): its CUDA test, FA3 alone at every attention shape
# (attn_split.py, now with the waves variants), then the DiT alone (vae=false) in one process: eager reference,
# BF16 defaults, + waves, FP8 defaults, + waves. Prediction: the steady self-attention 0.864 -> ~0.770 ms a call
# (4 rounds of CTAs -> 3.5), ~149 such calls a block: ~4.5 ms less per latent frame (BF16 ~83.5 -> ~79).
# Give LONGLIVE_COMMIT as a literal (device_common.sh).
# Result (15:42Z, after the 15:37Z call failed on the wheel's alias check): CUDA test passed; DiT 83.4 -> 80.7,
# FP8 78.4 -> 75.0 (OPTIMIZATION_LOG.md row 53).
set -uo pipefail
source benchmarks/device_common.sh
step 120 python -m pytest -q tests/test_cuda.py -k "waves"
step 90 python benchmarks/attn_split.py --out $OUT
P=ring:default_cudagraphs:fa3
B=gelu+kv_only+kv_write+ln+q_rope
F=kv_only+kv_write+fp8_gelu+q_rope
step 380 python scripts/benchmark.py hydra.run.dir=/tmp/bw out_dir=$OUT/rows vae=false quality_frames=16 \
  "paths=[reference:none:sdpa,$P:none:$B,$P:none:$B+waves,$P:fp8dq_row:$F,$P:fp8dq_row:$F+waves]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
