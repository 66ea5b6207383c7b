#!/usr/bin/env bash
# Lever `mod` (every block's modulation rows in one op per forward instead of ~5 tiny Inductor kernels per layer
# call, ~1.5 us each: 1.1 ms a block in the 17:32Z profile) against the defaults, BF16 and FP8, DiT alone, one
# process; then the block profile with it (the tiny kernels gone?). Prediction: ~0.3 ms per latent frame (0.4%),
# at the edge of the run's resolution. The last two paths repeat the BF16 pair in reverse (ABBA), their levers
# listed in another order so that their rows get their own file names. Give LONGLIVE_COMMIT as a literal.
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3
B=gelu+kv_only+kv_write+ln+q_rope+waves
F=kv_only+kv_write+fp8_gelu+q_rope+waves
B2=q_rope+gelu+kv_only+kv_write+ln+waves     # B in another order: the repeats' own row file names
step 420 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=false \
  "paths=[reference:none:sdpa,$P:none:$B,$P:none:$B+mod,$P:fp8dq_row:$F,$P:fp8dq_row:$F+mod,$P:none:mod+$B2,$P:none:$B2]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
step 120 python scripts/profile_block.py compile=default_cudagraphs attention=fa3 \
  "compile.levers=[gelu,kv_only,kv_write,ln,q_rope,waves,mod]" out=/tmp/pl hydra.run.dir=/tmp/hpl
cp /tmp/pl/profile_block.json "$OUT/profile_block_mod.json" 2>/dev/null
