#!/usr/bin/env bash
# Builds benchmarks/norm_sweep.cu for the three I/O types (in parallel) and runs them one after
# another on the GPU. Output: $OUT/sweep-<dtype>.txt (default build/norm-sweep). Usage (repo root):
#   bash benchmarks/norm_sweep.sh [--prod]
set -uo pipefail
OUT=${OUT:-$PWD/build/norm-sweep}
mkdir -p "$OUT"
tmp=$(mktemp -d)
t0=$(date +%s)
# builds: sweep<T> (plain loads, as the plugins build) and, with SWEEP_LDCS=1, sweep<T>cs
# (streaming-hint loads)
for t in 0 1 2; do
  nvcc -O3 -std=c++17 -arch=sm_90 -DSWEEP_T=$t -Icsrc/common benchmarks/norm_sweep.cu \
    -o "$tmp/sweep$t" -Xptxas -v > "$OUT/ptxas-$t.txt" 2>&1 &
  [ -n "${SWEEP_LDCS:-}" ] && nvcc -O3 -std=c++17 -arch=sm_90 -DSWEEP_T=$t -DTRTFORGE_ROWNORM_LDCS=1 \
    -Icsrc/common benchmarks/norm_sweep.cu -o "$tmp/sweep${t}cs" > /dev/null 2>&1 &
done
wait
echo "sweep build $(( $(date +%s) - t0 )) s"
for t in 1 2 0; do
  [ -x "$tmp/sweep$t" ] || { echo "build $t failed"; tail -20 "$OUT/ptxas-$t.txt"; exit 1; }
done
for t in 1 2 0 1cs 2cs 0cs; do
  [ -x "$tmp/sweep$t" ] || continue
  "$tmp/sweep$t" "$@" > "$OUT/sweep-$t.txt" 2>&1 || { echo "sweep $t rc=$?"; tail -5 "$OUT/sweep-$t.txt"; }
done
echo "FAIL lines: $(cat "$OUT"/sweep-*.txt | grep -c FAIL)"
