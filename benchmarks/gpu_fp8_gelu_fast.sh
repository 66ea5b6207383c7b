#!/usr/bin/env bash
# Lever fp8_gelu_fast (written 2026-11-26, run 10:04Z at 7bc3a59; dropped and removed since, OPTIMIZATION_LOG.md
# row 40): the fp8_gelu kernel with the hardware's approximate tanh (one MUFU instruction) and a multiplication by
# the scale's reciprocal instead of a division per element. Prediction was ~60-70 us a call and FP8 78.9 -> ~76 ms
# per latent frame; measured 91 vs 120 us alone and 78.1 vs 79.3 ms (1.02x), below the 1.05x asked of a lever that
# changes the math. Kept as the record of that call; the lever no longer exists at HEAD.
P=ring:default_cudagraphs:fa3:fp8dq_row
PATHS="$P:kv_only+kv_write+fp8_gelu,$P:kv_only+kv_write+fp8_gelu_fast" bash benchmarks/gpu_fp8_gelu.sh
