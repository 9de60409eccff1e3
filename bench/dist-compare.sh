#!/usr/bin/env bash
# Data parallel on one 2-core machine: 2 ranks x 1 thread against 1 process x 2 threads, training
# images/s, for attnface (mpirun) and PyTorch DDP (torchrun, gloo), same models, same global batch.
#
#   bench/dist-compare.sh                 # attn, resnet (64x64) and the ensemble recipe (128x128, ResNet width 32, attn width 16)
#   bench/dist-compare.sh --quick         # 1 rep of 1 step each: checks that everything runs (numbers meaningless)
#
# Prints one table: per configuration attnface 1x2, 2x1 and their ratio (the issue's target: >= 0.9),
# the all-reduce ms per step of each of the 2 ranks (time in MPI calls and bucket copies during
# backward + time waiting after it), PyTorch's 1x2, DDP 2x1 and ratio; then resnet 2x1 without overlap,
# and the CPU time a rank burns while it waits for a late peer, in a blocking MPI call and polled.
# Needs the build with test classes (./mvnw -q -o verify -DskipTests), Open MPI's mpirun, and the torch venv
# (~/.cache/attnface/venv-torch, made by the README's pip command if missing). Logs and JSON in $OUT.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
reps=5 steps=5 warmup=20   # 20 warm-up steps: with 2 the JIT of two JVMs on 2 cores was still compiling (attn 2x1 at 0.64 of 1x2, 0.99 after 30)
if [ "${1:-}" = "--quick" ]; then reps=1 steps=1 warmup=1; fi
out="${OUT:-${TMPDIR:-/tmp}/attnface-dist-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
venv="$HOME/.cache/attnface/venv-torch"
if [ ! -x "$venv/bin/torchrun" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --index-url file:///opt/pypi/simple --extra-index-url file:///opt/pypi-more/simple torch numpy
fi
mpi_base=(mpirun --bind-to core -np 2)
[ "$(id -u)" = 0 ] && mpi_base+=(--allow-run-as-root)
mpi=("${mpi_base[@]}" --oversubscribe)
common=(--mode train --batch 64 --warmup "$warmup" --reps "$reps" --steps-per-rep "$steps")
configs=("attn|--model attn --image-size 64"
         "resnet|--model resnet --image-size 64"
         "ensemble recipe|--model ensemble --image-size 128 --resnet-width 32 --attn-width 16")
median() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['results'][0]['imagesPerSecond']['median'] if 'results' in d else d['imagesPerSecond']['median'])" "$1"; }
run() {   # run NAME COMMAND...: output to $out/NAME.log; on failure its tail and exit 1
  local name="$1"; shift
  if ! "$@" > "$out/$name.log" 2>&1; then
    echo "dist-compare: '$*' failed; $out/$name.log ends:" >&2; tail -n 15 "$out/$name.log" >&2; exit 1
  fi
}
ratio() { python3 -c "import sys; print(float(sys.argv[1]) / float(sys.argv[2]))" "$1" "$2"; }
ranks() { python3 -c "
import json,sys; d=json.load(open(sys.argv[1]))
print(' / '.join('%.1f+%.1f' % (r['allreduceMsPerStep'] - r['waitMsPerStep'], r['waitMsPerStep']) for r in d['perRank']))" "$1"; }

echo "data parallel on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores; logs in $out"
rows=()
for c in "${configs[@]}"; do
  name="${c%%|*}" opts="${c#*|}" tag="$(echo "$name" | tr ' ' '-')"
  # shellcheck disable=SC2086
  run "$tag-1x2" "$root/bin/attnface" bench $opts "${common[@]}" --threads 2 --json "$out/$tag-1x2.json"
  # shellcheck disable=SC2086
  run "$tag-2x1" "${mpi[@]}" "$root/bin/attnface" bench $opts "${common[@]}" --threads 1 --json "$out/$tag-2x1.json"
  # shellcheck disable=SC2086
  run "$tag-torch-1x2" "$venv/bin/python" "$here/reference/ddp_torch.py" $opts --batch 64 --warmup "$warmup" --reps "$reps" \
      --steps-per-rep "$steps" --threads 2 --json "$out/$tag-torch-1x2.json"
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=1 run "$tag-torch-2x1" "$venv/bin/torchrun" --standalone --nproc_per_node 2 "$here/reference/ddp_torch.py" $opts --batch 64 \
      --warmup "$warmup" --reps "$reps" --steps-per-rep "$steps" --threads 1 --json "$out/$tag-torch-2x1.json"
  a1=$(median "$out/$tag-1x2.json") a2=$(median "$out/$tag-2x1.json")
  t1=$(median "$out/$tag-torch-1x2.json") t2=$(median "$out/$tag-torch-2x1.json")
  rows+=("$(printf '%-16s %9.1f %9.1f %6.2f  %-27s %9.1f %9.1f %6.2f' "$name" "$a1" "$a2" "$(ratio "$a2" "$a1")" \
      "$(ranks "$out/$tag-2x1.json")" "$t1" "$t2" "$(ratio "$t2" "$t1")")")
done
printf '%-16s %9s %9s %6s  %-27s %9s %9s %6s\n' "training, b64" "1x2 img/s" "2x1 img/s" "ratio" "all-reduce+wait ms r0 / r1" \
    "torch 1x2" "DDP 2x1" "ratio"
for r in "${rows[@]}"; do echo "$r"; done
# What the overlap buys: resnet on 2 ranks with every bucket started only after backward (ATTNFACE_ALLREDUCE_OVERLAP=0).
run resnet-2x1-no-overlap env ATTNFACE_ALLREDUCE_OVERLAP=0 "${mpi[@]}" -x ATTNFACE_ALLREDUCE_OVERLAP "$root/bin/attnface" bench \
    --model resnet --image-size 64 "${common[@]}" --threads 1 --json "$out/resnet-2x1-no-overlap.json"
printf '%-16s %9s %9.1f %6s  %-27s   (ATTNFACE_ALLREDUCE_OVERLAP=0: buckets start after backward)\n' "resnet, no overlap" "" \
    "$(median "$out/resnet-2x1-no-overlap.json")" "" "$(ranks "$out/resnet-2x1-no-overlap.json")"
# What waiting costs: the CPU a rank burns waiting 3 s for a late peer, blocking in MPI vs polled (why no communication thread).
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
for np in "" "--oversubscribe"; do
  # shellcheck disable=SC2086
  run wait-cpu "${mpi_base[@]}" $np "$java" --enable-native-access=ALL-UNNAMED \
      -cp "$root/engine/target/classes:$root/engine/target/test-classes" org.attnface.engine.dist.WaitCpuCheck
  sed "s/^/${np:-(2 slots, not oversubscribed)} /" "$out/wait-cpu.log" | grep 'rank 0 waiting'
done
