#!/usr/bin/env bash
# The Python that bench/reference needs: PyTorch 2.13 CPU, numpy, onnx, ONNX Runtime, safetensors,
# in a venv at ~/.cache/attnface/venv-torch ($ATTNFACE_TORCH_VENV), created when missing from the
# machine's local package index only (never the internet). Prints the venv's python; idempotent:
# a venv that already imports everything is left as it is (about a second).
#
#   py="$(bench/reference/make-venv.sh)" && "$py" bench/reference/bench_torch.py --model attn
#
# Environment: ATTNFACE_TORCH_VENV (the venv folder), PYTHON_FOR_VENV (the python3.11 that makes
# it; the torch 2.13 wheel is for CPython 3.11), PIP_INDEX (default file:///opt/pypi/simple),
# PIP_EXTRA_INDEX (default file:///opt/pypi-more/simple), PIP_FIND_LINKS (default /opt/wheels,
# where torch-2.13.0+cpu is served).
set -euo pipefail
venv="${ATTNFACE_TORCH_VENV:-$HOME/.cache/attnface/venv-torch}"
want="import torch, numpy, onnx, onnxruntime, safetensors; assert torch.__version__.startswith('2.13'), torch.__version__"
# installed at the right versions: read from the packages' metadata (importing torch takes seconds)
have="from importlib.metadata import version as v; assert v('torch').startswith('2.13'), v('torch'); [v(p) for p in ('numpy', 'onnx', 'onnxruntime', 'safetensors')]"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$have" 2>/dev/null; then
  echo "$venv/bin/python"
  exit 0
fi
base="${PYTHON_FOR_VENV:-}"
if [ -z "$base" ]; then
  for c in python3.11 python3; do
    if command -v "$c" >/dev/null && "$c" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then base="$c"; break; fi
  done
fi
if [ -z "$base" ]; then
  echo "make-venv.sh: no Python 3.11 found (the torch 2.13.0+cpu wheel is cp311); set PYTHON_FOR_VENV" >&2
  exit 1
fi
echo "make-venv.sh: creating $venv with $base (local index only)" >&2
"$base" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check --no-input \
  --index-url "${PIP_INDEX:-file:///opt/pypi/simple}" --extra-index-url "${PIP_EXTRA_INDEX:-file:///opt/pypi-more/simple}" \
  --find-links "${PIP_FIND_LINKS:-/opt/wheels}" \
  "torch==2.13.0+cpu" numpy onnx onnxruntime safetensors >&2
"$venv/bin/python" -c "$want" >&2
echo "$venv/bin/python"
