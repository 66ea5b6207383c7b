#!/usr/bin/env bash
# Two levers aimed at the remaining targets (BF16 80, VAE 35 ms per latent frame), measured alone first.
# 1. FA3 with its keys split (lever `split`, compile/backends.fa3_num_splits): the steady self-attention runs
#    444 CTAs on 132 SMs (4 waves, the last a third full); 2 parts give 6.7 waves. Prediction: ~0.92 -> ~0.85 ms
#    a call (the float32 partials cost ~40 us), x 150 calls a block: ~3 ms per latent frame.
# 2. The compiled VAE's passes replayed from CUDA graphs (GraphedVAEPasses): its kernels sum to 34.6 ms per
#    latent frame against 36.2 measured; prediction ~35.
# Plus their CUDA tests. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
step 240 python -m pytest -q -x tests/test_vae_kernel.py tests/test_cuda.py -k "graph or split"
step 120 python benchmarks/attn_split.py --out $OUT
step 300 python benchmarks/vae_bench.py --blocks 8 --out $OUT \
  --only cl:frame:compiled:timed+convpad+subpixel+fused,cl:frame:compiled:timed+convpad+subpixel+fused+graph
