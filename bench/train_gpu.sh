#!/bin/sh
# Training figures on a GPU machine (BENCHMARKS.md ## Training): ResNet-18 (CIFAR stem) on
# 32x32 RGB images at batch 512, and the default convnet on the full Fashion-MNIST training set
# if it is there. Builds into /tmp/vkclr-build if meson is available, else uses build/.
# Results go to $OUT (default /tmp/vkclr-gpu).
set -u
OUT=${OUT:-/tmp/vkclr-gpu}
mkdir -p "$OUT"
bin=build/vkclr
if command -v meson >/dev/null 2>&1 && command -v glslangValidator >/dev/null 2>&1; then
  meson setup /tmp/vkclr-build --buildtype=release >/dev/null && ninja -C /tmp/vkclr-build src/cli/vkclr >/dev/null && bin=/tmp/vkclr-build/vkclr
fi
echo "binary: $bin"; ldd "$bin" | grep "not found"
"$bin" devices 2>&1 | head -20
timeout 240 "$bin" train --data synthetic:32x32x3:10240 --encoder resnet18 --batch 512 --epochs 1 --threads 12 \
  --knn-k 0 --log-every 2 --out "$OUT/resnet18" --force --profile 2>&1 | tail -15
if [ -d /usr/share/datasets/fashion-mnist ]; then
  timeout 120 "$bin" train --limit 0 --epochs 1 --threads 4 --out "$OUT/convnet" --force --profile --log-every 100 2>&1 | tail -8
fi
