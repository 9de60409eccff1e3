#!/usr/bin/env bash
# Builds the project here and assembles dist/ for a machine that has no JDK and no Maven
# (the GPU machine): jars, a jlink runtime packed as jre.tgz, and the CUDA test runner.
#   bench/make-dist.sh            then run bench/gpu-check.sh there (see the command printed at the end)
# dist/ is ignored by git; it travels to the device machine with carry: ["dist"] and must stay
# under 64 MiB together with the working tree.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
m2=${M2_REPO:-$HOME/.m2/repository}

echo "make-dist: building (./mvnw -o package -DskipTests; nvcc $(command -v nvcc >/dev/null && echo found || echo "MISSING: no fatbins, the CUDA backend compiles the kernels with NVRTC at start-up"))"
# package, not install: a reactor build needs nothing in ~/.m2 from this project (shared with other builds).
if ! ./mvnw -q -o package -DskipTests; then
  echo "make-dist: the full build failed; building kernels and engine only (no attnface CLI in dist)" >&2
  ./mvnw -q -o package -DskipTests -pl kernels,engine
fi

rm -rf dist
mkdir -p dist/lib
v=0.1.0-SNAPSHOT
cp engine/target/attnface-engine-$v.jar engine/target/attnface-engine-$v-tests.jar kernels/target/attnface-kernels-$v.jar dist/lib/
if ! unzip -l kernels/target/attnface-kernels-$v.jar | grep -q '\.fatbin'; then
  echo "make-dist: WARNING: kernels jar holds no fatbin (nvcc missing at build time): CUDA needs NVRTC on the GPU machine" >&2
fi
jcuda=$m2/org/jcuda/jcuda/12.6.0/jcuda-12.6.0.jar
natives=$m2/org/jcuda/jcuda-natives/12.6.0/jcuda-natives-12.6.0-linux-x86_64.jar
cp "$jcuda" dist/lib/
# Only libJCudaDriver is used (driver API); the PTX compiler and runtime bindings are 23 MB we do not need.
cp "$natives" dist/lib/jcuda-natives-driver-only.jar
chmod u+w dist/lib/jcuda-natives-driver-only.jar
zip -q -d dist/lib/jcuda-natives-driver-only.jar 'lib/libJNvPTXCompiler*' 'lib/libJCudaRuntime*' 'lib/libJNvrtc*' || true
# The test runner (GpuTestMain) needs only the JUnit API and its two small dependencies.
for jar in org/junit/jupiter/junit-jupiter-api/5.14.4/junit-jupiter-api-5.14.4.jar \
           org/junit/platform/junit-platform-commons/1.14.4/junit-platform-commons-1.14.4.jar; do
  cp "$m2/$jar" dist/lib/
done
cp "$(ls "$m2"/org/opentest4j/opentest4j/*/opentest4j-*.jar | sort -V | tail -1)" dist/lib/
cp "$(ls "$m2"/org/apiguardian/apiguardian-api/*/apiguardian-api-*.jar | sort -V | tail -1)" dist/lib/

if [[ -f trainer/target/attnface.jar ]]; then
  cp trainer/target/attnface.jar dist/attnface.jar
  chmod u+w dist/attnface.jar
  zip -q -d dist/attnface.jar 'lib/libJNvPTXCompiler*' 'lib/libJCudaRuntime*' 'lib/libJNvrtc*' >/dev/null 2>&1 || true
else
  echo "make-dist: trainer/target/attnface.jar not built: gpu-check.sh will skip the CLI stages" >&2
fi

if [[ -f bench/target/benchmarks.jar ]]; then
  # JMH kernels through the Backend interface (BackendOpsBenchmark), run by gpu-check.sh with -p device=cuda
  cp bench/target/benchmarks.jar dist/benchmarks.jar
  chmod u+w dist/benchmarks.jar
  zip -q -d dist/benchmarks.jar 'lib/libJNvPTXCompiler*' 'lib/libJCudaRuntime*' 'lib/libJNvrtc*' >/dev/null 2>&1 || true
fi

bash bench/make-runtime.sh "$root/dist/jre" >/dev/null
tar czf dist/jre.tgz -C dist jre
rm -rf dist/jre

du -ah dist | sort -h | tail -20
total=$(du -sm dist | cut -f1)
tree=$(git ls-files -co --exclude-standard -z | xargs -0 du -cm 2>/dev/null | tail -1 | cut -f1)
echo "make-dist: dist/ is ${total} MiB; the working tree that travels with it is about ${tree} MiB (limit 64 MiB together)"
cat <<'MSG'
On a session with a GPU, run (one call, at most 7.5 minutes):
  run(command: "bash bench/gpu-check.sh", carry: ["dist"], timeout_s: 590)
The logs and gpu-check-summary.txt come back under $OUT.
MSG
