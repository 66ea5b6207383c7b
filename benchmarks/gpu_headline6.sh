#!/usr/bin/env bash
# The headline with this session's one kept change, the compiled VAE's passes replayed from CUDA graphs
# (output.vae_cuda_graphs, default on with compile.cuda_graphs; vae_bench: 35.6 -> 35.2 ms per latent frame):
# eager reference, best BF16 path, FP8 row-wise, one process, full reference run, decoded-frame PSNR against the
# eager reference; the rows now also carry the allocator's reserved peak (graph pools included). Then the cold
# and warm start of generate.py with the graphed VAE (the 30 s warm-start target held at 27.4 s without it).
# Prediction: VAE 36.4 -> ~35.8, end to end 122.3 -> ~121.5. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3
step 400 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=true quality_frames=16 \
  "paths=[reference:none:sdpa,$P:none:gelu+kv_only+kv_write,$P:fp8dq_row:kv_only+kv_write]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
bash benchmarks/gpu_warmstart_vae2.sh graphs_
