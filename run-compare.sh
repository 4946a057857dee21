#!/usr/bin/env bash
# The main job: train a CNN on Fashion-MNIST with each optimizer and compare them.
# Installs the data set (Debian's dataset-fashion-mnist) if it is missing, builds the examples with
# Maven, and runs `compare`; extra arguments go to it (bash run-compare.sh --help lists them).
set -euo pipefail
cd "$(dirname "$0")"

data_dir=/usr/share/datasets/fashion-mnist
if [[ " $* " != *" --data "* && ! -f "$data_dir/train-images-idx3-ubyte.gz" ]]; then
  echo "Installing Debian's dataset-fashion-mnist package into $data_dir ..."
  sudo_cmd=""
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq dataset-fashion-mnist
fi

echo "Building (mvn package, tests skipped) ..."
mvn -B -q -pl examples -am package -DskipTests

export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
exec java -Djava.awt.headless=true \
  -cp "examples/target/classes:$(cat examples/target/classpath.txt)" \
  dev.fisheropt.examples.Compare "$@"
