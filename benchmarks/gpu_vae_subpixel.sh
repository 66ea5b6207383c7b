#!/usr/bin/env bash
# The VAE's spatial upsampling as one 2x2 conv giving the 4 output phases (WanVAEDecoder.subpixel_upsample)
# against nearest 2x + 3x3 conv, eager and compiled, with the current defaults (channels-last, one latent
# frame a pass, cuDNN timed, padding in the conv), one process, kernel profile and the allocations live at
# each variant's peak. Prediction (vae_bytes FLOP count: the three upsampling convs are 1.13 of 13.5 TFLOP per
# latent frame, 2.25x fewer with the fold; the 4x-sized upsampled copies, ~0.9 GB a pass, go): compiled
# 38.6 -> ~36.7 ms per latent frame. Also brings back Inductor's generated code (the norm kernels' sources).
# Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
step 420 python benchmarks/vae_bench.py --blocks 6 --out $OUT --profile --memory-trace \
  --only cl:frame:eager:timed+convpad,cl:frame:eager:timed+convpad+subpixel,cl:frame:compiled:timed+convpad,cl:frame:compiled:timed+convpad+subpixel
find /tmp/torchinductor_$(whoami) -name "*.py" -size -4M 2>/dev/null | tar czf $OUT/inductor_py.tgz -T - 2>/dev/null
ls -la $OUT
