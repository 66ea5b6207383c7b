#!/usr/bin/env bash
# Run 2026-11-26 (session 9), after pin_triton_ptxas, which took the warm-start cost off levers ln and persist
# (gpu_warmstart_pinned.sh: warm start 22.3 s with ln, 22.1 with ln + persist, 23.6 without; no kernel compiled
# again). The reference run with the default levers, + ln, + ln + persist, one process, BF16 (ln applies to BF16
# weights only). Prediction: ln 1.012x (row 44), persist ~1.2 ms more (row 37). Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3:none
step 570 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=true quality_frames=16 \
  "paths=[reference:none:sdpa,$P:gelu+kv_only+kv_write,$P:gelu+kv_only+kv_write+ln,$P:gelu+kv_only+kv_write+ln+persist]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
