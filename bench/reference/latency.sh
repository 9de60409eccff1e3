#!/usr/bin/env bash
# Batch-1 inference latency, p50 and p99, for a user predicting one face: attnface vs ONNX Runtime
# vs PyTorch, same models (seeded weights), same machine, each in a process of its own (ORT's pool
# spins after each run, so nothing shares its process), one after another.
#
#   bench/reference/latency.sh --model attn,resnet,ensemble --image-size 64,128 --threads 2 --runs 1000
#   bench/reference/latency.sh --model ensemble --image-size 128 --attn-width 16 --resnet-width 32   # the README recipe's
#
# Each engine times --runs single-image predictions one by one (after max(20, runs/10) untimed
# ones): the model's forward and softmax on an image already in memory, not the JPEG decode.
# Environment: ATTNFACE, PYTHON, OUT as for compare.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
models=attn,resnet,ensemble sizes=64 threads=2 runs=1000 rwidth=64 awidth=10
while [ $# -gt 0 ]; do
  case "$1" in
    --model) models="$2"; shift 2 ;;
    --image-size) sizes="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --resnet-width) rwidth="$2"; shift 2 ;;
    --attn-width) awidth="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "latency.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
# shellcheck source=find-engines.sh
source "$here/find-engines.sh"
out="${OUT:-${TMPDIR:-/tmp}/attnface-latency-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
common=(--model "$models" --image-size "$sizes" --threads "$threads" --latency "$runs" --resnet-width "$rwidth" --attn-width "$awidth")
echo "latency: models $models, size $sizes, $threads threads, $runs runs each, ResNet width $rwidth, attn width $awidth; logs in $out"
echo "== attnface"
# shellcheck disable=SC2086  # ATTNFACE may be a command with arguments
$ATTNFACE bench "${common[@]}" --json "$out/attnface.json" 2>&1 | tee "$out/attnface.log"
echo "== pytorch ($PYTHON)"
"$PYTHON" "$here/bench_torch.py" "${common[@]}" --json "$out/torch.json" 2>&1 | tee "$out/torch.log"
if [ -n "$PYTHON_ORT" ]; then
  echo "== onnxruntime ($PYTHON_ORT)"
  "$PYTHON_ORT" "$here/bench_ort.py" "${common[@]}" --json "$out/ort.json" 2>&1 | tee "$out/ort.log"
fi
"$PYTHON" - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
engines = [("attnface", "attnface"), ("PyTorch", "torch"), ("ONNX Runtime", "ort")]
data, heads = {}, []
for label, f in engines:
    p = os.path.join(out, f + ".json")
    if not os.path.exists(p):
        continue
    rep = json.load(open(p))
    heads.append(f"{label} {rep.get('version')}")
    data[label] = {(l["model"], l["imageSize"]): l["latencyMs"] for l in rep.get("latency", [])}
labels = [l for l, _ in engines if l in data]
lines = ["| model | size | " + " | ".join(f"{l} p50 / p99 ms" for l in labels) + " | attnface p50 vs " + " / ".join(labels[1:]) + " |",
         "|---|---|" + "---|" * len(labels) + "---|"]
for key in data["attnface"]:
    cells = [f"{data[l][key]['p50']:.2f} / {data[l][key]['p99']:.2f}" if key in data[l] else "-" for l in labels]
    a = data["attnface"][key]["p50"]
    ratios = [f"{data[l][key]['p50'] / a:.2f}x" if key in data[l] else "-" for l in labels[1:]]
    lines.append(f"| {key[0]} | {key[1]}x{key[1]} | " + " | ".join(cells) + " | " + " / ".join(ratios) + " |")
table = "\n".join(lines)
head = "batch-1 latency, " + ", ".join(heads) + f"; {json.load(open(os.path.join(out, 'attnface.json'))).get('deviceName')}"
print("\n" + head + " (ratio > 1: attnface answers sooner)\n" + table)
with open(os.path.join(out, "latency.md"), "w") as f:
    f.write(head + "\n\n" + table + "\n")
print(f"\n(written to {os.path.join(out, 'latency.md')})")
PY
