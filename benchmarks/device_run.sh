#!/usr/bin/env bash
# One device call: build the CUDA extension for sm_90, run the GPU tests (the plugin host
# among them: it needs TensorRT headers, found through TensorRT_ROOT), run the norm benchmark,
# then the scaffold test (slowest, last). Logs and results go to $OUT (default ./out). Usage (repo root):
#   bash benchmarks/device_run.sh
set -uo pipefail
OUT=${OUT:-$PWD/build/device-out}
mkdir -p "$OUT"
ARCH=${TRTFORGE_CUDA_ARCHITECTURES:-90}
{
  date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv
  nvcc --version | tail -1; python3 --version
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
rm -rf build/device .dev && mkdir -p .dev/trtforge
ln -sfn ../../plugins .dev/trtforge/plugins
[ -d analyzer ] && ln -sfn ../../analyzer .dev/trtforge/analyzer
t0=$(date +%s)
TRTFORGE_NO_DOWNLOAD=1 cmake -S . -B build/device -G Ninja -DCMAKE_BUILD_TYPE=Release -DTRTFORGE_CUDA_ARCHITECTURES="$ARCH" \
  -DPython_EXECUTABLE="$(command -v python3)" > "$OUT/build.log" 2>&1 &&
cmake --build build/device >> "$OUT/build.log" 2>&1 &&
cmake --install build/device --prefix .dev >> "$OUT/build.log" 2>&1
rc=$?
echo "build rc=$rc in $(( $(date +%s) - t0 )) s"; tail -3 "$OUT/build.log"
[ $rc -ne 0 ] && { tail -40 "$OUT/build.log"; exit 1; }
export PYTHONPATH=$PWD/.dev${PYTHONPATH:+:$PYTHONPATH}  # keep carried packages (e.g. graphsurgeon)
export TRTFORGE_NO_DOWNLOAD=1  # no network on the device machine, and no TensorRT to load the library
python3 -m pytest -q -p no:cacheprovider tests/plugins -m "gpu or not parser" -rs -s --continue-on-collection-errors --ignore tests/plugins/test_scaffold.py > "$OUT/gpu_tests.log" 2>&1
echo "gpu tests rc=$?"; grep -E "passed|failed|error|FAIL" "$OUT/gpu_tests.log" | tail -15
python3 -m trtforge.plugins.cli.plugin test RMSNorm --hidden 1,127,768,65536 --rows 1,64 > "$OUT/trt_plugin_test.log" 2>&1
echo "trt-plugin test rc=$?"; tail -3 "$OUT/trt_plugin_test.log"
if [ -z "${SKIP_BENCH:-}" ]; then
  python3 benchmarks/norms.py --json "$OUT/bench.json" > "$OUT/bench.md" 2>&1
  echo "bench rc=$?"; cat "$OUT/bench.md"
fi
# a scaffolded plugin: trt-plugin new in a copy of the tree, build, run its generated tests and
# the plugin host over it (SKIP_SCAFFOLD=1 leaves this out)
[ -n "${SKIP_SCAFFOLD:-}" ] && exit 0
TRTFORGE_CUDA_ARCHITECTURES=$ARCH python3 -m pytest -q -s -p no:cacheprovider tests/plugins/test_scaffold.py -rs > "$OUT/scaffold.log" 2>&1
echo "scaffold rc=$?"; tail -5 "$OUT/scaffold.log"
