#!/usr/bin/env bash
# Run 2026-11-26 (session 9), after pin_triton_ptxas (compile/recipe.py). gpu_warmstart_keys2.sh found the cause of
# the warm-start cost of lever ln: Triton's cache key holds the ptxas version, and Inductor switches Triton from its
# bundled ptxas 12.8 to torch's 13.0 lazily, at its first in-process compile; kernels compiled in the cold run before
# the switch were looked up after it in the warm run. With the ptxas pinned first: the warm start with ln, without,
# and with ln + persist (row 37's same unexplained cost), each pair from empty caches, the warm run's recompiled
# kernels listed (as gpu_warmstart_recompiles.sh). Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
source benchmarks/warmstart_pair.sh
pair ln "compile.levers=[gelu,kv_only,kv_write,fp8_gelu,ln]"
pair noln
pair lnpersist "compile.levers=[gelu,kv_only,kv_write,fp8_gelu,ln,persist]"
tar czf $OUT/warmstart_pinned.tgz -C $OUT $(cd $OUT && ls warmstart_*.json) && rm -f $OUT/warmstart_*.json
