#!/usr/bin/env bash
# attnface vs PyTorch 2.13 and ONNX Runtime, same models, same synthetic benchmark, same machine, one go.
#
#   bench/reference/compare.sh --model attn,resnet --batch 64 --image-size 64,128 --threads 2
#
# For each model, runs `attnface bench`, then bench_torch.py on PyTorch 2.13 (the venv of
# make-venv.sh, made when missing), then Debian's PyTorch 1.13 where /usr/bin/python3 has it,
# then bench_ort.py (inference rows; models.py's networks exported to ONNX) in a process of its
# own, all with the same settings and kept close in time (machines drift); then prints one
# table: attnface img/s, PyTorch img/s, ratio (attnface / PyTorch) of the medians and of the
# best repetitions (on a shared machine the best repetition is the least disturbed one;
# compare both), and the same for PyTorch 1.13 and ONNX Runtime where they ran.
#
# Environment: ATTNFACE, PYTHON, PYTHON_113, PYTHON_ORT (see find-engines.sh), OUT (folder for
# the JSON and logs; default /tmp/attnface-compare-<UTC time>).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

models=attn,resnet batches=64 sizes=64 device=cpu precision=fp32 threads=2 warmup=3 reps=5 steps=5 modes=train,infer
while [ $# -gt 0 ]; do
  case "$1" in
    --model) models="$2"; shift 2 ;;
    --batch) batches="$2"; shift 2 ;;
    --image-size) sizes="$2"; shift 2 ;;
    --device) device="$2"; shift 2 ;;
    --precision) precision="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --steps-per-rep) steps="$2"; shift 2 ;;
    --mode) modes="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

# shellcheck source=find-engines.sh
source "$here/find-engines.sh"
out="${OUT:-${TMPDIR:-/tmp}/attnface-compare-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"

common=(--batch "$batches" --image-size "$sizes" --device "$device" --precision "$precision" --threads "$threads"
        --warmup "$warmup" --reps "$reps" --steps-per-rep "$steps" --mode "$modes")
echo "compare: models $models, batch $batches, size $sizes, $device, $precision, $threads threads; logs in $out"
echo "engines: attnface ($ATTNFACE), PyTorch ($PYTHON), PyTorch 1.13 (${PYTHON_113:-none}), ONNX Runtime (${PYTHON_ORT:-none})"
IFS=, read -r -a model_list <<< "$models"
for m in "${model_list[@]}"; do
  echo "== $m: attnface"
  # shellcheck disable=SC2086  # ATTNFACE may be a command with arguments
  $ATTNFACE bench --model "$m" "${common[@]}" --json "$out/attnface-$m.json" 2>&1 | tee "$out/attnface-$m.log"
  echo "== $m: pytorch"
  "$PYTHON" "$here/bench_torch.py" --model "$m" "${common[@]}" --json "$out/torch-$m.json" 2>&1 | tee "$out/torch-$m.log"
  if [ -n "$PYTHON_113" ]; then
    echo "== $m: pytorch 1.13"
    "$PYTHON_113" "$here/bench_torch.py" --model "$m" "${common[@]}" --json "$out/torch113-$m.json" 2>&1 | tee "$out/torch113-$m.log"
  fi
  if [ -n "$PYTHON_ORT" ] && [ "$device" = cpu ] && [[ ",$modes," == *",infer,"* ]]; then
    echo "== $m: onnxruntime"
    "$PYTHON_ORT" "$here/bench_ort.py" --model "$m" --batch "$batches" --image-size "$sizes" --threads "$threads" \
      --warmup "$warmup" --reps "$reps" --steps-per-rep "$steps" --json "$out/ort-$m.json" 2>&1 | tee "$out/ort-$m.log"
  fi
done

"$PYTHON" - "$out" <<'PY'
import glob, json, os, sys
out = sys.argv[1]
def load(prefix):
    rows, info = {}, None
    for path in sorted(glob.glob(os.path.join(out, prefix + "-*.json"))):
        with open(path) as f:
            rep = json.load(f)
        info = rep
        for r in rep["results"]:
            rows[(r["model"], r["mode"], r["batch"], r["imageSize"])] = r
    return rows, info
ours, oi = load("attnface")
others = [(label, *load(prefix)) for label, prefix in (("PyTorch", "torch"), ("PyTorch 1.13", "torch113"), ("ONNX Runtime", "ort"))]
others = [o for o in others if o[1]]
cols = "".join(f" {label} img/s median (min-max) | ratio of medians | ratio of best reps |" for label, _, _ in others)
lines = ["| model | mode | batch | size | attnface img/s median (min-max) |" + cols,
         "|---|---|---|---|---|" + "---|---|---|" * len(others)]
for key in sorted(ours, key=lambda k: (k[0], k[3], k[2], k[1] != "train")):
    a = ours[key]["imagesPerSecond"]
    row = f"| {key[0]} | {key[1]} | {key[2]} | {key[3]}x{key[3]} | {a['median']:.1f} ({a['min']:.0f}-{a['max']:.0f}) |"
    for _, theirs, _ in others:
        if key not in theirs:
            row += " - | - | - |"
            continue
        t = theirs[key]["imagesPerSecond"]
        row += f" {t['median']:.1f} ({t['min']:.0f}-{t['max']:.0f}) | {a['median'] / t['median']:.2f} | {a['max'] / t['max']:.2f} |"
    lines.append(row)
table = "\n".join(lines)
head = (f"attnface: {oi.get('backend')} ({oi.get('deviceName')}), {oi.get('threads')} threads; "
        + "; ".join(f"{label} {info.get('version')}: {info.get('threads')} threads" for label, _, info in others)
        + f"; {oi.get('precision')}; {oi.get('date')}")
print()
print(head)
print(table)
with open(os.path.join(out, "compare.md"), "w") as f:
    f.write(head + "\n\n" + table + "\n")
print(f"\n(written to {os.path.join(out, 'compare.md')})")
PY
