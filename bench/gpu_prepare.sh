#!/bin/sh
# Prepare, on this machine, what bench/gpu_session.sh needs on a GPU machine that cannot build
# vkclr (no glslang, no Vulkan loader, no dependencies) and reaches no network:
#   build-gpu/vkclr          a release build without MPI, with the cooperative-matrix kernels (their
#                            shaders compiled by Debian 13's glslang from tools/distro's system,
#                            since Debian 12's cannot: tools/distro/glslang.sh)
#   build-gpu/lib/           the shared libraries it needs beyond glibc and the Vulkan loader
#   build-gpu/fashion-mnist/ the dataset, for the GPU recipe
#   .gl/                     Debian's Vulkan loader package (the device tool's README recipe)
# Then, with the device tool: carry ["build-gpu/vkclr", "build-gpu/lib", "build-gpu/fashion-mnist",
# ".gl"] and run `sh bench/gpu_session.sh` (about 40 MiB travel).
set -eu
cd "$(dirname "$0")/.."
native=""
if ! glslangValidator -V --target-env vulkan1.1 shaders/coopmat_probe.comp -o /tmp/coopmat_probe.spv >/dev/null 2>&1; then
  [ -x build-distro/trixie/usr/bin/glslangValidator ] ||
    tools/distro/run.sh trixie 'apt-get install -y -qq --no-install-recommends glslang-tools >/dev/null'
  printf "[binaries]\nglslangValidator = '%s'\n" "$PWD/tools/distro/glslang.sh" >build-gpu.ini
  native="--native-file build-gpu.ini"
  # a build configured with this machine's glslang has no cooperative-matrix kernels: start afresh
  grep -q glslang.sh build-gpu/meson-private/cmd_line.txt 2>/dev/null || rm -rf build-gpu
fi
# shellcheck disable=SC2086
[ -f build-gpu/build.ninja ] || meson setup build-gpu --buildtype=release -Dmpi=disabled -Dtests=disabled -Dcoopmat=enabled $native >/dev/null
ninja -C build-gpu vkclr >/dev/null
mkdir -p build-gpu/lib build-gpu/fashion-mnist .gl
ldd build-gpu/vkclr | awk '/=> \// {print $3}' |
  grep -v -E '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*|libvulkan)\.so' |
  while read -r lib; do cp -L "$lib" build-gpu/lib/; done
cp /usr/share/datasets/fashion-mnist/*.gz build-gpu/fashion-mnist/
grep -qx '/.gl/' .git/info/exclude 2>/dev/null || echo '/.gl/' >>.git/info/exclude
if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial
  apt-get $o update -qq && (cd .gl && apt-get $o download libvulkan1 >/dev/null)
fi
du -sh build-gpu/vkclr build-gpu/lib build-gpu/fashion-mnist .gl
