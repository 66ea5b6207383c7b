# Sourced by the benchmarks/gpu_*.sh device calls (give them LONGLIVE_COMMIT as a literal from this machine's
# `git rev-parse --short HEAD`: the device's checkout reports the session's base commit): install the carried
# wheels (.whl, see
# ../shared/device/wheels.sh), and `step SECONDS command...`, which runs a command time-boxed, appends
# everything to $OUT/log.txt as it happens (a call stopped at its limit still returns what finished)
# and shows a filtered tail on stdout.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl \
  && export PYTHONPATH=/tmp/site:$PWD || exit 1
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
LOG=$OUT/log.txt
step() {
  local limit=$1; shift
  echo "=== $(date +%T) $*" | tee -a "$LOG"
  timeout "$limit" "$@" 2>&1 | tee -a "$LOG" | grep --line-buffered -v "^\[\|^W[0-9]\|Warning\|warn\|\"\"\"" | tail -n 30
  echo "=== $(date +%T) exit ${PIPESTATUS[0]}" | tee -a "$LOG"
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$LOG"
