#!/usr/bin/env bash
# The streaming VAE with today's defaults (channels-last, one latent frame a pass, cuDNN timed, padding in the
# conv, sub-pixel upsampling, the fused norm kernel, CUDA graphs, 128-channel convs, head taps, attention GEMMs)
# alone, with the kernel breakdown of one block by class: where its ~31 ms per latent frame go now, for the next
# VAE lever. Give LONGLIVE_COMMIT as a literal (device_common.sh).
set -uo pipefail
source benchmarks/device_common.sh
V=cl:frame:compiled:timed+convpad+subpixel+fused+graph+chan128+taps+gemms
step 300 python benchmarks/vae_bench.py --blocks 6 --profile --out $OUT --only $V
