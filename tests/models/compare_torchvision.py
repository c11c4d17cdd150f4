#!/usr/bin/python3
"""Real-model test: kiln's output on exported torchvision models must match
PyTorch's (computed at export time by scripts/export_models.py).

usage: compare_torchvision.py KILN_BINARY MODELS_DIR NAME [NAME ...]
Exits non-zero when a model is missing, fails to run, or differs.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np


def main():
    kiln, models_dir, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    failed = 0
    for name in names:
        onnx_path = os.path.join(models_dir, name + ".onnx")
        if not os.path.exists(onnx_path):
            print(f"FAIL {name}: {onnx_path} missing (run scripts/export_models.py)")
            failed += 1
            continue
        with tempfile.TemporaryDirectory() as out:
            cmd = [kiln, "run", onnx_path, "--input", f"input={models_dir}/{name}.input.npy",
                   "--output-dir", out, "--no-cache", "-n", "0"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"FAIL {name}: kiln exited {r.returncode}\n{r.stdout}\n{r.stderr}")
                failed += 1
                continue
            got = np.load(os.path.join(out, "output.npy"))
        want = np.load(os.path.join(models_dir, name + ".output.npy"))
        if got.shape != want.shape:
            print(f"FAIL {name}: shape {got.shape}, expected {want.shape}")
            failed += 1
            continue
        # Random-weight networks can have large logits: compare relative to scale.
        scale = max(float(np.abs(want).max()), 1e-6)
        err = float(np.abs(got - want).max())
        same_top1 = int(got.argmax()) == int(want.argmax())
        ok = err <= 1e-3 * scale + 1e-5 and same_top1
        print(f"{'PASS' if ok else 'FAIL'} {name}: max abs err {err:.3g} (scale {scale:.3g}), top-1 {'same' if same_top1 else 'differs'}")
        failed += 0 if ok else 1
    print(f"{len(names) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
