#!/usr/bin/env bash
# Sets up and runs every test: unit tests, the ONNX conformance suite
# (../shared/conformance/onnx) and real torchvision models against PyTorch.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
/usr/bin/python3 scripts/export_models.py build/models mobilenet_v3_small resnet18 squeezenet1_1 swin_t ssdlite320_mobilenet_v3_large
cd build
ctest --output-on-failure -j"$(nproc)"
