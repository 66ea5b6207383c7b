#!/usr/bin/env bash
# Warm start with and without lever ln, one machine (written and run 2026-11-26). Headline 9's call measured the
# warm start with ln at 42.0 s (warm-up 28.3 s, all 18 FX graphs served from the cache) against 24.8 s without it
# on another machine an hour before: the lever's cost, or the machine? Each pair starts from empty Inductor and
# Triton caches. Set LONGLIVE_COMMIT.
set -uo pipefail
rm -rf /tmp/ccache ~/.triton/cache
bash benchmarks/gpu_warmstart_vae2.sh ln_
rm -rf /tmp/ccache ~/.triton/cache
bash benchmarks/gpu_warmstart_vae2.sh noln_ "compile.levers=[gelu,kv_only,kv_write,fp8_gelu]"
