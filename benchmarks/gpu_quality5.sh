#!/usr/bin/env bash
# Quality rows issue #8 still missed, each against the eager BF16 reference of the same process (latent SQNR
# and decoded-frame PSNR): FP8 attention (fa3_fp8) alone and with FP8 linear (SPEC.md's FP8 target is for
# that pair), int8wo (eager kernels in CUDA graphs: its compiled warm-up outlasts a call), fp8dq_tensor
# and int8dq compiled. The full reference run, streaming VAE. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs
step 575 python scripts/benchmark.py hydra.run.dir=/tmp/bq out_dir=$OUT/rows vae=true quality_frames=16 \
  "paths=[reference:none:sdpa,$P:fa3_fp8:none:gelu+kv_only+kv_write,$P:fa3_fp8:fp8dq_row:kv_only+kv_write,ring:none_cudagraphs:fa3:int8wo,$P:fa3:fp8dq_tensor:kv_only+kv_write,$P:fa3:int8dq:kv_only+kv_write]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
