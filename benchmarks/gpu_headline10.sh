#!/usr/bin/env bash
# Not yet run (written 2026-11-26 for the next device session). The headline with the VAE head conv through its
# taps (`vae_head_taps=true`, OPTIMIZATION_LOG.md row 45: the VAE alone 31.7 -> 30.8 ms per latent frame), then the
# warm start with and without it on one machine, each pair from empty caches (as gpu_warmstart_ln.sh). If the run
# keeps the VAE gain and the warm start stays under 30 s, make output.vae_head_taps the default. Prediction from
# headline 8 (10:29Z): VAE 32.3 -> ~31.4, end to end BF16 117.1 -> ~116.2; warm start ~25 s. Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
P=ring:default_cudagraphs:fa3
step 420 python scripts/benchmark.py hydra.run.dir=/tmp/bh out_dir=$OUT/rows vae=true quality_frames=16 vae_head_taps=true \
  "paths=[reference:none:sdpa,$P:none:gelu+kv_only+kv_write,$P:fp8dq_row:kv_only+kv_write+fp8_gelu]"
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
rm -rf /tmp/ccache ~/.triton/cache
bash benchmarks/gpu_warmstart_vae2.sh taps_ output.vae_head_taps=true
rm -rf /tmp/ccache ~/.triton/cache
bash benchmarks/gpu_warmstart_vae2.sh notaps_
