#!/usr/bin/env bash
# The VAE's RMSNorm + SiLU in front of each cached conv as one Triton kernel that reads the conv's history
# itself (compile/vae_kernel.py, WanVAEDecoder.fuse_norm_history), against the compiled default (sub-pixel
# upsampling), eager and compiled, one process, profile and memory trace. Prediction: the transient at the
# peak falls from 3.8 GiB toward the eager 1.3 (no early history copies; gpu_vae_memory.sh showed the
# pre-norm history reaching 1.46 GiB with Inductor's pointwise concatenation, which cost 4 ms per latent
# frame in its norm kernels), and the norm class from 16.7 ms per block toward ~13 at ~2.5 TB/s.
# Plus the kernel's CUDA tests. Ran twice (2026-11-26): first with the kernel as a triton_op only (eager
# 64.9 -> 45.7 ms per latent frame; compiled 37.4 -> 62.4, the kernel 6.5x slower per call when Inductor
# launches it, transient 3.82 -> 1.12 GiB), then as here: the opaque custom op (launched as in eager) against
# the triton_op, with Inductor's generated code brought back (which showed the triton_op's float arguments
# typed fp64: its math ran in fp64); the third run with the kernel casting them to fp32. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
step 200 python -m pytest -q -x tests/test_vae_kernel.py -k "compiled or kernel_equals"
step 400 python benchmarks/vae_bench.py --blocks 8 --out $OUT --profile --memory-trace \
  --only cl:frame:eager:timed+convpad+subpixel+fused,cl:frame:compiled:timed+convpad+subpixel,cl:frame:compiled:timed+convpad+subpixel+fused,cl:frame:compiled:timed+convpad+subpixel+fusedtriton

