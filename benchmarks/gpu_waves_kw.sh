#!/usr/bin/env bash
# Device call: fa3_waves now calls the FA3 wheel's C++ op by keyword (its schema: `Tensor(out!)? out`,
# softmax_scale, num_splits) instead of 34 positional arguments, and the custom op has no device restriction (a
# CPU test stands in for the C++ op). Checks: the CUDA tests of waves / halves / split, then the DiT alone with the
# defaults and without waves in one process (expect ~3% as at 15:43Z, 15:49Z, 16:11Z).
# Give LONGLIVE_COMMIT as a literal (device_common.sh).
# Result (16:36Z): 3 CUDA tests passed; 83.7 -> 80.7 ms per latent frame.
set -uo pipefail
source benchmarks/device_common.sh
step 120 python -m pytest -q -p no:cacheprovider tests/test_cuda.py -k "waves or halves or split"
P=ring:default_cudagraphs:fa3:none:gelu+kv_only+kv_write+ln+q_rope
step 240 python scripts/benchmark.py hydra.run.dir=/tmp/bk out_dir=$OUT/rows vae=false "paths=[$P,$P+waves]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
