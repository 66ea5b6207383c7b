#!/usr/bin/env bash
# Ran 2026-11-26 at 6e43ac2 after gpu_warmstart_vae2.sh (fused norm kernel as a triton_op: warm 36.4 s, cold
# 79.7 s) and ..vae3.sh (no fused kernel: warm 31.3 s, cold 58.7 s): the same cold + warm pair with the
# kernel as the opaque custom op (output.vae_fused_norm_op=opaque, the default since). Set LONGLIVE_COMMIT.
set -uo pipefail
exec bash benchmarks/gpu_warmstart_vae2.sh opaque_ output.vae_fused_norm_op=opaque
