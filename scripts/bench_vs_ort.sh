#!/usr/bin/env bash
# kiln vs ONNX Runtime (CPU) side by side: same model files, same thread count,
# alternating runs, one script. Writes a Markdown table to stdout.
# usage: scripts/bench_vs_ort.sh [THREADS] [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
iters=${2:-30}
models=(resnet50 mobilenet_v3_small mobilenet_v2)
ort_dir=${ORT_DIR:-$HOME/.cache/kiln-ort-peer}
if [ ! -d "$ort_dir/node_modules/onnxruntime-node" ]; then
  mkdir -p "$ort_dir" && (cd "$ort_dir" && npm install --silent --ignore-scripts onnxruntime-node >/dev/null)
fi
/usr/bin/python3 scripts/export_models.py build/models "${models[@]}" >&2
export OMP_NUM_THREADS=$threads
echo "| model | batch | kiln p50 ms | ORT p50 ms | kiln / ORT |"
echo "|---|---|---|---|---|"
for m in "${models[@]}"; do
  for b in 1 8; do
    k=$(./build/kiln bench "build/models/$m.onnx" --batch "$b" -n "$iters" --warmup 3 --threads "$threads" --json --no-cache 2>/dev/null \
        | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["p50_ms"])')
    o=$(ORT_DIR="$ort_dir" node scripts/ort_bench.js "build/models/$m.onnx" "$threads" "$iters" 3 "$b" \
        | /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["p50_ms"])')
    /usr/bin/python3 -c "print(f'| $m | $b | {$k:.2f} | {$o:.2f} | {$k/$o:.2f}x |')"
  done
done
