#!/usr/bin/env bash
# The GPU check of gradcore's CUDA module, for a lent GPU machine (issue 20); at most ~8 min:
#   1. build gradcore._C and gradcore._C_cuda (sm_90 only, to save time) into build/gpu
#   2. the CUDA test suite (tests/test_cuda_*.py, tests/test_devices.py) on the GPU
#   3. compute-sanitizer memcheck on the CUDA kernel tests (where the machine supports it)
#   4. bench/bench_cuda.py against PyTorch on the same GPU
# Everything it writes goes under $OUT (default ./gpu_check_out): build.log, tests.log,
# memcheck.log, bench_cuda.json, summary.txt. Rerunning reuses build/gpu (incremental).
# Needs: nvcc, cmake, ninja, a Python with numpy, pytest, pybind11 (a wheel may be carried and
# installed with PIP_WHEELS=dir) and torch (the benchmark's reference).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu_check_out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
summary() { echo "$*" | tee -a "$OUT/summary.txt"; }
: >"$OUT/summary.txt"
start=$(date +%s)

if [ -n "${PIP_WHEELS:-}" ]; then
  $PY -m pip install -q --no-index --find-links "$PIP_WHEELS" pybind11 pytest 2>&1 | tail -2
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$OUT/gpu.txt" 2>&1
summary "gpu: $(cat "$OUT/gpu.txt")"

# 1. build
pyb=$($PY -c 'import pybind11; print(pybind11.get_cmake_dir())')
if cmake -S . -B build/gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -Dpybind11_DIR="$pyb" \
  -DPython_EXECUTABLE="$(command -v $PY)" -DSKBUILD_PROJECT_VERSION=0.1.0 \
  -DGRADCORE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90-real >"$OUT/build.log" 2>&1 &&
  cmake --build build/gpu -j"$(nproc)" >>"$OUT/build.log" 2>&1; then
  cp build/gpu/_C*.so python/gradcore/
  summary "build: ok ($(($(date +%s) - start)) s)"
else
  summary "build: FAILED (see build.log)"; tail -30 "$OUT/build.log"; exit 1
fi
export PYTHONPATH=$PWD/python

# 2. tests
tests="tests/test_cuda_*.py tests/test_devices.py"
$PY -m pytest -q -p no:cacheprovider $tests -rs >"$OUT/tests.log" 2>&1
summary "tests: $(tail -1 "$OUT/tests.log") ($(($(date +%s) - start)) s)"

# 3. memcheck (short: the GPU tests of the kernel files, no benchmarks)
if command -v compute-sanitizer >/dev/null; then
  timeout 180 compute-sanitizer --tool memcheck --error-exitcode 9 \
    $PY -m pytest -q -p no:cacheprovider tests/test_cuda_*.py -k gpu -x >"$OUT/memcheck.log" 2>&1
  summary "memcheck: exit $? ($(grep -c 'Invalid' "$OUT/memcheck.log") invalid accesses) ($(($(date +%s) - start)) s)"
else
  summary "memcheck: compute-sanitizer not found"
fi

# 4. benchmarks
$PY bench/bench_cuda.py --out "$OUT/bench_cuda.json" >"$OUT/bench.log" 2>&1
summary "bench: exit $? ($(($(date +%s) - start)) s)"
cat "$OUT/bench.log" | tail -20
cat "$OUT/summary.txt"
