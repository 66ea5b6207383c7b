#!/usr/bin/env bash
# Which new VAE default costs the warm start (gpu_warmstart_vae2.sh: 36.4 s to the first decoded block warm,
# 29.2 s before this session's VAE changes)? The same cold + warm pair with the fused norm kernel off
# (output.vae_fused_norm=false; sub-pixel upsampling still on). Set LONGLIVE_COMMIT.
set -uo pipefail
exec bash benchmarks/gpu_warmstart_vae2.sh nofused_ output.vae_fused_norm=false
