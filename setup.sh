#!/bin/sh
# Install what vkclr needs on Debian 12 or 13 (or a system with Debian's package names, such as
# Ubuntu 24.04; as root, or with sudo), then configure and build
# into ./build. Safe to run again: it installs only what is missing and rebuilds only what changed.
set -eu
cd "$(dirname "$0")"

packages="meson ninja-build pkg-config gcc libc6-dev python3 glslang-tools \
  libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers vulkan-tools \
  libpng-dev libjpeg-dev zlib1g-dev libcmocka-dev libcjson-dev libcairo2-dev dataset-fashion-mnist \
  libopenmpi-dev openmpi-bin"

missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "setup: installing$missing"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi

if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=release -Dwerror=true
fi
ninja -C build
