#!/usr/bin/env bash
# Builds and runs kernels_on_host.cpp with g++ (no GPU, no CUDA toolkit): the kernels' index math
# against reference loops. -ffp-contract=off keeps the host's float arithmetic unfused, as Java's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
g++ -std=c++17 -O1 -ffp-contract=off -I"$here/../../main/cuda" -I"$here" -o "$out/kernels_on_host" "$here/kernels_on_host.cpp"
"$out/kernels_on_host"
