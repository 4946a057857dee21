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
exec java -Djava.awt.headless=true \
  -cp "examples/target/classes:$(cat examples/target/classpath.txt)" \
  dev.fisheropt.examples.Compare "$@"
