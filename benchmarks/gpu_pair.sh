#!/usr/bin/env bash
# Lever pair (written and run 2026-11-26 at c95f2d0; measured 1.00x and removed after, OPTIMIZATION_LOG.md row 38:
# run it at that commit): a block's clean-context pass and the next block's first denoising call
# as one model call of 2 x 4680 rows (wan.CausalWanModel.forward_pair). The 1536 x 1536 GEMMs of 4680 rows run at
# ~415 TFLOP/s (SPEC.md section 3: 390 alone) against 634-678 for the FFN's; with twice the rows they fill the
# H100's waves better, and 2 of the 5 calls of a block become one. Attention stays one call per pass (each pass
# has its own keys). Prediction: ~1.5-2 ms per latent frame off the DiT (84.8 -> ~83), same on FP8.
# First the CUDA test of pair + kv_write + graphs against the plain model. DiT only, one process. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
step 150 python -m pytest -q -x tests/test_cuda.py -k "levers_with_cuda_graphs"
P=ring:default_cudagraphs:fa3
step 420 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=false \
  "paths=[$P:none:gelu+kv_only+kv_write,$P:none:gelu+kv_only+kv_write+pair,$P:fp8dq_row:kv_only+kv_write,$P:fp8dq_row:kv_only+kv_write+pair]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
