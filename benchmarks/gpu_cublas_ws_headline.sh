#!/usr/bin/env bash
# The headline's process with cublas_workspace=none (meant as headline 19 when none was briefly the default, after the
# 20:45Z pair of processes: FP8 74.4 -> 72.1 ms per latent frame): LongLive 1.0's own code, our eager path, the BF16
# and the FP8 defaults, the reference run with the VAE, one process. Prediction: BF16 ~80, FP8 ~72, FP8 end to
# end ~104. Measured (20:55Z): the eager paths 1.2-1.7x slower (BENCHMARKS.md, cuBLAS workspace), so none is not a
# default. Give LONGLIVE_COMMIT as a literal (device_common.sh).
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3
step 560 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=true quality_frames=16 \
  cublas_workspace=none \
  longlive_src=$PWD/.longlive \
  "paths=[longlive,reference:none:sdpa,$P:none:gelu+kv_only+kv_write+ln+q_rope+waves+mod,$P:fp8dq_row:kv_only+kv_write+fp8_gelu+ln+q_rope+waves+mod]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
