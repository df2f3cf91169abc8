#!/bin/sh
# Build and test vkclr on another Debian release: a minimal system made with debootstrap under
# build-distro/RELEASE (kept and reused; delete the folder to start afresh), the checkout copied
# in, then the README's test command run there with the validation layer, as a new user of that
# release would. Its mounts live in a mount namespace of their own, so they vanish when the run
# ends, however it ends.
#
#   tools/distro/run.sh [RELEASE [COMMAND...]]
#
# RELEASE: trixie (Debian 13, the default). There the system takes Mesa from
# trixie-backports (26.x: lavapipe with VK_KHR_cooperative_matrix, LLVM 19); the release's own
# Mesa (25.0) is unpacked beside it, and the convolution checks run once more on it under the
# validation layer (vkclr selftest --only conv/), since that is the driver a plain Debian 13 has:
# the same SPIR-V as on Mesa 26, through another compiler. Only the convolutions, because Mesa
# 25 compiles ~3x slower than 22 and 26 (the whole selftest there takes over 10 minutes of CI, the
# weight-gradient check alone 3); `tools/distro/run.sh trixie 'VK_DRIVER_FILES=/opt/mesa-trixie/lvp_icd.json
# build/vkclr selftest --validation'` runs all of it.
# COMMAND: what to run in the copied checkout instead (as root, through sh -c), for example
#   tools/distro/run.sh trixie 'build/vkclr bench train --width 16 --batch 256'
# Needs root (or sudo), debootstrap (installed if missing) and Debian's mirror
# (VKCLR_DEBIAN_MIRROR, default http://deb.debian.org/debian). VKCLR_DISTRO_DIR moves the
# systems elsewhere (default: build-distro in the checkout).
set -eu
release=${1:-trixie}
[ $# -gt 0 ] && shift
top=$(cd "$(dirname "$0")/../.." && pwd)
root=${VKCLR_DISTRO_DIR:-$top/build-distro}/$release
mirror=${VKCLR_DEBIAN_MIRROR:-http://deb.debian.org/debian}

case $release in
trixie) ;;
*) echo "tools/distro/run.sh: release '$release' is not one this script knows (trixie)" >&2; exit 2 ;;
esac
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "tools/distro/run.sh: needs root (or sudo) for debootstrap and chroot" >&2; exit 2; }
    exec sudo -E "$0" "$release" "$@"
fi

# Inside the system: no variable of this machine's environment leaks in.
inside() {
    chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
        /bin/sh -c "$1"
}
# The file systems a system needs, mounted in this (private) mount namespace only.
mount_all() {
    mount -t proc proc "$root/proc"
    mount -t sysfs -o ro sysfs "$root/sys"
    mount --bind /dev "$root/dev"
    mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
}

if [ "${VKCLR_DISTRO_INNER:-}" != 1 ]; then
    # Re-run this script in a mount namespace of its own: every mount below dies with it.
    command -v unshare >/dev/null || { echo "tools/distro/run.sh: needs unshare (util-linux)" >&2; exit 2; }
    VKCLR_DISTRO_INNER=1 exec unshare --mount --propagation private "$0" "$release" "$@"
fi

if [ ! -f "$root/.vkclr-ready" ]; then
    if ! command -v debootstrap >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
    fi
    echo "distro: making a minimal $release system in $root"
    rm -rf "$root"
    mkdir -p "$(dirname "$root")"
    start=$(date +%s)
    debootstrap --variant=minbase "$release" "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
        { tail -20 "$root.debootstrap.log" >&2; echo "tools/distro/run.sh: debootstrap failed (log: $root.debootstrap.log)" >&2; exit 1; }
    cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $release main
deb $mirror $release-backports main
EOF
    mount_all
    # Mesa from backports (cooperative matrices, the newest lavapipe); the release's own Mesa
    # unpacked into /opt/mesa-$release for the second run of the checks.
    inside "apt-get update -qq &&
        apt-get install -y -qq --no-install-recommends -t $release-backports mesa-vulkan-drivers >/dev/null &&
        cd /tmp && apt-get download -qq mesa-vulkan-drivers/$release && dpkg -x mesa-vulkan-drivers_*.deb /opt/mesa-$release &&
        rm -f mesa-vulkan-drivers_*.deb &&
        sed 's#\"libvulkan_lvp.so\"#\"/opt/mesa-$release/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so\"#' \
            /opt/mesa-$release/usr/share/vulkan/icd.d/lvp_icd.json >/opt/mesa-$release/lvp_icd.json"
    umount "$root/dev/shm" "$root/dev" "$root/sys" "$root/proc"
    touch "$root/.vkclr-ready"
    echo "distro: $release ready in $(( $(date +%s) - start )) s"
else
    echo "distro: reusing $root"
fi

# The checkout as it is (tracked files and new ones git does not ignore), over the last copy;
# the build folder inside stays, so a second run only rebuilds what changed.
dest="$root/src/vkclr"
mkdir -p "$dest"
find "$dest" -mindepth 1 -maxdepth 1 ! -name build -exec rm -rf {} +
(cd "$top" && git ls-files -z --cached --others --exclude-standard |
    tar -cf - --no-recursion --ignore-failed-read --null --files-from=-) | tar -xf - -C "$dest"

mount_all
if [ $# -gt 0 ]; then
    inside "cd /src/vkclr && $*"
else
    inside "cd /src/vkclr && ./setup.sh && meson test -C build --print-errorlogs &&
        echo \"distro: the convolution checks again on $release's own Mesa, under the validation layer\" &&
        VK_DRIVER_FILES=/opt/mesa-$release/lvp_icd.json build/vkclr selftest --validation --only conv/"
fi
