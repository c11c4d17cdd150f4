#!/usr/bin/python3
"""kiln against PyTorch on one GPU, measured side by side in one run (the
cuda-fast issue's peer benchmark). For each model and batch size:

  torch eager, eager + a hand-captured CUDA graph, torch.compile and
  torch.compile(mode="reduce-overhead") — torchvision modules, weights=None,
  channels_last, in the precision asked for; and kiln on the ONNX export of the
  same module (`kiln bench --device cuda`, with and without --cuda-graphs).

Median milliseconds per inference over --iters runs after --warmup (CUDA
events around each run for PyTorch; kiln bench's p50 of the whole call, with
device tensors in and out (--device-io), as PyTorch's). The
table goes to stdout, everything to --json. Run it on the GPU machine (see
scripts/gpu_test.sh for the environment); compare only figures of one run.

usage: bench_vs_torch.py --kiln BIN [--models resnet50:1,32 vit_b_16:1] [--precision fp16|fp32]
                         [--iters 200] [--warmup 30] [--work DIR] [--json OUT]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torchvision


def median_ms(fn, iters, warmup):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def torch_figures(model, x, iters, warmup):
    out = {}
    with torch.inference_mode():
        out["torch eager"] = median_ms(lambda: model(x), iters, warmup)
        # A hand-captured CUDA graph of the eager module.
        static_x = x.clone()
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                model(static_x)
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            model(static_x)
        out["eager + CUDA graph"] = median_ms(lambda: g.replay(), iters, warmup)
        for name, mode in (("torch.compile", None), ("reduce-overhead", "reduce-overhead")):
            try:
                torch._dynamo.reset()
                compiled = torch.compile(model, mode=mode) if mode else torch.compile(model)
                t0 = time.time()
                compiled(x)
                torch.cuda.synchronize()
                out[name + " compile s"] = round(time.time() - t0, 1)
                out[name] = median_ms(lambda: compiled(x), iters, warmup)
            except Exception as e:  # a compile failure is a figure too
                out[name] = f"failed: {type(e).__name__}: {str(e)[:120]}"
    return out


def kiln_figures(kiln, onnx_path, batch, precision, iters, warmup, cache):
    out = {}
    for label, extra in (("kiln", []), ("kiln + CUDA graphs", ["--cuda-graphs"])):
        cmd = [kiln, "bench", onnx_path, "--device", "cuda", "--batch", str(batch), "-n", str(iters),
               "--warmup", str(warmup), "--precision", precision, "--json", "--cache", cache,
               "--device-io"] + extra  # device tensors in and out, as the PyTorch figures have
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            out[label] = "failed: " + (r.stderr.strip().splitlines() or ["?"])[-1][:160]
            continue
        row = json.loads(r.stdout)["results"][0]
        out[label] = row["p50_ms"]
        if "device_p50_ms" in row:
            out[label + " gpu compute"] = row["device_p50_ms"]
        if "cuda_graphs" in row:
            out[label + " mode"] = row["cuda_graphs"]["mode"]
    return out


def export(name, path):
    if os.path.exists(path):
        return
    model = getattr(torchvision.models, name)(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)
    kwargs = dict(input_names=["input"], output_names=["output"], opset_version=17,
                  dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    try:
        torch.onnx.export(model, x, path + ".tmp", dynamo=False, **kwargs)
    except TypeError:
        torch.onnx.export(model, x, path + ".tmp", **kwargs)
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--models", nargs="+", default=["resnet50:1,32", "mobilenet_v3_small:1", "vit_b_16:1,32"])
    ap.add_argument("--precision", default="fp16", choices=["fp16", "bf16", "fp32"])
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--work", default="/tmp/kiln-vs-torch")
    ap.add_argument("--json")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[a.precision]
    torch.backends.cudnn.benchmark = True
    rows = []
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, precision {a.precision}")
    for spec in a.models:
        name, batches = spec.split(":")
        onnx_path = os.path.join(a.work, name + ".onnx")
        export(name, onnx_path)
        model = getattr(torchvision.models, name)(weights=None).eval().cuda().to(dtype)
        model = model.to(memory_format=torch.channels_last)
        for b in map(int, batches.split(",")):
            x = torch.randn(b, 3, 224, 224, device="cuda", dtype=dtype).to(memory_format=torch.channels_last)
            row = {"model": name, "batch": b}
            row.update(torch_figures(model, x, a.iters, a.warmup))
            row.update(kiln_figures(a.kiln, onnx_path, b, a.precision, a.iters, a.warmup, os.path.join(a.work, "cache")))
            peers = [v for k, v in row.items() if k in ("torch eager", "eager + CUDA graph", "torch.compile",
                                                        "reduce-overhead") and isinstance(v, float)]
            best_kiln = [v for k, v in row.items() if k in ("kiln", "kiln + CUDA graphs") and isinstance(v, float)]
            if peers and best_kiln:
                row["kiln / best peer"] = round(min(best_kiln) / min(peers), 3)
            rows.append(row)
            print(json.dumps(row), flush=True)
    cols = ["torch eager", "eager + CUDA graph", "torch.compile", "reduce-overhead", "kiln", "kiln + CUDA graphs",
            "kiln / best peer"]
    print("\n| model | batch | " + " | ".join(cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for r in rows:
        cells = [f"{r[c]:.3f}" if isinstance(r.get(c), float) else str(r.get(c, "-"))[:24] for c in cols]
        print(f"| {r['model']} | {r['batch']} | " + " | ".join(cells) + " |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"device": torch.cuda.get_device_name(), "precision": a.precision, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
