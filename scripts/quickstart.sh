#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install what kiln needs, build it,
# export a sample model (torchvision mobilenet_v3_small), then build its engine
# into the default engine cache, run it and time it. Run it again: the engine
# is loaded from the cache instead of rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
/usr/bin/python3 scripts/export_models.py models mobilenet_v3_small
./build/kiln info models/mobilenet_v3_small.onnx
./build/kiln run models/mobilenet_v3_small.onnx --input input=models/mobilenet_v3_small.input.npy -n 20
