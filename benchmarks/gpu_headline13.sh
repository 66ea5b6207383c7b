#!/usr/bin/env bash
# Run 2026-11-26 (session 9). The headline with lever ln a default (gpu_headline12.sh: 1.011x in one process; its
# warm-start cost was Triton's ptxas switch, gone with pin_triton_ptxas): eager, BF16 with the default levers, FP8
# (ln applies to BF16 weights only). The VAE with its defaults (head taps off). Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3
step 560 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=true quality_frames=16 \
  "paths=[reference:none:sdpa,$P:none:gelu+kv_only+kv_write+ln,$P:fp8dq_row:kv_only+kv_write+fp8_gelu]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
