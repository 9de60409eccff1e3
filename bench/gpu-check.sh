#!/usr/bin/env bash
# The whole GPU check in one call, on a CUDA machine, building nothing (run bench/make-dist.sh
# first, here, and carry dist/): attnface doctor (GPU, driver, libraries, kernels); the
# CUDA-vs-CPU tests; the PyTorch eager reference; training steps of the ensemble on synthetic
# data; attnface's throughput on the same card; a per-op profile and JMH kernel timings; one
# summary table. Every stage has a time limit; together under 7.5 minutes.
#   bash bench/gpu-check.sh            logs go to ${OUT:-./gpu-logs}
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
logs=${OUT:-$root/gpu-logs}
mkdir -p "$logs"
# The device tool returns at most 8 files: gpu-check.log, gpu-check-summary.txt, 4 JSON results
# and up to 2 JVM crash logs; everything else goes to a scratch folder.
scratch=$(mktemp -d)
start=$(date +%s)
# Every stage has its own limit (seconds), listed here; they add up to less than the budget
# (checked below), so the script ends in time even when every stage hangs. A stage is also cut to
# what is left of the budget, keeping 25 s for the summary. GPU_CHECK_BUDGET=300 for less.
budget=${GPU_CHECK_BUDGET:-450}
declare -A lim=([doctor]=30 [tests]=80 [torch]=40 [ensemble]=40 [fp32]=70 [tf32]=55 [profile]=30 [jmh]=35)
sum=$(( ${lim[doctor]} + ${lim[tests]} + 2 * ${lim[torch]} + ${lim[ensemble]} + ${lim[fp32]} + ${lim[tf32]} + ${lim[profile]} + ${lim[jmh]} + 25 ))
stage() { echo; echo "=== [$(( $(date +%s) - start ))s] $*"; }
# limit N: N seconds, or what is left of the budget if less (at least 5).
limit() {
  local left=$(( budget - 25 - ($(date +%s) - start) ))
  if (( left >= $1 )); then echo "$1"; elif (( left >= 5 )); then echo "$left"; else echo 5; fi
}
# run_for N CMD...: CMD with the limit above; TERM at the limit, KILL 5 s later (a JVM can hang in a driver call).
run_for() { local n; n=$(limit "$1"); shift; timeout -k 5 "$n" "$@"; }
# The JVM's warm-up: 20 untimed steps, enough for cudnnFind on every convolution shape (the first
# step of each shape) and for the JIT to compile the step's Java code, before 3 x 5 timed steps.
warm=(--warmup 20 --reps 3 --steps-per-rep 5)

torch_python=${TORCH_PYTHON:-/opt/torch/.venv/bin/python3}
[[ -x "$torch_python" ]] || torch_python=$(command -v python3 || true)

# main runs in a pipeline (a subshell) so that tee gets all of it; variables it sets stay inside.
main() {
(( sum <= budget )) || echo "gpu-check: the stage limits add up to ${sum}s with the summary, over the budget of ${budget}s: the last stages get cut"
stage "GPU, driver, libraries and kernels (nvidia-smi, attnface doctor)"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || echo "nvidia-smi failed"
java=""
if command -v java >/dev/null && java -version 2>&1 | grep -qE 'version "(2[5-9]|[3-9][0-9])'; then
  java=$(command -v java)
elif [[ -x dist/jre/bin/java ]]; then
  java=dist/jre/bin/java
elif [[ -f dist/jre.tgz ]]; then
  mkdir -p /tmp/attnface-jre && tar xzf dist/jre.tgz -C /tmp/attnface-jre && java=/tmp/attnface-jre/jre/bin/java
fi
if [[ -z "$java" ]]; then
  echo "no Java 25 runtime: no java >= 25 on PATH and no dist/jre.tgz (run bench/make-dist.sh and carry dist)"; return 1
fi
jflags=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx24g)
cli=dist/attnface.jar
if [[ -f $cli ]]; then
  # doctor finds cuDNN/cuBLAS/NVRTC itself (also in /opt/*/.venv's nvidia/*/lib) and compiles the kernels with NVRTC if the driver needs it
  run_for "${lim[doctor]}" "$java" "${jflags[@]}" -jar "$cli" doctor 2>&1
  echo "exit status: $?"
else
  echo "dist/attnface.jar missing (the trainer's shaded jar): no doctor, training or benchmark stages"
fi

stage "CUDA-vs-CPU tests (GpuTestMain)"
if compgen -G "dist/lib/*.jar" >/dev/null; then
  run_for "${lim[tests]}" "$java" "${jflags[@]}" -cp "dist/lib/*" org.attnface.engine.backend.cuda.GpuTestMain 2>&1 | tee "$scratch/gpu-tests.log" | grep -v '^\s*at '
  echo "tests exit status: ${PIPESTATUS[0]}"
else
  echo "dist/lib missing: run bench/make-dist.sh here and carry dist"
fi

