#!/bin/sh
# Debian 13's glslangValidator (15.x: GL_KHR_cooperative_matrix), run on this machine straight
# from the system tools/distro/run.sh made under build-distro/trixie, through that system's own
# dynamic loader and libraries (no chroot, so paths are this machine's). For builds on Debian 12
# that should have the cooperative-matrix kernels, as a meson native file's binary:
#   [binaries]
#   glslangValidator = '/path/to/vkclr/tools/distro/glslang.sh'
# (bench/gpu_prepare.sh does this). VKCLR_DISTRO_DIR as for run.sh.
top=$(cd "$(dirname "$0")/../.." && pwd)
root=${VKCLR_DISTRO_DIR:-$top/build-distro}/trixie
lib=$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu
if [ ! -x "$root/usr/bin/glslangValidator" ]; then
    echo "tools/distro/glslang.sh: no Debian 13 glslang in $root (run: tools/distro/run.sh trixie './setup.sh')" >&2
    exit 2
fi
exec "$root/lib64/ld-linux-x86-64.so.2" --library-path "$lib" "$root/usr/bin/glslangValidator" "$@"
