#!/usr/bin/env bash
# Device call: why quantized compiles are slow (stack dump), the CUDA-graph and FP8/VAE CUDA tests, and the
# reference run timed for the eager reference and the compiled paths with and without CUDA graphs.
set -uo pipefail
source benchmarks/device_common.sh
step 80 python benchmarks/quant_compile_probe.py int8dq --dump-after 60
step 150 python -m pytest -q tests/test_cuda.py tests/test_vae.py -k "cuda_graph or fa3_fp8 or channels or cuda_stream"
step 360 python scripts/benchmark.py hydra.run.dir=/tmp/bench out_dir=$OUT/results vae=true vae_channels_last=true \
  vae_per_frame=true 'paths=[reference:none:sdpa,ring:default:fa3,ring:default_cudagraphs:fa3]'
