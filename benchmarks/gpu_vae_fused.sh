#!/usr/bin/env bash
# The VAE's RMSNorm + SiLU in front of each cached conv as one Triton kernel that reads the conv's history
# itself (compile/vae_kernel.py, WanVAEDecoder.fuse_norm_history), against the compiled default (sub-pixel
# upsampling), eager and compiled, one process, profile and memory trace. Prediction: the transient at the
# peak falls from 3.8 GiB toward the eager 1.3 (no early history copies; gpu_vae_memory.sh showed the
# pre-norm history reaching 1.46 GiB with Inductor's pointwise concatenation, which cost 4 ms per latent
# frame in its norm kernels), and the norm class from 16.7 ms per block toward ~13 at ~2.5 TB/s.
# Plus the kernel's CUDA tests. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
step 200 python -m pytest -q -x tests/test_vae_kernel.py
step 380 python benchmarks/vae_bench.py --blocks 6 --out $OUT --profile --memory-trace \
  --only cl:frame:eager:timed+convpad+subpixel,cl:frame:eager:timed+convpad+subpixel+fused,cl:frame:compiled:timed+convpad+subpixel,cl:frame:compiled:timed+convpad+subpixel+fused
