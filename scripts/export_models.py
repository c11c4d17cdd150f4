#!/usr/bin/python3
"""Exports torchvision architectures to ONNX for kiln's sample run and tests.

Weights are random (seeded): this machine cannot download pretrained ones, and
correctness tests only need kiln and PyTorch to agree on the same weights.
For each model writes DIR/NAME.onnx, DIR/NAME.input.npy and
DIR/NAME.reference.npz (PyTorch's own outputs on that input, by output name).

Classifiers take a dynamic batch "N". Detectors (NAME in DETECTORS) take one
fixed-size image and return boxes, scores and labels, with a data-dependent
count: their post-processing (NonZero, TopK, NMS inside an If) is exported too.
Segmenters (NAME in SEGMENTERS) return the per-pixel class scores "out".

--reference-device cuda computes the references with PyTorch on the GPU
(TF32 off, so both sides compute in fp32), for comparing kiln's CUDA engines,
and also PyTorch's own 16-bit outputs (autocast fp16 and bf16) as
DIR/NAME.reference_fp16.npz and NAME.reference_bf16.npz: how close a 16-bit
run of the same model can be expected to come (compare_torchvision.py).

usage: export_models.py [--reference-device cpu|cuda] OUT_DIR NAME [NAME ...]
"""
import os
import sys

import numpy as np
import torch
import torchvision

DETECTORS = {"ssdlite320_mobilenet_v3_large": 320}
SEGMENTERS = {"lraspp_mobilenet_v3_large"}


class DetectorOutputs(torch.nn.Module):
    """One image tensor in, (boxes, scores, labels) out: torchvision detectors
    take and return lists of dicts, which ONNX export cannot express."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        d = self.model([x[0]])[0]
        return d["boxes"], d["scores"], d["labels"]


class SegmenterOutputs(torch.nn.Module):
    """torchvision segmenters return a dict; export wants tensors."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]


def smooth_images(n, size, gen):
    # Smooth blobs rather than white noise, so neighbouring anchors see
    # different content and detections do not tie.
    low = torch.rand(n, 3, 10, 10, generator=gen)
    return torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)


def calibrate_batchnorm(model, images):
    """Sets BatchNorm statistics from a batch, as training would.

    A random detector with arbitrary statistics collapses: its features become
    almost independent of position, so hundreds of boxes get scores equal to
    1e-7 and greedy NMS keeps an arbitrary one of each tie. Calibrated
    statistics keep activations spread out, which makes the outputs a real
    test (distinct scores, distinct boxes)."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average
        bn.train()
    with torch.no_grad():
        model(list(images))
    for bn in bns:
        bn.eval()


def make(name):
    """Returns (module, example input, input names, output names, dynamic axes)."""
    gen = torch.Generator().manual_seed(1)
    if name in DETECTORS:
        size = DETECTORS[name]
        model = getattr(torchvision.models.detection, name)(weights=None, weights_backbone=None).eval()
        calibrate_batchnorm(model, smooth_images(8, size, gen))
        x = smooth_images(1, size, gen)
        return DetectorOutputs(model).eval(), x, ["boxes", "scores", "labels"], {}
    if name in SEGMENTERS:
        model = getattr(torchvision.models.segmentation, name)(weights=None, weights_backbone=None).eval()
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        x = torch.randn(1, 3, 224, 224, generator=gen)
        return SegmenterOutputs(model).eval(), x, ["output"], {"input": {0: "N"}, "output": {0: "N"}}
    model = getattr(torchvision.models, name)(weights=None).eval()
    # Give BatchNorm non-trivial statistics so folding it is actually tested.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    # torchvision zero-initializes ViT's head: an all-zero output would make
    # the comparison vacuous. Random weights, as every other layer has.
    if hasattr(model, "heads"):
        with torch.no_grad():
            for m in model.heads.modules():
                if isinstance(m, torch.nn.Linear):
                    m.weight.normal_(0, 0.02, generator=gen)
                    m.bias.uniform_(-0.1, 0.1, generator=gen)
    x = torch.randn(1, 3, 224, 224, generator=gen)
    # Dynamic batch so one file serves every batch size (kiln --shape / bench --batch).
    return model, x, ["output"], {"input": {0: "N"}, "output": {0: "N"}}


def reference(model, x, device, autocast=None):
    """PyTorch's outputs on `device` as numpy arrays (floats as float32), under
    CUDA autocast to the dtype `autocast` when given."""
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        model, x = model.to("cuda"), x.to("cuda")
    with torch.no_grad(), torch.autocast("cuda", dtype=autocast or torch.float16, enabled=autocast is not None):
        y = model(x)
    outputs = y if isinstance(y, tuple) else (y,)
    return [(t.float() if t.is_floating_point() else t).detach().cpu().numpy() for t in outputs]


def export(name, out_dir, device):
    onnx_path = os.path.join(out_dir, name + ".onnx")
    ref_path = os.path.join(out_dir, name + ".reference.npz")
    if os.path.exists(onnx_path) and os.path.exists(ref_path):
        return
    torch.manual_seed(0)
    model, x, output_names, dynamic_axes = make(name)
    tmp = onnx_path + ".tmp"
    kwargs = dict(input_names=["input"], output_names=output_names, opset_version=17, dynamic_axes=dynamic_axes)
    try:
        # PyTorch 2.9+ exports through dynamo by default; kiln's tests use the
        # TorchScript exporter's graphs on every PyTorch version.
        torch.onnx.export(model, x, tmp, dynamo=False, **kwargs)
    except TypeError:
        torch.onnx.export(model, x, tmp, **kwargs)
    np.save(os.path.join(out_dir, name + ".input.npy"), x.numpy())
    np.savez(ref_path, **dict(zip(output_names, reference(model, x, device))))
    if device == "cuda":
        for tag, dtype in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
            try:
                outs = reference(model, x, device, autocast=dtype)
            except Exception as e:  # a model autocast cannot run is no reason to fail the export
                print(f"  no {tag} autocast reference: {e}")
                continue
            np.savez(os.path.join(out_dir, f"{name}.reference_{tag}.npz"), **dict(zip(output_names, outs)))
    os.replace(tmp, onnx_path)
    print(f"exported {onnx_path} ({os.path.getsize(onnx_path) / 1e6:.1f} MB)")


def main():
    args = sys.argv[1:]
    device = "cpu"
    if args[:1] == ["--reference-device"] and len(args) > 1:
        device, args = args[1], args[2:]
    if len(args) < 2:
        print(__doc__)
        return 2
    out_dir = args[0]
    os.makedirs(out_dir, exist_ok=True)
    for name in args[1:]:
        export(name, out_dir, device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
