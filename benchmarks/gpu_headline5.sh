#!/usr/bin/env bash
# The headline in one process with this session's VAE defaults on the compiled paths (padding in the convs,
# sub-pixel upsampling, the fused norm + history kernel): eager reference, best BF16 path, FP8 row-wise,
# with decoded-frame PSNR against the eager BF16 reference. The full reference run. Prediction from
# vae_bench (VAE alone 41.1 -> ~36 ms per latent frame, transient 3.9 -> ~1.0 GiB): BF16 end to end
# 126.9 -> ~121, peak 11.9 -> ~9.2 GiB. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3
step 560 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=true quality_frames=16 \
  "paths=[reference:none:sdpa,$P:none:gelu+kv_only+kv_write,$P:fp8dq_row:kv_only+kv_write]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
