#!/usr/bin/env bash
# attnface vs PyTorch, same models, same synthetic benchmark, same machine, one go.
#
#   bench/reference/compare.sh --model attn,resnet --batch 64 --image-size 64 --threads 2
#
# For each model, runs `attnface bench` and then bench/reference/bench_torch.py with the same
# settings (kept close in time: machines drift), then prints one table:
# model, mode, batch, size, attnface img/s, PyTorch img/s, ratio (attnface / PyTorch) of the
# medians, and of the best repetitions (on a machine other processes share, the best
# repetition is the one least disturbed; compare both).
#
# Environment: ATTNFACE (the command that runs the attnface CLI; default bin/attnface, else the
# shaded jar under trainer/target), PYTHON (default /usr/bin/python3 if it imports torch, else
# python3), OUT (folder for the JSON and logs; default /tmp/attnface-compare-<UTC time>).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

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
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ -z "${ATTNFACE:-}" ]; then
  if [ -x "$root/bin/attnface" ]; then
    ATTNFACE="$root/bin/attnface"
  else
    jar="$(ls "$root"/trainer/target/attnface*.jar 2>/dev/null | grep -v -e original -e sources -e tests | head -1 || true)"
    if [ -z "$jar" ]; then
      echo "compare.sh: no bin/attnface and no jar in trainer/target: build first (./mvnw -q -o install -DskipTests) or set ATTNFACE" >&2
      exit 1
    fi
    java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
    ATTNFACE="$java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar $jar"
  fi
fi
if [ -z "${PYTHON:-}" ]; then
  if /usr/bin/python3 -c 'import torch' 2>/dev/null; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
out="${OUT:-${TMPDIR:-/tmp}/attnface-compare-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"

common=(--batch "$batches" --image-size "$sizes" --device "$device" --precision "$precision" --threads "$threads"
        --warmup "$warmup" --reps "$reps" --steps-per-rep "$steps" --mode "$modes")
echo "compare: models $models, batch $batches, size $sizes, $device, $precision, $threads threads; logs in $out"
IFS=, read -r -a model_list <<< "$models"
for m in "${model_list[@]}"; do
  echo "== $m: attnface"
  # shellcheck disable=SC2086  # ATTNFACE may be a command with arguments
  $ATTNFACE bench --model "$m" "${common[@]}" --json "$out/attnface-$m.json" 2>&1 | tee "$out/attnface-$m.log"
  echo "== $m: pytorch"
  "$PYTHON" "$here/bench_torch.py" --model "$m" "${common[@]}" --json "$out/torch-$m.json" 2>&1 | tee "$out/torch-$m.log"
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
theirs, ti = load("torch")
lines = ["| model | mode | batch | size | attnface img/s median (min-max) | PyTorch img/s median (min-max) | ratio of medians | ratio of best reps |",
         "|---|---|---|---|---|---|---|---|"]
for key in sorted(ours, key=lambda k: (k[0], k[3], k[2], k[1] != "train")):
    a = ours[key]["imagesPerSecond"]
    if key not in theirs:
        continue
    t = theirs[key]["imagesPerSecond"]
    lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]}x{key[3]} | {a['median']:.1f} ({a['min']:.0f}-{a['max']:.0f}) "
                 f"| {t['median']:.1f} ({t['min']:.0f}-{t['max']:.0f}) | {a['median'] / t['median']:.2f} | {a['max'] / t['max']:.2f} |")
table = "\n".join(lines)
head = (f"attnface: {oi.get('backend')} ({oi.get('deviceName')}), {oi.get('threads')} threads; "
        f"PyTorch {ti.get('version')}: {ti.get('threads')} threads; {oi.get('precision')}; {oi.get('date')}")
print()
print(head)
print(table)
with open(os.path.join(out, "compare.md"), "w") as f:
    f.write(head + "\n\n" + table + "\n")
print(f"\n(written to {os.path.join(out, 'compare.md')})")
PY
