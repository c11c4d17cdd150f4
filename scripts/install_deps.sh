#!/usr/bin/env bash
# Installs the Debian 12 packages kiln needs to build, test and export models.
# Idempotent: apt runs only when something is missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libgtest-dev libgmock-dev libbenchmark-dev
      libonnx-dev libprotobuf-dev protobuf-compiler libdnnl-dev libssl-dev libcli11-dev
      nlohmann-json3-dev libhiredis-dev redis-server
      python3 python3-numpy python3-onnx python3-torch python3-torchvision)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
