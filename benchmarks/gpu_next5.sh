#!/usr/bin/env bash
# Device call (ran 2026-11-26, H100; the quant step was stopped by its 450 s box in int8wo's warm-up, then gpu_headline4.sh and gpu_fp8_tune.sh took the FP8 rows): the rows issue #8 still missed: the weight-only
# schemes compiled, against BF16 in the same process (latent SQNR and decoded-frame PSNR), FP8 with
# Inductor's coordinate-descent tuning (lever tune: its GELU + FP8-quantization kernel is 156 us per layer
# call at ~0.8 TB/s); then the CUDA tests added in session 3 that have not run on a GPU yet.
# Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3
step 450 python scripts/benchmark.py hydra.run.dir=/tmp/bq out_dir=$OUT/rows vae=true quality_frames=16 prompts=batch batch_size=1 \
  "paths=[$P,$P:int8wo,$P:fp8wo,$P:fp8dq_row:kv_only+kv_write,$P:fp8dq_row:kv_only+kv_write+tune]"
step 120 python -m pytest -q -x tests/test_cuda.py tests/test_vae.py -k "side_stream or second_stream or q_norm"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
