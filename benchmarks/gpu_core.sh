#!/usr/bin/env bash
# One device call for the core path: GPU tests, the oracle on CUDA, a bf16 smoke run, then the eager
# latency table of the reference run (ring vs literal reference cache, same process).
# Run from the repository root with .whl and .oracle carried (see ../shared/device/wheels.sh).
set -uo pipefail
source benchmarks/device_common.sh
export LONGLIVE_ORACLE=$PWD/.oracle
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
python -m pytest -q tests/test_cuda.py tests/test_fidelity.py 2>&1 | tail -3
python scripts/check_fidelity.py --oracle .oracle --device cuda | tail -1
python scripts/generate.py prompts=interactive hydra.run.dir=/tmp/smoke 2>&1 | grep "latent frames ("
python scripts/benchmark.py hydra.run.dir=/tmp/bench out_dir=$OUT/results "$@" 2>&1 | tee "$OUT/bench.log" \
  | grep --line-buffered -v "^\[\|^W[0-9]"
