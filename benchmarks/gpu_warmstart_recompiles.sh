#!/usr/bin/env bash
# Run 2026-11-26 (session 9). gpu_warmstart_profile.sh found 22 Triton compilations (ptxas: 5 s) in the warm run
# with lever ln although every FX graph came from the cache, and 176 new files in Inductor's Triton cache. Which
# kernels are compiled again, with ln and without? Each pair from empty caches; after each run the Triton cache's
# kernel metadata (name, hash) is listed and the warm run's new entries printed. Then the warm start with the VAE
# head taps (output.vae_head_taps=true). Set LONGLIVE_COMMIT.
set -uo pipefail
source benchmarks/device_common.sh
source benchmarks/warmstart_pair.sh
pair ln "compile.levers=[gelu,kv_only,kv_write,fp8_gelu,ln]"
pair noln
pair taps output.vae_head_taps=true
