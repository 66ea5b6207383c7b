#!/usr/bin/env bash
# Warm start with the 14:14Z defaults, after the DiT's random weights are drawn on the GPU (build_model: the 1.3B
# draws on the CPU took most of setup_s, 16-19 s on the 14:14Z machine against ~11 s earlier in the day). Two
# pairs from empty caches on one machine: the defaults, and the earlier defaults (no q_rope, the VAE without head
# taps / attention GEMMs), to see what the new defaults add to the warm-up. Prediction: setup ~3 s, warm start
# ~20 s. Give LONGLIVE_COMMIT as a literal (device_common.sh).
set -uo pipefail
source benchmarks/device_common.sh
source benchmarks/warmstart_pair.sh
pair defaults
pair before "compile.levers=[gelu,kv_only,kv_write,fp8_gelu,ln]" output.vae_head_taps=false output.vae_attention_gemms=false
tar czf $OUT/warmstart.tgz -C $OUT $(cd $OUT && ls warmstart_*.json) && rm -f $OUT/warmstart_*.json
