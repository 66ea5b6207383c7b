#!/usr/bin/env bash
# The FP8 path's row-quantization kernels alone, by shape (benchmarks/fp8_rows_sweep.py): GELU + quantization of
# the FFN hidden (lever fp8_gelu's kernel, 125 us, latency-bound?) with 1-4 rows a program and 4-32 warps, and the
# quantization alone of an attention output [4680, 1536] against Inductor's (15.9 us in the 09:21Z FP8 profile).
# Prediction: a variant near 60-70 us for the GELU kernel (ALU ~45 us of libdevice tanh + division, 42 us of bytes
# at 3 TB/s), ~8 us for the quantization alone. Measured (20:25Z, in gpu_fp8_o.sh's call on branch
# next/fp8-row-kernels): 77.6 us for the kernel as it is, no variant faster; 6.2-7.1 us. Give LONGLIVE_COMMIT as a
# literal (device_common.sh).
set -uo pipefail
source benchmarks/device_common.sh
step 300 python benchmarks/fp8_rows_sweep.py --json $OUT/fp8_rows_sweep.json
