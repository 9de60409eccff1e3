#!/usr/bin/env bash
# How much memory the README recipe's training needs (ensemble, 128x128, --attn-width 16
# --resnet-width 32, batch 64, 2 threads), at several heap limits, each in a fresh JVM.
#
#   bench/heap-sweep.sh                                        # the training step (`bench`), -Xmx 1g..8g
#   bench/heap-sweep.sh --data ../shared/data/utkface --xmx 3g,3584m,4g,8g --seconds 240
#
# Without --data: `attnface bench` of the recipe's step (synthetic batch): img/s (median,
# min-max), peak resident memory (VmHWM), GC collections and time, exit status (1 with "out of
# Java heap" where the step does not fit). It holds no data set.
# With --data: the recipe's real `train` for --seconds at each heap (the face cache, 1.24 GB at
# 128x128, lives on the heap too), killed after; img/s is the progress bar's epoch mean at the
# last step reached, GC from -Xlog:gc: pause seconds, G1 evacuation failures (the heap is full)
# and concurrent mark cycles (each takes CPU from training). Build the face cache first (one
# `train` run, or --cache-dir with one) so that no heap's run includes the 40 s of decoding.
# Where img/s stops rising and evacuation failures stop as -Xmx grows, the heap is enough.
# Environment: ATTNFACE (default bin/attnface), OUT (default /tmp/attnface-heap-<UTC time>); the heap
# limit goes in JDK_JAVA_OPTIONS, which a -Xmx in ATTNFACE_JAVA_OPTS (bin/attnface's command line) overrides: leave that unset.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
xmxs=1g,1536m,2g,3g,4g,6g,8g warmup=2 reps=3 steps=2 threads=2 data="" seconds=240 cachedir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --xmx) xmxs="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --steps-per-rep) steps="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --cache-dir) cachedir="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "heap-sweep.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
attnface="${ATTNFACE:-$root/bin/attnface}"
out="${OUT:-${TMPDIR:-/tmp}/attnface-heap-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
if [ -n "$data" ]; then
  echo "heap sweep of the recipe's training on $data, $seconds s at each of -Xmx $xmxs; logs in $out"
  rows=()
  IFS=, read -r -a list <<< "$xmxs"
  for x in "${list[@]}"; do
    echo "== -Xmx$x"
    # bin/attnface execs java, so $! is the JVM; the java launcher reads JDK_JAVA_OPTIONS whatever ATTNFACE is
    # shellcheck disable=SC2086
    JDK_JAVA_OPTIONS="-Xmx$x -Xlog:gc:file=$out/gc-$x.log" $attnface train --data "$data" --model ensemble \
      --epochs 17 --split 0.8,0.05 --lr 0.05 --attn-lr 0.003 --attn-width 16 --image-size 128 --resnet-width 32 --threads "$threads" \
      --loss-weights 1,1,0.5,0.5 --out "$out/run-$x" ${cachedir:+--cache-dir "$cachedir"} > "$out/train-$x.log" 2>&1 &
    pid=$! hwm=0 end=$(( $(date +%s) + seconds ))
    while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do
      h="$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null || true)"
      [ -n "$h" ] && hwm="$h"
      sleep 2
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rows+=("$(python3 - "$x" "$out/train-$x.log" "$out/gc-$x.log" "$hwm" <<'PY'
import re, sys
x, log, gc, hwm = sys.argv[1:5]
text = open(log, errors="replace").read()
steps = re.findall(r"\] (\d+)/(\d+) +([\d.]+) img/s", text)
g = open(gc).read().splitlines() if gc else []
pauses = sum(float(m.group(1)) for l in g for m in [re.search(r"Pause .* (\d+\.\d+)ms$", l)] if m) / 1000
evac = sum("Evacuation Failure" in l for l in g)
cycles = sum(re.search(r"Concurrent Mark Cycle \d", l) is not None for l in g)
full = sum("Pause Full" in l for l in g)
oom = "out of Java heap" in text or "OutOfMemoryError" in text
step = f"{steps[-1][2]} at step {steps[-1][0]}" if steps else "-"
print(f"| {x} | {step} | {int(hwm) // 1024} | {pauses:.1f} s | {evac} | {cycles} | {full} | {'out of heap' if oom else 'ran'} |")
PY
)")
    echo "${rows[-1]}"
  done
  {
    echo "the recipe's training on $data, $seconds s per heap, $threads threads; $(date -u +%Y-%m-%d)"
    echo
    echo "| -Xmx | img/s (epoch mean so far) | peak resident MiB | GC pauses | evacuation failures | concurrent cycles | full GCs | status |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
  } | tee "$out/heap-sweep.md"
  echo "(written to $out/heap-sweep.md)"
  exit 0
fi
echo "heap sweep: ensemble 128x128, attn width 16, ResNet width 32, batch 64, train, $threads threads, -Xmx $xmxs; logs in $out"
rows=()
IFS=, read -r -a list <<< "$xmxs"
for x in "${list[@]}"; do
  echo "== -Xmx$x"
  set +e
  # shellcheck disable=SC2086
  JDK_JAVA_OPTIONS="-Xmx$x" $attnface bench --model ensemble --image-size 128 --attn-width 16 --resnet-width 32 \
    --batch 64 --mode train --threads "$threads" --warmup "$warmup" --reps "$reps" --steps-per-rep "$steps" \
    --json "$out/xmx-$x.json" > "$out/xmx-$x.log" 2>&1
  rc=$?
  set -e
  tail -n 3 "$out/xmx-$x.log"
  ips="$(awk '$1 == "ensemble" && $2 == "train" {printf "%s (%s-%s)", $5, $6, $7}' "$out/xmx-$x.log")"
  mem="$(sed -n 's/^peak resident memory (VmHWM): \([0-9]*\) MiB.*GC: \(.*\)$/\1 | \2/p' "$out/xmx-$x.log")"
  if [ "$rc" != 0 ]; then
    why="$(grep -o -m1 -e 'out of Java heap[^;]*' -e 'OutOfMemoryError.*' "$out/xmx-$x.log" || true)"
    rows+=("| $x | ${ips:--} | ${mem:-- | -} | exit $rc ${why:+($why)} |")
  else
    rows+=("| $x | $ips | $mem | 0 |")
  fi
done
{
  echo "ensemble 128x128 (attn width 16, ResNet width 32), batch 64, train, $threads threads; $(sed -n 's/^attnface bench on \(.*\), fp32.*/\1/p' "$out"/xmx-*.log | head -1); $(date -u +%Y-%m-%d)"
  echo
  echo "| -Xmx | img/s median (min-max) | peak resident MiB | GC | status |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} | tee "$out/heap-sweep.md"
echo "(written to $out/heap-sweep.md)"
