#!/usr/bin/env bash
# Device call: lever `halves` (batch-1 FA3 over the keys' two halves as a batch of 2, merged by their log-sum-exp)
# against `waves` and neither, the DiT alone in one process. Alone in CUDA graphs (16:08Z, fenced): halves 0.842,
# waves 0.867, one call 0.887 ms at the steady shape; in the model waves gained ~60 us a call (15:43Z, 15:49Z), more
# than alone. Prediction: halves ~1 ms per latent frame below waves if the alone ranking holds in the model.
# Give LONGLIVE_COMMIT as a literal (device_common.sh).
# Result (16:11Z): CUDA tests passed; 84.1 without, 81.6 waves, 81.8 halves (row 54: halves stays an option).
set -uo pipefail
source benchmarks/device_common.sh
step 90 python -m pytest -q -p no:cacheprovider tests/test_cuda.py -k "halves or waves"
P=ring:default_cudagraphs:fa3:none:gelu+kv_only+kv_write+ln+q_rope
step 330 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=false quality_frames=16 \
  "paths=[$P,$P+waves,$P+halves]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
