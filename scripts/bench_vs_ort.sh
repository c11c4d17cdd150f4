#!/usr/bin/env bash
# kiln vs ONNX Runtime (CPU) side by side: same model files, same thread count,
# kiln and ORT alternating for ROUNDS rounds per model and batch size, one
# script. Prints a Markdown table: medians of the per-round p50s, their ratio,
# and the range of the per-round ratios (the machine's noise).
# usage: scripts/bench_vs_ort.sh [THREADS] [ITERATIONS] [ROUNDS]
#   ITERATIONS is for batch 1 (resnet50 runs a tenth as many, batch 8 an eighth).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
iters=${2:-300}
rounds=${3:-3}
models=(resnet50 mobilenet_v3_small mobilenet_v2)
ort_dir=${ORT_DIR:-$HOME/.cache/kiln-ort-peer}
if [ ! -d "$ort_dir/node_modules/onnxruntime-node" ]; then
  mkdir -p "$ort_dir" && (cd "$ort_dir" && npm install --silent --ignore-scripts onnxruntime-node >/dev/null)
fi
/usr/bin/python3 scripts/export_models.py build/models "${models[@]}" >&2
export OMP_NUM_THREADS=$threads
echo "| model | batch | kiln p50 ms | ORT p50 ms | kiln / ORT | per-round ratios |"
echo "|---|---|---|---|---|---|"
for m in "${models[@]}"; do
  for b in 1 8; do
    n=$iters
    [ "$m" = resnet50 ] && n=$((n / 10))
    [ "$b" = 8 ] && n=$((n / 8))
    [ "$n" -lt 5 ] && n=5
    ks=() os=()
    for _ in $(seq "$rounds"); do
      ks+=("$(./build/kiln bench "build/models/$m.onnx" --batch "$b" -n "$n" --warmup 10 --threads "$threads" --json --no-cache 2>/dev/null \
          | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["p50_ms"])')")
      os+=("$(ORT_DIR="$ort_dir" node scripts/ort_bench.js "build/models/$m.onnx" "$threads" "$n" 10 "$b" \
          | /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["p50_ms"])')")
    done
    /usr/bin/python3 - "$m" "$b" "${ks[*]}" "${os[*]}" <<'PY'
import statistics, sys
m, b, ks, os_ = sys.argv[1], sys.argv[2], list(map(float, sys.argv[3].split())), list(map(float, sys.argv[4].split()))
k, o = statistics.median(ks), statistics.median(os_)
r = [a / c for a, c in zip(ks, os_)]
print(f"| {m} | {b} | {k:.2f} | {o:.2f} | {k / o:.2f} | {min(r):.2f}-{max(r):.2f} |")
PY
  done
done
