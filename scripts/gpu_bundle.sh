#!/usr/bin/env bash
# Builds kiln on this (GPU-less) machine for a machine with an NVIDIA GPU and
# no package registry, and packs what that machine lacks into .devcarry/
# (git-ignored), well under 64 MiB:
#   .devcarry/kiln-gpu.tar.xz     bin/ (kiln, the GPU test programs, stripped),
#                                 lib/ (libkiln.so and the Debian libraries it
#                                 needs that an Ubuntu 24.04 + PyTorch machine
#                                 lacks: oneDNN, protobuf, ONNX, hiredis, ...)
#   .devcarry/conformance.tar.xz  the ONNX conformance data (../shared is not copied)
# CUDA, cuBLASLt and cuDNN are not packed: that machine has them (CUDA under
# /usr/local/cuda, cuDNN in PyTorch's venv). scripts/gpu_test.sh runs there.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DKILN_CUDA=ON -DKILN_SHARED=ON -DKILN_MODELS=OFF >/dev/null
tests=(test_backend_ops test_cuda_runtime test_cuda_graphs test_device_runtime test_graph_cache test_runtime_controls
       test_fake_graphs test_multi_gpu)
targets=(kiln_cli kiln_conformance "${tests[@]}")
cmake --build build-gpu -j"$(nproc)" --target "${targets[@]}"

stage=$(mktemp -d)
mkdir -p "$stage/kiln-gpu/bin" "$stage/kiln-gpu/lib"
cp build-gpu/kiln build-gpu/tests/kiln_conformance "$stage/kiln-gpu/bin/"
for t in "${tests[@]}"; do cp "build-gpu/tests/$t" "$stage/kiln-gpu/bin/"; done
cp -L build-gpu/libkiln.so "$stage/kiln-gpu/lib/"
# Every shared library the programs load, except the C runtime and the CUDA
# libraries the GPU machine has in matching versions.
ldd "$stage"/kiln-gpu/bin/* "$stage/kiln-gpu/lib/libkiln.so" | awk '/=> \// {print $3}' | sort -u |
  while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libstdc++.so*|libgcc_s.so*|libz.so*) ;;
      libcuda.so*|libcudart*|libcublas*|libcudnn*|libnvrtc*|libnvJitLink*) ;;
      libkiln.so) ;;
      *) cp -L "$lib" "$stage/kiln-gpu/lib/" ;;
    esac
  done
strip --strip-unneeded "$stage"/kiln-gpu/bin/* "$stage"/kiln-gpu/lib/*
mkdir -p .devcarry
tar -C "$stage" -cf - kiln-gpu | xz -T"$(nproc)" -6 > .devcarry/kiln-gpu.tar.xz
conf=../shared/conformance/onnx
[ -d "$conf" ] && tar -C "$(dirname "$conf")" -cf - onnx | xz -T"$(nproc)" -6 > .devcarry/conformance.tar.xz
rm -rf "$stage"
du -h .devcarry/*.tar.xz
