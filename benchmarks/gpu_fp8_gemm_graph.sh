#!/usr/bin/env bash
# One FP8 GEMM (torch._scaled_mm, row-wise) in a CUDA graph by shape and variant, the kernels of a replay: where
# the FP8 block profile's Memset before every FP8 GEMM comes from (benchmarks/fp8_gemm_graph.py). Prediction: if
# the memset and its ~2.5 us gap go with a variant, ~3.9 ms a block (1.3 per latent frame) on the FP8 path.
set -uo pipefail
source benchmarks/device_common.sh
step 200 python benchmarks/fp8_gemm_graph.py --json $OUT/fp8_gemm_graph.json
