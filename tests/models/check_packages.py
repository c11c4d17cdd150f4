#!/usr/bin/python3
"""`kiln predict` on every package scripts/make_packages.py made in DIR: each
prints one JSON object per image with its task's results and draws a PNG;
a malformed image, a missing package and a package with a bad field each
fail with kiln's one-line error naming the file.

usage: check_packages.py KILN PACKAGES_DIR [--cache DIR]
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from PIL import Image

EXPECT = {  # package -> (task, key of its results)
    "mobilenet_v3_small": ("classification", "classes"),
    "ssdlite320_mobilenet_v3_large": ("detection", "detections"),
    "lraspp_mobilenet_v3_large": ("semantic_segmentation", "class_map"),
    "maskrcnn_resnet50_fpn": ("instance_segmentation", "detections"),
    "keypointrcnn_resnet50_fpn": ("keypoints", "detections"),
    "ppocr_v4": ("text_recognition", "lines"),
}


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def main():
    args = sys.argv[1:]
    cache = ["--no-cache"]
    if "--cache" in args:
        i = args.index("--cache")
        cache, args = ["--cache", args[i + 1]], args[:i] + args[i + 2:]
    if len(args) != 2:
        print(__doc__)
        return 2
    kiln, root = args
    failed = 0

    def check(ok, what):
        nonlocal failed
        print(("PASS " if ok else "FAIL ") + what)
        failed += 0 if ok else 1

    with tempfile.TemporaryDirectory() as tmp:
        photo, wide = os.path.join(tmp, "photo.jpg"), os.path.join(tmp, "wide.png")
        Image.radial_gradient("L").convert("RGB").resize((640, 480)).save(photo)
        Image.linear_gradient("L").convert("RGB").resize((300, 120)).save(wide)
        present = [p for p in EXPECT if os.path.exists(os.path.join(root, p, "kiln_model.json"))]
        check(len(present) >= 4, f"packages in {root}: {', '.join(present)}")
        for name in present:
            task, key = EXPECT[name]
            out = os.path.join(tmp, name + ".png")
            r = run([kiln, "predict", os.path.join(root, name), photo, wide, "--json", "--draw", out] + cache)
            objs = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
            ok = r.returncode == 0 and len(objs) == 2 and all(o["task"] == task and key in o for o in objs)
            ok = ok and objs[0]["width"] == 640 and objs[1]["height"] == 120
            drawn = [os.path.join(tmp, f"{name}-{i}.png") for i in (1, 2)]
            ok = ok and all(os.path.exists(d) and Image.open(d).size == s for d, s in zip(drawn, [(640, 480), (300, 120)]))
            check(ok, f"{name}: {task}, 2 images, drawn" + ("" if ok else f"\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"))

        some = os.path.join(root, present[0]) if present else root
        bad_image = os.path.join(tmp, "broken.png")
        with open(bad_image, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\nnot really")
        r = run([kiln, "predict", some, bad_image] + cache)
        # libpng prints its own warning first; kiln's error is the last line.
        last = (r.stderr.strip().splitlines() or [""])[-1]
        check(r.returncode == 1 and last.startswith("kiln: error:") and bad_image in last, f"malformed image named: {last}")
        r = run([kiln, "predict", os.path.join(tmp, "no_such_package"), photo] + cache)
        check(r.returncode == 1 and "no_such_package" in r.stderr, f"missing package named: {r.stderr.strip()}")
        if present:
            broken = os.path.join(tmp, "broken_pkg")
            shutil.copytree(os.path.join(root, present[0]), broken)
            meta_path = os.path.join(broken, "kiln_model.json")
            with open(meta_path) as f:
                meta = json.load(f)
            first = next(iter(meta["networks"].values()))
            first["input"]["mean"] = [0.5, 0.5]
            with open(meta_path, "w") as f:
                json.dump(meta, f)
            r = run([kiln, "predict", broken, photo] + cache)
            check(r.returncode == 1 and meta_path in r.stderr and "mean" in r.stderr,
                  f"bad field named: {r.stderr.strip()}")
    print(f"{failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
