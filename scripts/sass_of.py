#!/usr/bin/env python3
"""Writes the SASS of the kernels whose mangled names contain any of the given
words, from `cuobjdump -sass LIB`, with an opcode count per kernel: what a
kernel's instructions are spent on, where Nsight Compute is not at hand.

usage: sass_of.py LIB OUT WORD...
"""
import collections
import re
import subprocess
import sys

lib, out, words = sys.argv[1], sys.argv[2], sys.argv[3:]
tool = "cuobjdump"
for cand in ("cuobjdump", "/usr/local/cuda/bin/cuobjdump"):
    try:
        subprocess.run([cand, "--version"], capture_output=True, check=True)
        tool = cand
        break
    except (OSError, subprocess.CalledProcessError):
        continue
text = subprocess.run([tool, "-sass", lib], capture_output=True, text=True, check=True).stdout
funcs = re.split(r"(?m)^\s*Function : ", text)
with open(out, "w") as f:
    for fn in funcs[1:]:
        name = fn.split("\n", 1)[0].strip()
        if not any(w in name for w in words):
            continue
        ops = collections.Counter()
        for line in fn.splitlines():
            m = re.match(r"\s*/\*[0-9a-f]{4,}\*/\s+(@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)", line)
            if m:
                ops[m.group(2).split(".")[0]] += 1
        f.write(f"== {name}: {sum(ops.values())} instructions\n")
        f.write("   " + ", ".join(f"{k} {v}" for k, v in ops.most_common(25)) + "\n")
        f.write(fn + "\n")
print(open(out).read().count("== "), "kernels written to", out)
