#!/usr/bin/env bash
# compile/kv_kernel.py's Q / K norm + RoPE kernel rewritten: rows loaded whole and split into (even, odd) pairs in
# registers (the old one loaded every other element, stride 2) and ROWS tokens a program. The 13:57Z block profile
# had Q's norm + RoPE (Inductor) at 30.9 us and the K/V kernel at 29.0 us a layer call against ~10 / ~19 us of
# bytes at 3 TB/s. First its CUDA tests (stop if they fail), the kernel alone at 8 configurations against
# Inductor's kernels, then the reference run with the VAE, one process: default levers (the new K kernel),
# + q_rope, + q_rope with the VAE's head taps and attention GEMMs; then the block profile with q_rope.
# Prediction: q_rope ~1 ms per latent frame (31 -> ~12 us x 149 calls a block), the K kernel ~0.4.
# Give LONGLIVE_COMMIT as a literal (device_common.sh).
set -uo pipefail
source benchmarks/device_common.sh
step 150 python -m pytest -q tests/test_cuda.py -k "fused_kv_write or fused_q_norm_rope or levers_with_cuda_graphs"
grep -q "exit 0" <(tail -1 $LOG) || exit 1
step 90 python benchmarks/norm_rope_bench.py --json $OUT/norm_rope_bench.json
P=ring:default_cudagraphs:fa3:none:gelu+kv_only+kv_write+ln
step 330 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=true quality_frames=16 \
  "paths=[reference:none:sdpa,$P,$P+q_rope,'$P+q_rope:head_taps=true+attention_gemms=true']"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
step 100 python scripts/profile_block.py compile=default_cudagraphs attention=fa3 \
  "compile.levers=[gelu,kv_only,kv_write,ln,q_rope]" out=/tmp/pl hydra.run.dir=/tmp/hpl
cp /tmp/pl/profile_block.json "$OUT/profile_block_default_cudagraphs_fa3_levers_ln_q_rope.json" 2>/dev/null
