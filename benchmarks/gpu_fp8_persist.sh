#!/usr/bin/env bash
# Lever persist on the FP8 path (written and run 2026-11-26). The FP8 path's activation quantization (row-wise
# amax, scale, cast in front of every FP8 GEMM) is 41 ms of a 272 ms block in the kernel appendix; its costliest
# kernel, the GELU + quantization of the 8960-wide FFN hidden (156 us a layer call, ~1.3 TB/s), is a looped
# reduction that reads its row twice. persist (rows <= 2048: the LayerNorm + modulation + quantization rows of
# 1536) and persist16384 (also the FFN hidden) in one process, DiT only. Prediction: persist16384 takes ~100 us
# off each FFN quantization, ~15 ms a block: 81.9 -> ~76 ms per latent frame. Then the warm start with persist
# and its keyed cache, with the caches' hit counts (timings.json compile_cache): 35.1 s at 08:44Z, 27.3 without.
# Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3:fp8dq_row
step 330 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=false \
  "paths=[$P:kv_only+kv_write,$P:kv_only+kv_write+persist,$P:kv_only+kv_write+persist16384]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
bash benchmarks/gpu_warmstart_vae2.sh persist_ "compile.levers=[gelu,kv_only,kv_write,persist]"
grep "caches:" $LOG | tail -n 2
