#!/usr/bin/env bash
# Device call: quantized-compile diagnosis, the compiled VAE per-frame variant, the BF16 kernel breakdown.
set -uo pipefail
source benchmarks/device_common.sh
TORCH_LOGS=recompiles step 170 python benchmarks/quant_compile_probe.py fp8dq_row
step 120 python benchmarks/quant_compile_probe.py int8dq
step 100 python benchmarks/vae_bench.py --only cl:block:eager,cl:frame:compiled --out "$OUT"
step 90 python scripts/profile_block.py compile=default attention=fa3 quant=none out=/tmp/prof hydra.run.dir=/tmp/hprof
cp /tmp/prof/profile_block.json "$OUT/profile_block_none.json"
