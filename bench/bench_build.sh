#!/usr/bin/env bash
# Fresh `pip wheel .` build times, paired: a base commit against HEAD with nvcc (AUTO) and
# without the CUDA module (GRADCORE_CUDA=OFF), rounds alternating, a pause before each build.
# Usage: bash bench/bench_build.sh BASE_COMMIT [ROUNDS]   (run from the repository root)
# Prints one line per build; builds in a temporary directory that is removed at exit.
set -euo pipefail
base=${1:?base commit}; rounds=${2:-2}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
git archive "$base" | (mkdir "$tmp/base" && tar -x -C "$tmp/base")
git archive HEAD | (mkdir "$tmp/head" && tar -x -C "$tmp/head")
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; base $(git rev-parse --short "$base"), head $(git rev-parse --short HEAD)"
for r in $(seq "$rounds"); do
  for v in base auto off; do
    src=$tmp/head; mode=AUTO
    [ "$v" = base ] && src=$tmp/base
    [ "$v" = off ] && mode=OFF
    rm -rf "$tmp/wheel"; sleep 5
    s=$(date +%s.%N)
    GRADCORE_CUDA=$mode pip wheel -q --no-deps -w "$tmp/wheel" "$src" > "$tmp/log" 2>&1 \
      || { cat "$tmp/log"; exit 1; }
    e=$(date +%s.%N)
    printf 'round %s %-4s %6.1f s\n' "$r" "$v" "$(echo "$e - $s" | bc)"
  done
done
