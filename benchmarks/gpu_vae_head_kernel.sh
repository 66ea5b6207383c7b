#!/usr/bin/env bash
# VAE head conv as a Triton kernel (written and run 2026-11-26 10:47Z at b62c4dc; dropped and removed since,
# OPTIMIZATION_LOG.md row 43: the kernel, benchmarks/vae_head_bench.py and the vae_bench variant `head` are in
# b62c4dc only; this file is the record of that call). cuDNN runs the 96 -> 3 channel head at ~20
# TFLOP/s (1.24 ms a pass), bound by its implicit im2col's reads: 2592 input values per output pixel from L2, and
# padding its output channels did not help (OPTIMIZATION_LOG.md row 41). compile/vae_kernel.py's kernel takes a
# tile of output pixels and loads the 27 shifted input tiles (mostly L1 hits) into tl.dot with 16 outputs.
# Prediction: L2 -> SM traffic ~1.4 GB instead of ~8 GB: ~0.3-0.5 ms, the VAE ~31.5 -> ~30.7 ms per latent frame.
# First the CUDA tests, then the kernel alone at several tiles against cuDNN (benchmarks/vae_head_bench.py), then
# the VAE with and without it (default tile), one process. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
step 300 python -m pytest -q -x tests/test_vae_kernel.py
grep -q "passed" <(tail -n 3 $LOG) && ! grep -q "failed\|error" <(tail -n 3 $LOG) || exit 1
step 120 python benchmarks/vae_head_bench.py --json $OUT/vae_head_bench.json
V=cl:frame:compiled:timed+convpad+subpixel+fused+graph+chan128
step 300 python benchmarks/vae_bench.py --blocks 8 --out $OUT --only $V,$V+head
