#!/usr/bin/env bash
# Lever ln on the FP8 path (quant=fp8dq_row): the norm kernel writes the row-quantized e4m3 activation that the
# next Linears' FP8 GEMMs take (norm_kernel.add_norm_fp8, model.wan.linear), instead of Inductor's kernel of the
# norm fused with torchao's quantization (25-34 us a call in the 09:21Z FP8 profile; lever ln's BF16 kernel 16 us).
# Prediction: ~45 us a layer call, ~2 ms per latent frame (76 -> 74). First its GPU tests, then the kernel alone
# (ln_bench.py, BF16 and FP8), then the FP8 DiT alone with and without it, ABBA in one process (the repeats' levers
# in another order for their own row file names). Give LONGLIVE_COMMIT as a literal (device_common.sh).
set -uo pipefail
source benchmarks/device_common.sh
step 200 python -m pytest -q -p no:cacheprovider -rs tests/test_fp8_kernel.py
step 90 python benchmarks/ln_bench.py --json $OUT/ln_bench_bf16.json
step 90 python benchmarks/ln_bench.py --fp8 --json $OUT/ln_bench_fp8.json
P=ring:default_cudagraphs:fa3:fp8dq_row
F=kv_only+kv_write+fp8_gelu+q_rope+waves+mod
F2=mod+kv_only+kv_write+fp8_gelu+q_rope+waves   # F in another order: the repeats' own row file names
step 420 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=false \
  "paths=[$P:$F,$P:$F+ln,$P:ln+$F2,$P:$F2]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
