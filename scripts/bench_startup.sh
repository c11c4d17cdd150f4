#!/usr/bin/env bash
# Cold build vs warm start, per model: (1) cold build with an empty engine cache
# and an empty timing cache, (2) rebuild with a warm timing cache (engine cache
# emptied), (3) warm start = engine-cache hit, and the first run after it.
# usage: scripts/bench_startup.sh [MODEL ...]   (default: resnet50 mobilenet_v3_small)
set -euo pipefail
cd "$(dirname "$0")/.."
models=("$@")
[ ${#models[@]} -eq 0 ] && models=(resnet50 mobilenet_v3_small)
/usr/bin/python3 scripts/export_models.py build/models "${models[@]}" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
secs() { grep -oE "in [0-9.]+ (s|ms)" | head -1 | awk '{ if ($3 == "ms") printf "%.3f", $2 / 1000; else printf "%.3f", $2 }'; }
echo "| model | cold build s | rebuild, warm timing cache s | warm start (cache hit) s | first run after hit ms | warm / cold |"
echo "|---|---|---|---|---|---|"
for m in "${models[@]}"; do
  args=(build/models/$m.onnx --shape input=1x3x224x224 --timing-cache "$tmp/$m.timing.json" -n 0)
  cold=$(./build/kiln run "${args[@]}" --cache "$tmp/c1-$m" 2>/dev/null | secs)
  rm -rf "$tmp/c1-$m"
  rebuild=$(./build/kiln run "${args[@]}" --cache "$tmp/c1-$m" 2>/dev/null | secs)
  out=$(./build/kiln run "${args[@]}" --cache "$tmp/c1-$m" 2>/dev/null)
  warm=$(echo "$out" | secs)
  first=$(echo "$out" | grep -oE "first run [0-9.]+" | awk '{print $3}')
  /usr/bin/python3 -c "print(f'| $m | $cold | $rebuild | $warm | $first | {100*$warm/$cold:.1f}% |')"
done
