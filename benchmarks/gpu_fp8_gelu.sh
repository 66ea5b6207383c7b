#!/usr/bin/env bash
# Lever fp8_gelu (written and run 2026-11-26): the FFN's GELU + row-wise FP8 quantization of the 8960-wide hidden
# in one Triton kernel that reads the row once (compile/fp8_kernel.py), instead of Inductor's fused kernel of
# torchao's quantization (156 us a layer call in the FP8 block profile). Prediction: the kernel at ~2.5 TB/s
# (84 MB read, 42 MB written: ~50 us), ~100 us less a layer call, ~15 ms a block: FP8 81.7 -> ~77 ms per
# latent frame. First the CUDA tests (kernel against the reference, FFN against torchao's), then the FP8 path
# with and without it (DiT alone, one process), then the block profile with it. Set LONGLIVE_COMMIT.
# First run (920376a, one block of 16384 lanes): 190 us a call in the profile, FP8 83.7 -> 84.0 ms per latent
# frame (1.00x). Second run: the kernel with 8192 + 1024 lanes, its time alone against Inductor's first
# (benchmarks/fp8_gelu_bench.py), no profile. PATHS (env) replaces the two paths (gpu_fp8_gelu_fast.sh).
set -uo pipefail
source benchmarks/device_common.sh
step 150 python -m pytest -q -x tests/test_fp8_kernel.py
step 90 python benchmarks/fp8_gelu_bench.py --json $OUT/fp8_gelu_bench.json
P=ring:default_cudagraphs:fa3:fp8dq_row
step 300 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=false \
  "paths=[${PATHS:-$P:kv_only+kv_write,$P:kv_only+kv_write+fp8_gelu}]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
[ -n "${PROFILE:-}" ] && step 120 python scripts/profile_block.py compile=default_cudagraphs attention=fa3 quant=fp8dq_row \
  "compile.levers=[kv_only,kv_write,fp8_gelu]" hydra.run.dir=/tmp/pl out=/tmp/pl
cp /tmp/pl/profile_block.json "$OUT/profile_block_fp8dq_row_kv_only_kv_write_fp8_gelu.json" 2>/dev/null
