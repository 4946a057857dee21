#!/usr/bin/env bash
# The main job: train a CNN on Fashion-MNIST (or, with --task lm, a small GPT on Debian's fortunes)
# with each optimizer and compare them.
# Installs the data (Debian's dataset-fashion-mnist, or fortunes for --task lm) if it is missing,
# builds the examples with Maven, and runs `compare`; extra arguments go to it (bash run-compare.sh
# --help lists them).
set -euo pipefail
cd "$(dirname "$0")"

install_package() {
  echo "Installing Debian's $1 package into $2 ..."
  sudo_cmd=""
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq "$1"
}

task=fashion
previous=""
for arg in "$@"; do
  if [[ "$previous" == "--task" ]]; then task="$arg"; fi
  if [[ "$arg" == --task=* ]]; then task="${arg#--task=}"; fi
  previous="$arg"
done

if [[ " $* " != *" --data "* ]]; then
  if [[ "$task" == "lm" ]]; then
    data_dir=/usr/share/games/fortunes
    if [[ ! -f "$data_dir/fortunes" ]]; then install_package fortunes "$data_dir"; fi
  else
    data_dir=/usr/share/datasets/fashion-mnist
    if [[ ! -f "$data_dir/train-images-idx3-ubyte.gz" ]]; then
      install_package dataset-fashion-mnist "$data_dir"
    fi
  fi
fi

echo "Building (mvn package, tests skipped) ..."
mvn -B -q -pl examples -am package -DskipTests

export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
classpath="examples/target/classes:$(cat examples/target/classpath.txt)"

# --workers N: the same comparison, data-parallel, in N worker processes on loopback, each training
# on 1/N of every global batch; task 0 evaluates and writes the outputs (LocalCluster starts them;
# docs/distributed.md). The gRPC servers listen on every interface without authentication: where
# unshare -n is permitted they run in a private network namespace with only lo up.
workers=""
previous=""
for arg in "$@"; do
  if [[ "$previous" == "--workers" ]]; then workers="$arg"; fi
  if [[ "$arg" == --workers=* ]]; then workers="${arg#--workers=}"; fi
  previous="$arg"
done
if [[ -n "$workers" ]]; then
  # LocalCluster kills the workers after a week: a full comparison takes hours, not days.
  launch=(java -cp "$classpath" dev.fisheropt.distributed.LocalCluster --workers "$workers"
    --timeout-seconds 604800 -Djava.awt.headless=true dev.fisheropt.examples.Compare "$@")
  if unshare -n true 2>/dev/null; then
    exec unshare -n sh -c 'ip link set lo up && exec "$@"' sh "${launch[@]}"
  fi
  echo "note: unshare -n is not permitted here; the workers' servers listen on every interface" >&2
  exec "${launch[@]}"
fi

exec java -Djava.awt.headless=true \
  -cp "$classpath" \
  dev.fisheropt.examples.Compare "$@"
