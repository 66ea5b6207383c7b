#!/usr/bin/env bash
# VAE head conv (written and run 2026-11-26). The kept VAE's profile (row 2026-11-26T0628Z) shows one Ampere
# cuDNN kernel, `sm80_xmma_fprop_implicit_gemm_indexed ... 128x32x32`, 3 calls a block at ~1.2 ms: by its count
# one call a pass, the head conv (96 -> 3 channels at 480x832, 25 GFLOP: ~20 TFLOP/s). First every conv of a
# steady pass timed alone (benchmarks/vae_conv_bench.py: which conv is what, and the head with its output
# channels padded to 8 .. 128), then the VAE with the head padded (`headN`, WanVAEDecoder.pad_head_channels)
# against the kept default, one process. Prediction: the head conv ~0.2-0.4 ms, the VAE 35.2 -> ~34.3 ms per
# latent frame. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
step 200 python benchmarks/vae_conv_bench.py --json $OUT/vae_conv_bench.json
V=cl:frame:compiled:timed+convpad+subpixel+fused+graph
step 380 python benchmarks/vae_bench.py --blocks 8 --out $OUT --only $V,$V+head8,$V+head16,$V+head32
