#!/usr/bin/env bash
# Lever ln (written and run 2026-11-26 10:57Z at 794bcda: 83.5 vs 84.5, 1.012x; the ln_bench step was launch-bound,
# its bench replays CUDA graphs since; OPTIMIZATION_LOG.md row 44). Each residual add + LayerNorm + modulation
# of a block in one Triton kernel (compile/norm_kernel.py) instead of Inductor's looped reductions (25-28 us a call at the three sites,
# block profile). Prediction: ~10 / 20 / 20 us at ~2.8 TB/s instead of ~25 / 27 / 28 (the gated residual before
# norm3 was its own 15 us kernel): ~4 ms a block, BF16 84.9 -> ~83.5 ms per latent frame. First the CUDA tests,
# then the kernel alone against Inductor's compile of the same code (benchmarks/ln_bench.py), then the BF16 DiT
# with and without it, one process. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
step 240 python -m pytest -q -x tests/test_cuda.py -k "add_norm"
grep -q "passed" <(tail -n 3 $LOG) && ! grep -q "failed\|error" <(tail -n 3 $LOG) || exit 1
step 120 python benchmarks/ln_bench.py --json $OUT/ln_bench.json
P=ring:default_cudagraphs:fa3:none
step 330 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=false \
  "paths=[$P:gelu+kv_only+kv_write,$P:gelu+kv_only+kv_write+ln]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
