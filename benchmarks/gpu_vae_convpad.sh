#!/usr/bin/env bash
# Ran 2026-11-26 (H100; BENCHMARKS.md, VAE; OPTIMIZATION_LOG.md row 26): the VAE's spatial zero padding inside the convolutions
# (WanVAEDecoder.pad_space_in_conv) against the padded copy Wan's layout writes before every conv, eager and
# compiled, cuDNN timed (the default), one process, with the kernel profile of each variant. Prediction from
# the H100 profile (pure padding kernels ~7.5 ms per block) and vae_bytes.py (-31.8 GB of unfused copies per
# block): compiled 40.6 -> ~38 ms per latent frame, eager -3 ms or more. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
step 270 python benchmarks/vae_bench.py --blocks 6 --out $OUT --profile \
  --only cl:frame:eager:timed,cl:frame:eager:timed+convpad,cl:frame:compiled:timed,cl:frame:compiled:timed+convpad
