#!/usr/bin/env bash
# Second of the two max-autotune calls (see gpu_autotune_a.sh): call A's cache parts come back into the
# excluded folder .autotune/ (carried), then default_cudagraphs, max_autotune_cudagraphs and max_autotune
# are timed in one process with the warm cache. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
cat .autotune/ind_cache.tgz.part-* | tar xz -C /tmp || exit 1
L=none:gelu+kv_only+kv_write
step 560 python scripts/benchmark.py hydra.run.dir=/tmp/bb out_dir=$OUT vae=false prompts=batch batch_size=1 \
  compile.cache_dir=/tmp/ind_cache \
  "paths=[ring:default_cudagraphs:fa3:$L,ring:max_autotune_cudagraphs:fa3:$L,ring:max_autotune:fa3:$L]"
