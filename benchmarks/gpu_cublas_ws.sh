#!/usr/bin/env bash
# cublas_workspace=none against default: PyTorch sizes cuBLAS's workspace once a process, so the two are two
# processes on the same machine, one after the other, each with our eager path as its own baseline. Why: the FP8
# block profile (20:29Z) has a Memset + ~2.5 us idle before each of its 1192 FP8 GEMMs; without a workspace
# cuBLASLt picks kernels without it, 2.4-11 us faster a GEMM alone (fp8_gemm_graph.py, 20:42Z / 20:44Z).
# Prediction: FP8 DiT ~1.6 ms per latent frame faster (73.3 -> ~71.7), BF16 and eager within noise (their GEMM
# kernels did not change alone), VAE within noise. Then the FP8 block profile without the workspace.
# Give LONGLIVE_COMMIT as a literal (device_common.sh).
set -uo pipefail
source benchmarks/device_common.sh
B=ring:default_cudagraphs:fa3:none:gelu+kv_only+kv_write+ln+q_rope+waves+mod
F=ring:default_cudagraphs:fa3:fp8dq_row:kv_only+kv_write+fp8_gelu+ln+q_rope+waves+mod
for ws in default none; do
  step 290 python scripts/benchmark.py hydra.run.dir=/tmp/bw_$ws out_dir=$OUT/rows vae=true quality_frames=16 \
    cublas_workspace=$ws "paths=[reference:none:sdpa,$B,$F]"
done
tar czf $OUT/rows.tgz -C $OUT/rows . && rm -rf $OUT/rows
step 100 python scripts/profile_block.py compile=default_cudagraphs attention=fa3 quant=fp8dq_row cublas_workspace=none \
  "compile.levers=[kv_only,kv_write,fp8_gelu,ln,q_rope,waves,mod]" out=/tmp/pl hydra.run.dir=/tmp/hpl
cp /tmp/pl/profile_block.json "$OUT/profile_block_fp8_ws_none.json" 2>/dev/null
