#!/usr/bin/env python3
"""Prints a `kiln bench --profile --json` run's time per op type and per node.

usage: profile_nodes.py LOG [TOP]

LOG is the bench's output (log lines before the JSON are skipped). Per batch:
the op-type totals, then the TOP slowest nodes (default: all) with their
kernel and share, so that one convolution's engine choice can be read off.
"""
import json
import sys


def main() -> int:
    text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
    start = text.find("\n{")
    doc = json.loads(text[start + 1:] if start >= 0 else text)
    top = int(sys.argv[2]) if len(sys.argv) > 2 else None
    for row in doc["results"]:
        prof = row.get("profile")
        if not prof:
            continue
        total = prof["kernels_ms"]
        print(f"batch {row['batch']}: p50 {row['p50_ms']:.3f} ms, kernels {total:.3f} ms")
        for op in prof["by_op"]:
            print(f"  {op['op_type']:<28} {op['kernel']:<16} {op['nodes']:>4} {op['ms']:9.3f} ms {100 * op['share']:5.1f}%")
        nodes = sorted(prof["nodes"], key=lambda n: -n["ms"])[:top]
        for n in nodes:
            print(f"  {n['ms']:8.3f} ms {100 * n['ms'] / total if total else 0:5.1f}%  {n['op_type']:<22} "
                  f"{n['kernel']:<16} {n['node']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