# The PyTorch reference before the slow stages, so that a cut-off run still has the numbers to compare with.
if [[ -n "$torch_python" && -f bench/reference/bench_torch.py ]]; then
  for prec in fp32 tf32; do
    stage "PyTorch eager reference, $prec (batch 256, 64x64, train; 20 warm-up steps)"
    PYTHONUNBUFFERED=1 run_for "${lim[torch]}" "$torch_python" bench/reference/bench_torch.py --device cuda --batch 256 --image-size 64 \
        --model attn,resnet --mode train --precision $prec "${warm[@]}" --json "$logs/torch-$prec.json" 2>&1 | tail -8
    echo "exit status: ${PIPESTATUS[0]}"
  done
else
  echo "no PyTorch python or bench/reference/bench_torch.py: no reference numbers"
fi

if [[ -f $cli ]]; then
  stage "Training steps of the ensemble on synthetic data (cuda, batch 64)"
  run_for "${lim[ensemble]}" "$java" "${jflags[@]}" -jar "$cli" bench --device cuda --model ensemble --mode train --batch 64 --image-size 64 \
      --warmup 20 --reps 2 --steps-per-rep 5 2>&1 | tail -15
  echo "exit status: ${PIPESTATUS[0]}"

  stage "attnface throughput, fp32 (batch 256, 64x64, train; 20 warm-up steps)"
  run_for "${lim[fp32]}" "$java" "${jflags[@]}" -jar "$cli" bench --device cuda --precision fp32 --batch 256 --image-size 64 --model attn,resnet --mode train \
      "${warm[@]}" --json "$logs/attnface-fp32.json" 2>&1 | tail -12
  echo "exit status: ${PIPESTATUS[0]}"
  stage "attnface throughput, tf32 (cuDNN and cuBLAS may use TF32 tensor cores)"
  ATTNFACE_TF32=1 run_for "${lim[tf32]}" "$java" "${jflags[@]}" -jar "$cli" bench --device cuda --precision tf32 --batch 256 --image-size 64 --model attn,resnet --mode train \
      "${warm[@]}" --json "$logs/attnface-tf32.json" 2>&1 | tail -12
  echo "exit status: ${PIPESTATUS[0]}"

  # Last: the least needed stages get what is left of the budget.
  stage "Per-op profile of 2 ResNet training steps (cuda, fp32, batch 256; the profiler waits for each op)"
  run_for "${lim[profile]}" "$java" "${jflags[@]}" -jar "$cli" bench --device cuda --precision fp32 --batch 256 --image-size 64 --model resnet --mode train \
      --warmup 5 --reps 1 --steps-per-rep 2 --profile --profile-dir "$scratch/profile" >/dev/null 2>&1
  echo "exit status: $?"
  for f in "$scratch"/profile/*/profile.txt; do [[ -f $f ]] && { echo "$f"; head -45 "$f"; }; done
fi
if [[ -f dist/benchmarks.jar ]]; then
  stage "JMH kernels on the GPU (BackendOpsBenchmark, -p device=cuda; short iterations)"
  run_for "${lim[jmh]}" "$java" "${jflags[@]}" -jar dist/benchmarks.jar BackendOps -p device=cuda \
      -p op=gemm-1024,conv-l1-fwd,conv-l1-bwd-filter,conv-attn-fwd,grid-sample-fwd,grid-sample-bwd,batch-norm-train,sgd-step-11m \
      -wi 1 -i 2 -w 300ms -r 300ms > "$scratch/jmh.log" 2>&1
  echo "exit status: $?"
  grep -E '^Benchmark|^BackendOps' "$scratch/jmh.log" | grep -v '≈ 0'
  grep -m 3 -E 'Exception|Error:' "$scratch/jmh.log"
fi

}

# The summary runs whatever happened above (a stage that failed or timed out leaves a '-').
main 2>&1 | tee "$logs/gpu-check.log"
{
stage "Summary"
timeout 20 "${torch_python:-python3}" - "$logs" <<'PY' | tee "$logs/gpu-check-summary.txt"
import json, os, sys
logs = sys.argv[1]
def load(name):
    try:
        with open(os.path.join(logs, name)) as f:
            return {(r["model"], r["batch"], r["mode"]): r["imagesPerSecond"]["median"] for r in json.load(f)["results"]}
    except Exception as e:
        return {}
print(f"{'model':8s} {'batch':>5s} {'precision':9s} {'attnface img/s':>15s} {'PyTorch img/s':>14s} {'ratio':>6s}")
for prec in ("fp32", "tf32"):
    a, t = load(f"attnface-{prec}.json"), load(f"torch-{prec}.json")
    for key in sorted(set(a) | set(t)):
        av, tv = a.get(key), t.get(key)
        ratio = f"{av / tv:6.2f}" if av and tv else "     -"
        fa = f"{av:15.1f}" if av else f"{'-':>15s}"
        ft = f"{tv:14.1f}" if tv else f"{'-':>14s}"
        print(f"{key[0]:8s} {key[1]:5d} {prec:9s} {fa} {ft} {ratio}")
PY
grep -h "GPU tests:" "$scratch/gpu-tests.log" 2>/dev/null
for f in $(ls hs_err_pid*.log 2>/dev/null | head -2); do cp "$f" "$logs/"; echo "JVM crash log: $f (copied to $logs)"; done
echo "gpu-check finished in $(( $(date +%s) - start ))s; logs in $logs"
} 2>&1 | tee -a "$logs/gpu-check.log"
