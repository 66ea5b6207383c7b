#!/usr/bin/env bash
# The cross-attention (4680 queries x 512 text keys, 12 heads; FA3 87 us a call, ~170 TFLOP/s, 149 calls a block)
# alone: FA3, SDPA's kernels, compiled GEMMs and compile/xattn_kernel.py's Triton kernel at 16 configurations
# (its CUDA tests first); then the block profile of today's default levers (with ln), for the kernel appendix.
# Prediction: a kernel without FA3's ~21 us fixed cost per CTA at ~40-50 us a call, ~2 ms per latent frame.
# Give LONGLIVE_COMMIT as a literal (device_common.sh).
# Run at 256bae7 (13:54Z); compile/xattn_kernel.py and its test were removed after it (OPTIMIZATION_LOG.md row 51).
set -uo pipefail
source benchmarks/device_common.sh
step 120 python -m pytest -q tests/test_xattn_kernel.py
step 150 python benchmarks/cross_attention_bench.py --json $OUT/cross_attention_bench.json
step 200 python scripts/profile_block.py compile=default_cudagraphs attention=fa3 out=/tmp/pl hydra.run.dir=/tmp/hpl
cp /tmp/pl/profile_block.json "$OUT/profile_block_default_cudagraphs_fa3_levers_ln.json" 2>/dev/null
