#!/usr/bin/python3
"""Exports torchvision architectures to ONNX for kiln's sample run and tests.

Weights are random (seeded): this machine cannot download pretrained ones, and
correctness tests only need kiln and PyTorch to agree on the same weights.
For each model writes DIR/NAME.onnx, DIR/NAME.input.npy and DIR/NAME.output.npy
(PyTorch's own output on that input: the reference).

usage: export_models.py OUT_DIR NAME [NAME ...]
"""
import os
import sys

import numpy as np
import torch
import torchvision

SHAPES = {"default": (1, 3, 224, 224)}


def export(name, out_dir):
    onnx_path = os.path.join(out_dir, name + ".onnx")
    if os.path.exists(onnx_path) and os.path.exists(os.path.join(out_dir, name + ".output.npy")):
        return
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    # Give BatchNorm non-trivial statistics so folding it is actually tested.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    x = torch.randn(*SHAPES.get(name, SHAPES["default"]), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = model(x)
    tmp = onnx_path + ".tmp"
    # Dynamic batch so one file serves every batch size (kiln --shape / bench --batch).
    torch.onnx.export(model, x, tmp, input_names=["input"], output_names=["output"], opset_version=17,
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    np.save(os.path.join(out_dir, name + ".input.npy"), x.numpy())
    np.save(os.path.join(out_dir, name + ".output.npy"), y.numpy())
    os.replace(tmp, onnx_path)
    print(f"exported {onnx_path} ({os.path.getsize(onnx_path) / 1e6:.1f} MB)")


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for name in sys.argv[2:]:
        export(name, out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
