# Sourced by compare.sh and latency.sh: finds the engines to run, each overridable from the environment.
#   ATTNFACE     the attnface CLI: bin/attnface, else the shaded jar under trainer/target
#   PYTHON       PyTorch 2.13 CPU: the venv of make-venv.sh (~/.cache/attnface/venv-torch, made when
#                missing, from the local package index only); if that fails, a python3 that imports torch
#   PYTHON_113   Debian's PyTorch 1.13 (/usr/bin/python3 with python3-torch), an extra column where present
#                and not the same interpreter as PYTHON; empty otherwise (set it to '' to skip)
#   PYTHON_ORT   a python with onnxruntime and torch (bench_ort.py exports models.py's networks): PYTHON
#                when it has both; empty (no ONNX Runtime column) otherwise
root="$(cd "$here/../.." && pwd)"
if [ -z "${ATTNFACE:-}" ]; then
  if [ -x "$root/bin/attnface" ]; then
    ATTNFACE="$root/bin/attnface"
  else
    jar="$(ls "$root"/trainer/target/attnface*.jar 2>/dev/null | grep -v -e original -e sources -e tests | head -1 || true)"
    if [ -z "$jar" ]; then
      echo "$(basename "$0"): no bin/attnface and no jar in trainer/target: build first (./mvnw -q -o package -DskipTests) or set ATTNFACE" >&2
      exit 1
    fi
    java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
    ATTNFACE="$java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar $jar"
  fi
fi
if [ -z "${PYTHON:-}" ]; then
  if ! PYTHON="$("$here/make-venv.sh")"; then
    echo "$(basename "$0"): could not make the PyTorch 2.13 venv (above); falling back to a python3 that imports torch" >&2
    if /usr/bin/python3 -c 'import torch' 2>/dev/null; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
  fi
fi
if [ -z "${PYTHON_113+set}" ]; then
  PYTHON_113=""
  if [ "$(readlink -f /usr/bin/python3)" != "$(readlink -f "$(command -v "$PYTHON")")" ] \
     && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    PYTHON_113=/usr/bin/python3
  fi
fi
if [ -z "${PYTHON_ORT+set}" ]; then
  PYTHON_ORT=""
  if "$PYTHON" -c 'import onnxruntime, torch' 2>/dev/null; then PYTHON_ORT="$PYTHON"; fi
fi
