#!/usr/bin/env bash
# VAE residual convs with zero-padded output channels (written and run 2026-11-26). benchmarks/vae_conv_bench.py
# (gpu_vae_head.sh's first step, then alone with the padded rows) found the six 96-channel full-resolution convs
# the costliest of a pass (2.14 ms a call, 372 TFLOP/s, 12.8 of 27 ms of convolutions) and the same conv with
# 128 output channels, the first 96 kept, at 1.55 ms. WanVAEDecoder.pad_conv_channels(128) does that; the fused
# norm kernel reads the 96-channel view in place. Prediction: 6 x 0.59 ms = ~3.5 ms a pass, the VAE alone
# 35.0 -> ~31.5 ms per latent frame (a little less if the wider outputs cost their bytes). First the CUDA tests
# (the kernel on the view, the compiled decoder padded), then the VAE with and without, one process, profiled.
set -uo pipefail
source benchmarks/device_common.sh
step 240 python -m pytest -q -x tests/test_vae_kernel.py tests/test_vae.py -k "not bytes"
grep -q "passed" $LOG && ! grep -q "failed\|error" <(tail -n 3 $LOG) || exit 1
V=cl:frame:compiled:timed+convpad+subpixel+fused+graph
step 300 python benchmarks/vae_bench.py --blocks 8 --profile --out $OUT --only $V,$V+chan128
