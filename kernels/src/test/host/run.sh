#!/usr/bin/env bash
# Builds and runs kernels_on_host.cpp with g++ (no GPU, no CUDA toolkit): the kernels' index math
# against reference loops. -ffp-contract=off keeps the host's float arithmetic unfused, as Java's.
set -euo pipefail
if ! command -v g++ >/dev/null 2>&1; then echo "[attnface-kernels] g++ not found: host emulation of the kernels skipped"; exit 0; fi
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
g++ -std=c++17 -O1 -ffp-contract=off -I"$here/../../main/cuda" -I"$here" -o "$out/kernels_on_host" "$here/kernels_on_host.cpp"
"$out/kernels_on_host"
