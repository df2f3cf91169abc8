#!/bin/sh
# vkclr's training step on three lavapipe versions side by side with the PyTorch peer, one run,
# one machine: Mesa 22.3 (this Debian 12 machine's), Mesa 26.1 (trixie-backports) and 25.0
# (trixie's own) in the Debian 13 system of tools/distro/run.sh, and bench/torch_peer.py here.
# For each configuration, REPS rounds of: vkclr on each driver, then PyTorch; medians; a
# Markdown table with the ratios to Mesa 22.3 and to PyTorch.
#
#   bench/driver_table.sh                     # convnet w16 and w32 at batch 256, ResNet-18 at 48
#   REPS=3 STEPS=10 ONLY=w16 OUT=DIR bench/driver_table.sh
#
# Two figures per cell: images/s by wall time, and by CPU time (every thread of the process
# over the cores it may use: vkclr bench train's cpu_images_per_s, torch_peer's the same), which
# a machine shared with other jobs leaves far steadier. LP_NATIVE_VECTOR_WIDTH, if set, applies
# to every lavapipe run (with its own shader-cache folder). Needs root for the Debian 13 system.
set -eu
cd "$(dirname "$0")/.."
REPS=${REPS:-3}
STEPS=${STEPS:-10}
OUT=${OUT:-/tmp/driver-table}
PYTHON=${PYTHON:-/usr/bin/python3}
root=${VKCLR_DISTRO_DIR:-$PWD/build-distro}/trixie
mkdir -p "$OUT"

# name | vkclr bench train options | torch_peer options (the same model and step)
CONFIGS="convnet-w16-b256|--width 16 --batch 256 --steps $STEPS|--width 16 --batch 256 --threads 2 --steps $STEPS
convnet-w32-b256|--width 32 --batch 256 --steps $STEPS|--width 32 --batch 256 --threads 2 --steps $STEPS
resnet18-b48|--encoder resnet18 --width 64 --batch 48 --data synthetic:32x32x3 --steps 3|--encoder resnet18 --width 64 --batch 48 --image 32x32x3 --threads 2 --steps 3"
[ -n "${ONLY:-}" ] && CONFIGS=$(echo "$CONFIGS" | grep -e "$ONLY")
width=${LP_NATIVE_VECTOR_WIDTH:-}
cache_env=""
[ -n "$width" ] && cache_env="LP_NATIVE_VECTOR_WIDTH=$width MESA_SHADER_CACHE_DIR=/tmp/mesa-cache-$width"

ninja -C build vkclr >/dev/null
# One script for the Debian 13 system per round: every configuration on Mesa 26.1, then 25.0.
trixie_round() {
    cmds="[ -f build/build.ninja ] || ./setup.sh >/dev/null; ninja -C build vkclr >/dev/null; mkdir -p /tmp/driver-table"
    echo "$CONFIGS" | while IFS='|' read -r name vk pt; do
        echo "$cmds; env $cache_env build/vkclr bench train $vk --json /tmp/driver-table/$name-mesa26-$1.json >/dev/null 2>&1"
        echo "env $cache_env VK_DRIVER_FILES=/opt/mesa-trixie/lvp_icd.json build/vkclr bench train $vk --json /tmp/driver-table/$name-mesa25-$1.json >/dev/null 2>&1"
        cmds=true
    done | tr '\n' ';'
}
warm() { # every driver compiles every kernel once before anything is timed
    echo "$CONFIGS" | while IFS='|' read -r name vk pt; do
        # shellcheck disable=SC2086
        env $cache_env build/vkclr bench train $(echo "$vk" | sed 's/--steps [0-9]*/--steps 1/') >/dev/null 2>&1
    done
}
warm
tools/distro/run.sh trixie "$(trixie_round warm)" >/dev/null
for r in $(seq "$REPS"); do
    echo "$CONFIGS" | while IFS='|' read -r name vk pt; do
        # shellcheck disable=SC2086
        env $cache_env build/vkclr bench train $vk --json "$OUT/$name-mesa22-$r.json" >/dev/null 2>&1
        # shellcheck disable=SC2086
        "$PYTHON" bench/torch_peer.py $pt --json "$OUT/$name-torch-$r.json" >/dev/null 2>&1
    done
    tools/distro/run.sh trixie "$(trixie_round "$r")" >/dev/null
    cp "$root"/tmp/driver-table/*-"$r".json "$OUT"/
done

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
field() { "$PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
med() { for r in $(seq "$REPS"); do field "$OUT/$1-$2-$r.json" "$3"; done | median; }
echo "| configuration | driver | vkclr images/s (wall) | by CPU time | PyTorch images/s (wall) | by CPU time | vkclr / PyTorch (CPU time) | vs Mesa 22.3 (CPU time) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
echo "$CONFIGS" | while IFS='|' read -r name vk pt; do
    tw=$(med "$name" torch images_per_s)
    tc=$(med "$name" torch cpu_images_per_s)
    base=$(med "$name" mesa22 cpu_images_per_s)
    for d in mesa22 mesa26 mesa25; do
        vw=$(med "$name" "$d" images_per_s)
        vc=$(med "$name" "$d" cpu_images_per_s)
        printf '| %s | %s | %.1f | %.1f | %.1f | %.1f | %.2f× | %.2f× |\n' "$name" "$d" "$vw" "$vc" "$tw" "$tc" \
            "$(echo "$vc $tc" | awk '{print $1 / $2}')" "$(echo "$vc $base" | awk '{print $1 / $2}')"
    done
done
echo
echo "$(uname -m), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load average $(cut -d' ' -f1-3 /proc/loadavg); ${REPS} rounds, medians; LP_NATIVE_VECTOR_WIDTH=${width:-unset}"
