#!/usr/bin/env bash
# Lever `fold` (the FFN residual added in the next block's first norm kernel instead of an Inductor kernel of its
# own, 11.8 us x 149 a block in the 18:14Z profile) against the defaults (with `mod`), DiT alone, one process,
# ABBA; first its CUDA test. Prediction: 0.2-0.6 ms per latent frame (bytes: 14 MB a layer call less; the
# removed launches counted more than their bytes for lever mod). Give LONGLIVE_COMMIT as a literal.
# Result (18:35Z, e785502): 80.5 -> 80.4 and 80.7 -> 80.7 ms (1.00x): the lever was removed (OPTIMIZATION_LOG.md
# row 56); its CUDA test failed on the test helper's shadowed argument, not on the lever.
set -uo pipefail
source benchmarks/device_common.sh
step 150 python -m pytest -q -p no:cacheprovider tests/test_cuda.py -k "folded"
P=ring:default_cudagraphs:fa3
B=gelu+kv_only+kv_write+ln+q_rope+waves+mod
B2=mod+q_rope+gelu+kv_only+kv_write+ln+waves     # B in another order: the repeats' own row file names
step 400 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=false \
  "paths=[reference:none:sdpa,$P:none:$B,$P:none:$B+fold,$P:none:fold+$B2,$P:none:$B2]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
