#!/usr/bin/env bash
# Builds kiln._kiln without CMake against a libkiln.so built elsewhere: for the
# GPU machine, whose Python (3.12, PyTorch, pybind11) Debian 12 lacks, with
# the GPU bundle's lib/ (scripts/gpu_bundle.sh). Needs a C++20 compiler, the
# Python headers and pybind11's (pip's pybind11, or PyTorch's copy).
#   bash python/build_ext.sh LIBDIR [OUTDIR]     then: PYTHONPATH=OUTDIR python3 -c "import kiln"
# OUTDIR (default build-python-ext) receives kiln/: the package and the module.
# PYTHON picks the interpreter; CUDA_HOME (default /usr/local/cuda) the CUDA
# headers and static runtime, used when LIBDIR's libkiln.so was built with CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 LIBDIR [OUTDIR]" >&2; exit 2; }
libdir=$(realpath "$1")
out=$(realpath -m "${2:-build-python-ext}")
py=${PYTHON:-python3}
cuda=${CUDA_HOME:-/usr/local/cuda}
[ -f "$libdir/libkiln.so" ] || { echo "no libkiln.so in $libdir" >&2; exit 1; }

pyinc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
suffix=$("$py" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
pybind=$("$py" -c 'import pybind11; print(pybind11.get_include())' 2>/dev/null ||
         "$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "include"))')
[ -f "$pyinc/Python.h" ] || { echo "no Python.h in $pyinc (install the Python headers)" >&2; exit 1; }
[ -f "$pybind/pybind11/pybind11.h" ] || { echo "pybind11 headers not found" >&2; exit 1; }

flags=(-std=c++20 -O2 -fPIC -shared -fvisibility=hidden -DKILN_PY_VERSION=\"0.1.0\"
       -Iinclude -Isrc -I"$pyinc" -I"$pybind")
libs=(-L"$libdir" -lkiln -Wl,-rpath,"$libdir" -Wl,-rpath-link,"$libdir")
# A CUDA libkiln (symbols of kiln::backend::cuda) means the module
# needs the CUDA runtime for the producer-stream hand-off (cuda_sync.cpp).
cuda_symbols=$(nm -D --defined-only "$libdir/libkiln.so" | grep -c 'N4kiln7backend4cuda' || true)
if [ "$cuda_symbols" -gt 0 ]; then
  flags+=(-DKILN_WITH_CUDA=1 -I"$cuda/include")
  libs+=("$cuda/lib64/libcudart_static.a" -ldl -lrt -lpthread)
fi
mkdir -p "$out/kiln"
cp python/kiln/*.py python/kiln/*.pyi python/kiln/py.typed "$out/kiln/"
# The module exports PyInit__kiln and nothing else. Python loads it first in
# its own symbol scope, so whatever it exported would interpose on
# libkiln.so's lookups: on the GPU machine it carried copies of libstdc++'s
# stream code (std::ostream::_M_insert<long>), and libkiln's engine-cache
# key, printing a number, ran the module's copy and crashed.
libs+=(-Wl,--version-script="$PWD/python/module.map")
"${CXX:-c++}" "${flags[@]}" python/src/*.cpp "${libs[@]}" -o "$out/kiln/_kiln$suffix"
echo "built $out/kiln/_kiln$suffix (exports: $(nm -D --defined-only "$out/kiln/_kiln$suffix" | awk '{print $3}' | paste -sd' '))"
ldd "$out/kiln/_kiln$suffix" | grep -E "stdc|kiln" || true
