#!/usr/bin/env bash
# Compiles every CUDA source in $1 to a fatbin in $2: SASS for sm_80 (A100) and sm_90
# (H100/H200) plus compute_90 PTX that newer drivers JIT for later chips. Writes
# fatbin.properties beside them (the nvcc release and targets), which the CUDA backend reads
# to decide whether this driver can load them or the kernels must be compiled with NVRTC.
# Without nvcc the build goes on; the CUDA backend then compiles the sources (shipped in the
# jar too) with NVRTC, or reports the kernels as missing.
set -euo pipefail
src=$1 out=$2
mkdir -p "$out"
if ! command -v nvcc >/dev/null 2>&1; then
  echo "[attnface-kernels] nvcc not found on PATH: CUDA kernels not compiled (the CPU backend is unaffected)"
  rm -f "$out/fatbin.properties"
  exit 0
fi
# "Cuda compilation tools, release 13.0, V13.0.88" -> 13.0
release=$(nvcc --version | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p')
printf 'nvcc=%s\nsass=80 90\nptx=90\n' "$release" > "$out/fatbin.properties"
shopt -s nullglob
for cu in "$src"/*.cu; do
  name=$(basename "$cu" .cu)
  fatbin="$out/$name.fatbin"
  # Skip unchanged sources so an incremental build costs nothing.
  if [[ -f "$fatbin" && "$fatbin" -nt "$cu" && ! "$src/common.cuh" -nt "$fatbin" ]]; then continue; fi
  echo "[attnface-kernels] nvcc $name.cu"
  nvcc -fatbin -O3 -std=c++17 -lineinfo -I"$src" \
    -gencode arch=compute_80,code=sm_80 \
    -gencode arch=compute_90,code=sm_90 \
    -gencode arch=compute_90,code=compute_90 \
    -o "$fatbin" "$cu"
done
