#!/usr/bin/env bash
# VAE head conv through its taps (written and run 2026-11-26 11:33Z at 4906c09 after two failed starts, a K < 16
# dot for 8 channels and the triton_op path missing the new arguments, both fixed: 31.7 -> 30.8 ms per latent
# frame; the 19 CUDA tests passed in 167 s, the step's 170 s box then closed on pytest's exit). The head
# (96 -> 3 channels) is 1.2 ms of a ~32 ms pass under cuDNN, bound by re-reading its 27 taps' inputs (a Triton conv of that design did no better, row 43). Here the norm
# kernel that builds the head's input multiplies each pixel's channels by the 81 (tap, output) weight columns and
# stores the products (float32, 776 MB a pass at 480x832), and a second kernel sums each output's 27 neighbour
# products. Prediction: ~0.3 + ~0.3 ms instead of the conv's 1.2 and the input's 460 MB write: the VAE ~31.5 ->
# ~30.8 ms per latent frame. First the CUDA tests, then the VAE with and without it, one process. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
step 170 python -m pytest -q -x tests/test_vae_kernel.py -k "taps or fused_decoder or kernel_equals"
grep -q "passed" <(tail -n 3 $LOG) && ! grep -q "failed\|error" <(tail -n 3 $LOG) || exit 1
V=cl:frame:compiled:timed+convpad+subpixel+fused+graph+chan128
step 200 python benchmarks/vae_bench.py --blocks 6 --out $OUT --only $V,$V+taps
