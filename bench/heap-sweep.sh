#!/usr/bin/env bash
# How much memory the README recipe's training needs: its training step (ensemble, 128x128,
# --attn-width 16 --resnet-width 32, batch 64, 2 threads) benchmarked at several heap limits,
# each in a fresh JVM; prints one table of img/s (median, min-max), peak resident memory
# (VmHWM), GC collections and time, and the exit status (1 with "out of Java heap" where the
# step does not fit). Where the median stops falling as -Xmx shrinks, the heap is enough; below
# it GC thrashes, then the step fails.
#
#   bench/heap-sweep.sh                          # -Xmx 1g,1536m,2g,3g,4g,6g,8g
#   bench/heap-sweep.sh --xmx 2g,3g,8g --reps 5
#
# The synthetic bench holds no data set; `train` also keeps the face cache on the heap:
# 19,879 faces x 144 x 144 x 3 bytes = 1.24 GB at --image-size 128 (296 MB at 64). Add it.
# Environment: ATTNFACE (default bin/attnface), OUT (default /tmp/attnface-heap-<UTC time>).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
xmxs=1g,1536m,2g,3g,4g,6g,8g warmup=2 reps=3 steps=2 threads=2
while [ $# -gt 0 ]; do
  case "$1" in
    --xmx) xmxs="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --steps-per-rep) steps="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "heap-sweep.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
attnface="${ATTNFACE:-$root/bin/attnface}"
out="${OUT:-${TMPDIR:-/tmp}/attnface-heap-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
echo "heap sweep: ensemble 128x128, attn width 16, ResNet width 32, batch 64, train, $threads threads, -Xmx $xmxs; logs in $out"
rows=()
IFS=, read -r -a list <<< "$xmxs"
for x in "${list[@]}"; do
  echo "== -Xmx$x"
  set +e
  # shellcheck disable=SC2086
  ATTNFACE_JAVA_OPTS="-Xmx$x ${ATTNFACE_JAVA_OPTS:-}" $attnface bench --model ensemble --image-size 128 --attn-width 16 --resnet-width 32 \
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
