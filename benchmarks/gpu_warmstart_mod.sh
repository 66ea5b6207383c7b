#!/usr/bin/env bash
# Cold and warm start of the defaults with lever mod (the 15:56Z figures predate it): generate.py cold then warm on
# one Inductor cache dir, from empty Inductor and Triton caches (warmstart_pair.sh). Prediction: unchanged (mod adds
# no graph), cold ~69 s, warm ~25 s to the first decoded block. Give LONGLIVE_COMMIT as a literal (device_common.sh).
set -uo pipefail
source benchmarks/device_common.sh
source benchmarks/warmstart_pair.sh
pair defaults
tar czf $OUT/warmstart.tgz -C $OUT $(cd $OUT && ls warmstart_*.json) && rm -f $OUT/warmstart_*.json
