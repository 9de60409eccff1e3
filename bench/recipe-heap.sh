#!/usr/bin/env bash
# How much Java heap a training recipe needs: runs its first epochs on a small training fraction
# (every face decoded and cached, as in the full run; a few steps and a validation pass at the recipe's
# batch and image size) at several -Xmx values and prints, for each, the outcome, the wall time,
# the largest heap left after a GC (the live set) and the share of the wall time spent in GC pauses.
# bin/attnface's heap table (HEAP_NEED_MIB) comes from this. Usage:
#   bench/recipe-heap.sh [DATA] [RECIPE] [XMX...]     (defaults: ../shared/data/utkface ensemble 3g 4g 5g 6g 8g)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$root/../shared/data/utkface}
recipe=${2:-ensemble}
shift $(( $# > 2 ? 2 : $# )) || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(3g 4g 5g 6g 8g)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# the cache first, so that every size below reads the same cached faces
ATTNFACE_JAVA_OPTS=-Xmx8g "$root/bin/attnface" train --recipe "$recipe" --data "$data" --epochs 0 --out "$work/cache-run" > "$work/cache.log" 2>&1 \
  || { cat "$work/cache.log"; exit 1; }
printf '%-6s %-8s %8s %14s %10s\n' xmx outcome wall_s live_max_mib gc_share
for x in "${sizes[@]}"; do
  run="$work/run-$x"
  start=$(date +%s.%N)
  set +e
  ATTNFACE_JAVA_OPTS="-Xmx$x -Xlog:gc:file=$work/gc-$x.log" "$root/bin/attnface" train --recipe "$recipe" --data "$data" \
      --split 0.02,0.05 --epochs 2 --out "$run" > "$work/train-$x.log" 2>&1
  rc=$?
  set -e
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  outcome=ok
  [ $rc -eq 0 ] || outcome="exit$rc"
  grep -q "out of Java heap" "$work/train-$x.log" && outcome=OOM
  # G1 lines: "GC(12) Pause Young (Normal) (G1 Evacuation Pause) 900M->310M(1024M) 12.345ms"
  live=$(sed -n 's/.*Pause.*->\([0-9]*\)M(.*/\1/p' "$work/gc-$x.log" | sort -n | tail -1)
  pauses=$(sed -n 's/.*Pause.* \([0-9.]*\)ms$/\1/p' "$work/gc-$x.log" | paste -sd+ | bc)
  share=$(echo "scale=3; ${pauses:-0} / 1000 / $wall" | bc)
  printf '%-6s %-8s %8.0f %14s %10s\n' "$x" "$outcome" "$wall" "${live:-?}" "$share"
done
