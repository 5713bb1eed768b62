#!/usr/bin/env bash
# One device call for benchmarks/copy_ceiling.py: environment, a SASS check of the kernels
# (nvcc + cuobjdump), the bulk-copy self-test (the bulk variants join the run only if it
# passes), a quick smoke run, then the full run. Results go to $OUT (default
# build/copy-ceiling). Usage (repo root): bash benchmarks/copy_ceiling_device.sh
set -uo pipefail
OUT=${OUT:-$PWD/build/copy-ceiling}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem,clocks.max.sm,clocks.max.mem,power.limit,temperature.gpu --format=csv
  nvcc --version | tail -1; python3 --version
  python3 -c "import torch, cupy; print('torch', torch.__version__, 'cupy', cupy.__version__)"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
tmp=$(mktemp -d)
{
  echo "#include \"$PWD/benchmarks/copy_ceiling_kernels.cu\""
  for h in 0 1 2 3 4; do echo "template __global__ void copy_gs<2,$h>(const uint4*, uint4*, long long);"; done
  echo "template __global__ void copy_chunk<4,0>(const uint4*, uint4*, long long);"
  echo "template __global__ void sum_gs<4,2>(const uint4*, long long, u64*);"
  echo "template __global__ void copy_bulk<4>(const char*, char*, long long, int);"
} > "$tmp/inst.cu"
{
  nvcc -arch=sm_90 -cubin -std=c++17 -Xptxas -v "$tmp/inst.cu" -o "$tmp/inst.cubin" 2>&1
  echo "--- memory instructions per function (cuobjdump -sass)"
  cuobjdump -sass "$tmp/inst.cubin" | awk '/Function :/ {f=$3} /LDG|STG|UBLKCP|SYNCS|UTMA/ {
      op=$0; sub(/^[ \t]*\/\*[0-9a-f]+\*\/[ \t]*/, "", op); sub(/^@!?U?P[0-9T] +/, "", op)
      sub(/ .*/, "", op); print f, op}' | sort | uniq -c
} > "$OUT/sass.txt" 2>&1
tail -25 "$OUT/sass.txt"
timeout 120 python3 benchmarks/copy_ceiling.py --bulk-selftest > "$OUT/selftest.log" 2>&1
rc=$?; BULK=; [ $rc -eq 0 ] && BULK=--bulk
echo "bulk selftest rc=$rc -> '$BULK'"; tail -3 "$OUT/selftest.log"
python3 benchmarks/copy_ceiling.py --quick --cases 2 --reps 2 --batches 2 $BULK > "$OUT/smoke.log" 2>&1
rc=$?; echo "smoke rc=$rc"; tail -8 "$OUT/smoke.log"
[ $rc -ne 0 ] && exit 1
python3 benchmarks/copy_ceiling.py $BULK --json "$OUT/copy.json" \
  --ours-json benchmarks/results/norms-h100-2026-11-24-a.json > "$OUT/copy.md" 2> "$OUT/copy.log"
rc=$?; echo "run rc=$rc"; tail -5 "$OUT/copy.log"; cat "$OUT/copy.md"
nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv >> "$OUT/env.txt" 2>&1
exit $rc
