#!/usr/bin/env bash
# Builds kiln's libFuzzer targets (tests/fuzz) with clang and ASan in
# build-fuzz/, then runs each for a bounded time on the kept seed corpus
# (tests/fuzz/corpus/<target>, small, in the repository).
#
#   scripts/fuzz.sh [SECONDS]            run each target SECONDS (default 60)
#   scripts/fuzz.sh --seeds [CONF_DIR]   regenerate the seed corpus from ONNX
#                                        conformance models (../shared/conformance/onnx)
#
# What a run finds beyond the seeds stays in build-fuzz/corpus/<target> (not
# in the repository: a few minutes of fuzzing find over 1 MB) and is where
# the next run starts from. Crashes, leaks, huge allocations and timeouts land
# in build-fuzz/artifacts/ and make the script exit 1 (reproduce:
# build-fuzz/tests/fuzz/<target> <artifact>).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=$root/build-fuzz
corpus=$root/tests/fuzz/corpus
targets=(fuzz_onnx_import fuzz_engine fuzz_cache_entry)
k_max_corpus_bytes=$((200 * 1024))  # the kept seed corpus

mode=run
if [ "${1:-}" = --seeds ]; then mode=seeds; shift; fi
seconds=60
conf_dir=$root/../shared/conformance/onnx
if [ "$mode" = seeds ]; then conf_dir=${1:-$conf_dir}; else seconds=${1:-60}; fi

# clang and its libFuzzer/ASan runtimes from Debian 12, by package name.
pkgs=(clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Everything instrumented for coverage and ASan; OpenMP through libgomp, the
# runtime the system's oneDNN is built on (clang would pick libomp).
gomp=$(gcc -print-file-name=libgomp.so)
flags="-fsanitize=fuzzer-no-link,address -fno-omit-frame-pointer -g -Wno-unknown-warning-option"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DKILN_CUDA=OFF -DKILN_BUILD_TESTS=OFF -DKILN_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address" \
  -DOpenMP_CXX_FLAGS="-fopenmp=libgomp" -DOpenMP_CXX_LIB_NAMES=gomp -DOpenMP_gomp_LIBRARY="$gomp" >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" fuzz_seeds

if [ "$mode" = seeds ]; then
  # Small models of many ops, their engines and cache entries (fuzz_seeds.cpp).
  [ -d "$conf_dir/node" ] || { echo "no conformance models at $conf_dir" >&2; exit 1; }
  rm -rf "$corpus"
  mapfile -t models < <(ls "$conf_dir"/node/*/model.onnx | sort)
  "$build/tests/fuzz/fuzz_seeds" "$corpus" "${models[@]}"
  bytes=$(du -sb "$corpus" | cut -f1)
  echo "seed corpus: $bytes bytes"
  [ "$bytes" -le $k_max_corpus_bytes ] || { echo "over $k_max_corpus_bytes bytes: lower fuzz_seeds' counts" >&2; exit 1; }
  exit 0
fi

# Leaks are findings. A failed allocation becomes kiln's OutOfMemory error
# (allocator_may_return_null), but one request over -malloc_limit_mb is a
# finding of its own: a small file must not make kiln ask for gigabytes.
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
mkdir -p "$build/artifacts"
status=0
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t" "$corpus/$t"
  echo "== $t: ${seconds} s"
  # New inputs go to the first directory (build-fuzz), never into the kept corpus.
  if ! "$build/tests/fuzz/$t" "$build/corpus/$t" "$corpus/$t" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=4096 -malloc_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$build/artifacts/$t-" 2>"$build/$t.log"; then
    status=1
    echo "$t: FOUND A PROBLEM (see $build/$t.log and $build/artifacts/)"
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^Done|ERROR" "$build/$t.log" || true
done
exit $status
