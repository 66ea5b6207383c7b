#!/usr/bin/env bash
# Not yet run (written 2026-11-26 for the next device session). Lever fp8_gelu_fast: the fp8_gelu kernel with the
# hardware's approximate tanh (one MUFU instruction) and a multiplication by the scale's reciprocal instead of a
# division per element. fp8_gelu's kernel ran at 125 us (1.0 TB/s of the 126 MB it moves), not memory-bound;
# by a count of its instructions per element (~50: libdevice's tanh, an IEEE division) its arithmetic is ~70 us,
# the likely limit. Prediction: ~60-70 us a call, ~8 ms a block: FP8 78.9 -> ~76 ms per latent frame. First the
# CUDA tests (the fast variant within one e4m3 step of torchao's bytes), the kernels alone, then the FP8 path
# with each (DiT alone, one process). Keep it only at >= 1.05x (it changes the math: OPTIMIZATION_LOG.md rule).
# Set LONGLIVE_COMMIT.
P=ring:default_cudagraphs:fa3:fp8dq_row
PATHS="$P:kv_only+kv_write+fp8_gelu,$P:kv_only+kv_write+fp8_gelu_fast" bash benchmarks/gpu_fp8_gelu.sh
