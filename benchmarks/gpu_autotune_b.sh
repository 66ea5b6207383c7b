#!/usr/bin/env bash
# Second of the two max-autotune calls (see gpu_autotune_a.sh): put call A's ind_cache.tgz at the
# repository root (an untracked file travels with the tree; keep it under ~30 MB beside .whl), then time
# the mode-default path and max_autotune in one process with the warm cache.
set -uo pipefail
source benchmarks/device_common.sh
tar xzf ind_cache.tgz -C /tmp
L=none:gelu+kv_only+kv_write
step 540 python scripts/benchmark.py hydra.run.dir=/tmp/bb out_dir=$OUT vae=false prompts=batch batch_size=1 \
  compile.cache_dir=/tmp/ind_cache "paths=[ring:default:fa3:$L,ring:max_autotune:fa3:$L]"
