#!/usr/bin/env bash
# The compiled VAE's transient memory (3.8 GiB above the held buffers, 1.3 eager: Inductor copies each conv's
# 2-frame history into its [history, new frames] concatenation buffer early in the pass, so the 6-frame
# buffers of all full-resolution convs are alive at once; gpu_vae_subpixel.sh's memory trace). Variants:
# Inductor's pointwise concatenation (force_pointwise_cat), and the convs caching their frames before the
# RMSNorm + SiLU (WanVAEDecoder.history_before_norm) so the history enters the conv input inside the norm
# kernel. Prediction from the CPU build of the same graphs (static peak of the generated code, tiny VAE):
# pointwise cat halves the transient, with the pre-norm history 0.4x; speed within 2% if the norm kernel
# reads the history itself. Plus the CUDA tests of the VAE. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
step 120 python -m pytest -q -x tests/test_vae.py -k "cuda or history or subpixel"
step 470 python benchmarks/vae_bench.py --blocks 6 --out $OUT --profile --memory-trace \
  --only cl:frame:eager:timed+convpad+subpixel,cl:frame:eager:timed+convpad+subpixel+prenorm,cl:frame:compiled:timed+convpad+subpixel,cl:frame:compiled:timed+convpad+subpixel+pwcat,cl:frame:compiled:timed+convpad+subpixel+prenorm+pwcat,cl:frame:compiled:timed+convpad+subpixel+prenorm
