#!/usr/bin/env bash
# Builds libfisheropt_ops.so (AVX2) and libfisheropt_ops_avx512.so and copies them, with the OpenBLAS
# library they load, to OUTPUT_DIR. Called by the Maven build of `ops`.
#   build.sh OUTPUT_DIR BUILD_DIR TF_JAVA_NATIVE_JAR
# Fetches the tensorflow-cpu 2.18.0 wheel once into $FISHEROPT_CACHE (default ~/.cache/fisheropt),
# verifies its sha256, and takes the C++ headers from it; takes libtensorflow_framework.so.2 from
# TF-Java's tensorflow-core-native linux-x86_64 jar so the op links against the framework it loads into.
set -euo pipefail

OUTPUT_DIR=$1
BUILD_DIR=$2
NATIVE_JAR=$3
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${FISHEROPT_CACHE:-$HOME/.cache/fisheropt}

WHEEL=tensorflow_cpu-2.18.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
WHEEL_URL=https://files.pythonhosted.org/packages/aa/1d/032a9d40762895e51cad06f382135c14d16487a0ad9dcc65aae5bd89c968/$WHEEL
WHEEL_SHA256=089e71746960ea581dca53401f84b3b99c8537313e337a9e5dbf97036a936f7e

log() { echo "[custom-ops-cc] $*" >&2; }

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) log "only linux-x86_64 is supported, this is $(uname -s)-$(uname -m)"; exit 1 ;;
esac

verified() { [[ -f $1 ]] && echo "$WHEEL_SHA256  $1" | sha256sum --check --status; }

fetch_wheel() {
  local wheel=$CACHE/$WHEEL
  if verified "$wheel"; then return; fi
  mkdir -p "$CACHE"
  local part=$wheel.part
  for attempt in 1 2 3 4 5; do
    log "downloading $WHEEL (attempt $attempt)"
    # -C - resumes a partial file left by an earlier, interrupted try.
    if curl -fL --retry 5 --retry-delay 5 --connect-timeout 30 -C - -o "$part" "$WHEEL_URL"; then
      if verified "$part"; then mv "$part" "$wheel"; return; fi
      log "checksum mismatch, discarding the download"
      rm -f "$part"
    fi
    sleep $((attempt * 5))
  done
  log "direct download failed; trying pip download"
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux2014_x86_64 --implementation cp --abi cp311 -d "$tmp" tensorflow-cpu==2.18.0 >&2
  if verified "$tmp/$WHEEL"; then mv "$tmp/$WHEEL" "$wheel"; rm -rf "$tmp"; return; fi
  rm -rf "$tmp"
  log "could not obtain $WHEEL with sha256 $WHEEL_SHA256"
  exit 1
}

HEADERS=$CACHE/tensorflow-2.18.0-include
if [[ ! -f $HEADERS/.complete ]]; then
  fetch_wheel
  log "extracting the C++ headers"
  rm -rf "$HEADERS" "$HEADERS.tmp"
  mkdir -p "$HEADERS.tmp"
  unzip -q "$CACHE/$WHEEL" 'tensorflow/include/*' -d "$HEADERS.tmp"
  mv "$HEADERS.tmp/tensorflow/include" "$HEADERS"
  rm -rf "$HEADERS.tmp"
  touch "$HEADERS/.complete"
fi

# OpenBLAS (LAPACK's ?syevd for FisheroptSymmetricEigh) from the scipy-openblas32 wheel: one shared
# library whose symbols all carry a scipy_ prefix, so it cannot clash with another BLAS in the JVM.
BLAS_WHEEL=scipy_openblas32-0.3.34.481.3-py3-none-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl
BLAS_WHEEL_SHA256=0595f94cd58c1f8a0d90c975621f4587337a003916b1979e834ebdf2cb5d9504
BLAS_DIR=$CACHE/scipy-openblas32-0.3.34.481.3
if [[ ! -f $BLAS_DIR/.complete ]]; then
  tmp=$(mktemp -d)
  for attempt in 1 2 3; do
    log "downloading $BLAS_WHEEL (attempt $attempt)"
    if python3 -m pip download --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
      -d "$tmp" scipy-openblas32==0.3.34.481.3 >&2 \
      && echo "$BLAS_WHEEL_SHA256  $tmp/$BLAS_WHEEL" | sha256sum --check --status; then
      break
    fi
    rm -f "$tmp/$BLAS_WHEEL"
    sleep $((attempt * 5))
  done
  if [[ ! -f $tmp/$BLAS_WHEEL ]]; then
    log "could not obtain $BLAS_WHEEL with sha256 $BLAS_WHEEL_SHA256"
    exit 1
  fi
  rm -rf "$BLAS_DIR"
  mkdir -p "$BLAS_DIR"
  unzip -q -j "$tmp/$BLAS_WHEEL" 'scipy_openblas32/lib/libscipy_openblas.so' \
    '*.dist-info/licenses/LICENSE.txt' -d "$BLAS_DIR"
  rm -rf "$tmp"
  touch "$BLAS_DIR/.complete"
fi

FRAMEWORK_DIR=$BUILD_DIR/tf-java
mkdir -p "$FRAMEWORK_DIR"
if [[ ! -f $FRAMEWORK_DIR/libtensorflow_framework.so.2 || $NATIVE_JAR -nt $FRAMEWORK_DIR/libtensorflow_framework.so.2 ]]; then
  unzip -q -o -j "$NATIVE_JAR" '*/libtensorflow_framework.so.2' -d "$FRAMEWORK_DIR"
fi

start=$(date +%s)
cmake -S "$HERE" -B "$BUILD_DIR/cmake" -DCMAKE_BUILD_TYPE=Release \
  -DTF_INCLUDE_DIR="$HEADERS" -DTF_FRAMEWORK_LIBRARY="$FRAMEWORK_DIR/libtensorflow_framework.so.2" \
  -DOPENBLAS_LIBRARY="$BLAS_DIR/libscipy_openblas.so" >&2
cmake --build "$BUILD_DIR/cmake" -j "$(nproc)" >&2
mkdir -p "$OUTPUT_DIR"
cp "$BUILD_DIR/cmake/libfisheropt_ops.so" "$BUILD_DIR/cmake/libfisheropt_ops_avx512.so" \
  "$BLAS_DIR/libscipy_openblas.so" "$OUTPUT_DIR/"
cp "$BLAS_DIR/LICENSE.txt" "$OUTPUT_DIR/libscipy_openblas.LICENSE.txt"
log "built libfisheropt_ops.so and libfisheropt_ops_avx512.so (with libscipy_openblas.so) into $OUTPUT_DIR in $(( $(date +%s) - start )) s"
