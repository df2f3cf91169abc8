#!/bin/sh
# Using a trained encoder, timed (BENCHMARKS.md "Using a trained encoder"): for each model below,
#   1. libvkclr (examples/embed.c --k 0, built against the installed library with pkg-config)
#      and `vkclr export --out` on the same folder of PNG files, on the default Vulkan
#      device (lavapipe here), end to end (process start to exit: device, pipelines from the
#      cache, reading the PNGs, embedding; export also writes its files) and, for the library,
#      its vkclr_embed calls alone (the example's own clock);
#   2. the ONNX model in OpenCV's dnn module against the PyTorch module on the CPU
#      (bench/embed_peers.py), same images.
# After one untimed run of each (the pipeline cache warm, the files in the page cache), REPS
# (default 3) timed runs of each, alternating; every figure is printed. Needs python3-opencv,
# python3-onnx, python3-torch, python3-numpy.
#
#   bench/embed_throughput.sh [BUILD_DIR]      (default build; OUT=DIR keeps the files there)
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
out=${OUT:-$(mktemp -d /tmp/vkclr-embed-bench.XXXXXX)}
mkdir -p "$out"
PY=/usr/bin/python3
vkclr="$build/vkclr"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/vkclr"
export VKCLR_QUIET=1

# The library and the example, as a user builds them.
root="$out/root"
rm -rf "$root"
meson install -C "$build" --no-rebuild --destdir "$root" --quiet
pc=$(dirname "$(find "$root" -name vkclr.pc)")
lib=$(dirname "$(find "$root" -name 'libvkclr.so.*.*.*')")
cc -O2 examples/embed.c -o "$out/embed" $(PKG_CONFIG_PATH=$pc PKG_CONFIG_SYSROOT_DIR=$root pkg-config --cflags --libs vkclr) -lm

secs() { # wall seconds of a command, its output to $out/last.log
    s=$(date +%s.%N)
    "$@" >"$out/last.log" 2>&1 || { cat "$out/last.log" >&2; return 1; }
    e=$(date +%s.%N)
    echo "$e - $s" | bc
}

# name | training data | encoder options | images to embed (their --pixels spec) | count
while IFS='|' read -r name data enc images count; do
    [ -n "$name" ] || continue
    run="$out/$name"
    if [ ! -f "$run/checkpoint.safetensors" ]; then
        # shellcheck disable=SC2086
        "$vkclr" train --data "$data" $enc --batch 32 --epochs 1 --limit 256 --precision fp32 --probe-epochs 0 \
            --knn-k 0 --quiet --out "$run" >/dev/null
    fi
    # The images as a PNG folder (one class folder), from the exact pixels.
    "$vkclr" export --pixels --data "$images" --split test --limit "$count" --out "$out/$name-px" >/dev/null
    rm -rf "$out/$name-png"
    $PY - "$run" "$out/$name-px" "$out/$name-png/train/all" <<'EOF'
import json, os, sys, cv2, numpy as np
run, px, folder = sys.argv[1:]
px += "/features.npy"
c = json.load(open(run + "/config.json"))
u8 = np.rint(np.load(px) * 255).astype(np.uint8).reshape(-1, c["image_height"], c["image_width"], c["image_channels"])
os.makedirs(folder)
for i, im in enumerate(u8):
    cv2.imwrite(f"{folder}/{i:06d}.png", im[..., ::-1] if im.shape[-1] == 3 else im)  # OpenCV writes BGR
EOF
    "$vkclr" export --onnx "$out/$name.onnx" --checkpoint "$run" >/dev/null
    echo "$name: $count images, load average $(cut -d' ' -f1 /proc/loadavg) at the start"
    for rep in $(seq 0 "${REPS:-3}"); do
        t_export=$(secs "$vkclr" export --out "$out/$name-f" --checkpoint "$run" --data "folder:$out/$name-png" \
            --split train)
        t_lib=$(secs env LD_LIBRARY_PATH="$lib" "$out/embed" --cache "$cache" --k 0 "$run" "$out/$name-png")
        [ "$rep" = 0 ] && echo "  $(grep '^model' "$out/last.log")" && continue
        echo "  run $rep: vkclr export $t_export s ($(echo "$count / $t_export" | bc) images/s end to end);" \
            "libvkclr $t_lib s ($(echo "$count / $t_lib" | bc) images/s end to end), $(grep '^embedded' "$out/last.log")"
    done
    $PY bench/embed_peers.py "$run" "$out/$name.onnx" "$out/$name-px.npy" --batch 256 --threads 2 --reps 3 | sed 's/^/  /'
done <<EOF
convnet-w16|fashion-mnist|--encoder convnet --width 16|fashion-mnist|10000
resnet18-w64|synthetic:32x32x3:256|--encoder resnet18 --width 64|synthetic:32x32x3:256:1|256
EOF
echo "files in $out"
