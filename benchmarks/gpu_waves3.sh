#!/usr/bin/env bash
# Device call: FA3 alone at the model's attention shapes with each call fenced by a one-element kernel in the CUDA
# graph (attn_split.py's fenced column). The 16:01Z graph column, back-to-back calls, showed waves 0.98x and the
# unsplit call at 610 TFLOP/s: FA3's programmatic dependent launch lets the next call's CTAs fill the idle SMs of
# the last wave, which the model (a Triton or cuBLAS kernel between attention calls) never allows. Prediction:
# fenced, splits=1 ~0.95 ms and waves ~1.05x. Give LONGLIVE_COMMIT as a literal (device_common.sh).
# Result (16:08Z): fenced and unfenced agree within 2% (one call 0.887 / 0.887 ms): the overlap theory does not
# hold; waves 0.867 (1.02x), halves compiled 0.842 (1.05x) alone, while the model gains 3-4% with waves.
set -uo pipefail
source benchmarks/device_common.sh
step 150 python benchmarks/attn_split.py --out $OUT
