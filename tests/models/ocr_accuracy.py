#!/usr/bin/python3
"""OCR test: renders lines of known text (several DejaVu fonts and sizes, one
image turned upside down, one light-on-dark), reads them all with
`kiln predict PACKAGE ... --json` as one batch, and measures the accuracy.

Scores ignore spaces: PaddleOCR's Chinese+English PP-OCRv4 recognizer often
drops the space between English words (PaddleOCR issues #11386, #13201), and
that is the model, not kiln. The accuracy with spaces is printed too.
  character accuracy = 1 - edit distance / characters, over all images
  line accuracy      = lines read exactly (spaces aside) / lines rendered
Fails when either is under its threshold, or kiln fails.

usage: ocr_accuracy.py KILN PACKAGE [--cache DIR] [--min-chars 0.97] [--min-lines 0.8] [--keep DIR]
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from render_text import render  # noqa: E402

TEXTS = [
    ["The quick brown fox jumps over the lazy dog.", "Invoice 2024-07-15: total 1,234.56 EUR"],
    ["kiln reads text on the CPU and the GPU", "Order #A-1093 shipped to Berlin (3 items)"],
    ["Pack my box with five dozen liquor jugs", "Call +44 20 7946 0958 before 18:30"],
    ["Sphinx of black quartz, judge my vow", "Room 404, Floor 7, Building B"],
    ["Temperature: 21.5 C, humidity 48%", "Version 3.14.159 released on 2025-03-01"],
    ["Hello World", "ONNX models in C++20 and CUDA"],
]
FONTS = ["DejaVuSans", "DejaVuSerif", "DejaVuSansMono", "DejaVuSans-Bold", "DejaVuSerif-Italic",
         "DejaVuSansCondensed"]
SIZES = [14, 20, 28, 40]


def cases():
    """(name, lines, render kwargs); each font at each size, the texts in turn."""
    out, k = [], 0
    for font in FONTS:
        for size in SIZES:
            out.append((f"{font}-{size}", TEXTS[k % len(TEXTS)], {"font": font, "size": size}))
            k += 1
    out.append(("upside-down-28", TEXTS[0], {"size": 28, "rotate": 180}))
    out.append(("light-on-dark-28", TEXTS[1], {"size": 28, "fg": (240, 240, 200), "bg": (30, 40, 90)}))
    return out


def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def main():
    args = sys.argv[1:]
    opts = {"--cache": None, "--min-chars": "0.97", "--min-lines": "0.8", "--keep": None}
    pos = []
    while args:
        if args[0] in opts and len(args) > 1:
            opts[args[0]], args = args[1], args[2:]
        else:
            pos.append(args.pop(0))
    if len(pos) != 2:
        print(__doc__)
        return 2
    kiln, package = pos
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = opts["--keep"] or tmp
        os.makedirs(out_dir, exist_ok=True)
        images = []
        for name, lines, kw in cases():
            path = os.path.join(out_dir, name + ".png")
            upside = kw.get("rotate") == 180
            render(lines, **kw).save(path)
            # Upside down, the lines read bottom to top.
            images.append((name, path, list(reversed(lines)) if upside else lines))
        cmd = [kiln, "predict", package] + [p for _, p, _ in images] + ["--json"]
        cmd += ["--cache", opts["--cache"]] if opts["--cache"] else ["--no-cache"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL kiln exited {r.returncode}\n{r.stdout}\n{r.stderr}")
            return 1
        results = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    if len(results) != len(images):
        print(f"FAIL {len(results)} results for {len(images)} images")
        return 1
    chars = errors = errors_sp = chars_sp = lines_ok = lines_all = 0
    for (name, _, truth), res in zip(images, results):
        got = [line["text"] for line in res["lines"]]
        t, g = "\n".join(truth), "\n".join(got)
        e = edit_distance(t.replace(" ", ""), g.replace(" ", ""))
        errors += e
        chars += len(t.replace(" ", ""))
        errors_sp += edit_distance(t, g)
        chars_sp += len(t)
        ok = sum(1 for x, y in zip(truth, got) if x.replace(" ", "") == y.replace(" ", "")) if len(got) == len(truth) else 0
        lines_ok += ok
        lines_all += len(truth)
        print(f"{'ok ' if e == 0 else 'ERR'} {name:28s} {ok}/{len(truth)} lines, {e} char errors  {got}")
    char_acc, line_acc = 1 - errors / chars, lines_ok / lines_all
    print(f"character accuracy {100 * char_acc:.2f}% ({errors} errors in {chars} characters, spaces aside); "
          f"with spaces {100 * (1 - errors_sp / chars_sp):.2f}%")
    print(f"line accuracy {100 * line_acc:.2f}% ({lines_ok}/{lines_all} lines exact, spaces aside), "
          f"{len(images)} images")
    ok = char_acc >= float(opts["--min-chars"]) and line_acc >= float(opts["--min-lines"])
    print("PASS" if ok else f"FAIL: thresholds {opts['--min-chars']} (characters), {opts['--min-lines']} (lines)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
