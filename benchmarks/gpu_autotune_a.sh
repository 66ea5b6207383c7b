#!/usr/bin/env bash
# Device calls prepared for the next session (not yet run): compile=max_autotune's steady state, whose
# warm-up outlasts one call (over 340 s: OPTIMIZATION_LOG.md row 19). Call A warms the Inductor cache
# (autotuning results and kernels) under a time box and sends it back packed; call B
# (gpu_autotune_b.sh) carries it in and times mode default against max_autotune in one process.
set -uo pipefail
source benchmarks/device_common.sh
L=none:gelu+kv_only+kv_write
step 540 python scripts/benchmark.py hydra.run.dir=/tmp/ba out_dir=/tmp/rows_a vae=false prompts=single \
  num_frames=15 compile.cache_dir=/tmp/ind_cache "paths=[ring:max_autotune:fa3:$L]"
tar czf $OUT/ind_cache.tgz -C /tmp ind_cache && ls -la $OUT/ind_cache.tgz
