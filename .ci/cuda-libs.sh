#!/usr/bin/env bash
# The CUDA libraries without a GPU: reuses (or builds, from the local pip index) a venv holding
# NVIDIA's wheels of cuDNN, cuBLAS, NVRTC and NCCL, then runs the engine's cuda-libs test profile
# (CudaLibrariesTest, FfmSignaturesTest: library search in the venv layout, every FFM symbol and its
# signature against the wheels' C headers, the version calls,
# NVRTC compiling every kernel for sm_80 and sm_90 without warnings, the no-GPU handle errors).
#   bash .ci/cuda-libs.sh           venv + tests (about a minute once the venv exists)
#   bash .ci/cuda-libs.sh --venv    only make sure the venv exists; exit 1 with the reason if it cannot
# The venv: $ATTNFACE_CUDA_VENV, default ~/.cache/attnface/venv-cuda (about 2 GB; 1.3 GB of wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${ATTNFACE_CUDA_VENV:-$HOME/.cache/attnface/venv-cuda}
pkgs=(nvidia-cudnn-cu13 nvidia-cublas nvidia-cuda-nvrtc nvidia-nccl-cu13)
libs=(cudnn/lib/libcudnn.so.9 cu13/lib/libcublas.so.13 cu13/lib/libnvrtc.so.13 nccl/lib/libnccl.so.2)

have_libs() {
  local l
  for l in "${libs[@]}"; do compgen -G "$venv/lib/python3*/site-packages/nvidia/$l" >/dev/null || return 1; done
}

ensure_venv() {
  have_libs && return 0
  local p
  for p in "${pkgs[@]}"; do
    if [[ ! -d /opt/pypi/simple/$p && ! -d /opt/pypi-more/simple/$p ]]; then
      echo "cuda-libs: $p is not in the local pip index (/opt/pypi/simple, /opt/pypi-more/simple): cannot build $venv"
      return 1
    fi
  done
  echo "cuda-libs: building $venv from the local pip index (${pkgs[*]}; about 1.3 GB of wheels)"
  [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check --index-url file:///opt/pypi/simple \
      --extra-index-url file:///opt/pypi-more/simple "${pkgs[@]}"
  have_libs || { echo "cuda-libs: installed ${pkgs[*]} but the libraries are not where expected under $venv"; return 1; }
}

if [[ ${1:-} == --venv ]]; then ensure_venv; exit; fi
ensure_venv
export JAVA_HOME=${ATTNFACE_JAVA_HOME:-${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}}
export PATH="$JAVA_HOME/bin:$PATH"
./mvnw -B -ntp verify -pl kernels,engine -Pcuda-libs -Dattnface.cuda.venv="$venv" \
    -Dtest='CudaLibrariesTest,FfmSignaturesTest' -Dsurefire.failIfNoSpecifiedTests=false
