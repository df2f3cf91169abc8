#!/bin/sh
# Image collections (BENCHMARKS.md, "Image collections"). The JPEG sets are made by
# bench/make_jpeg_sets.py into DATA (default /tmp/vkclr-collections) when missing.
#
#   bench/collections.sh throughput   # decode + two views per CPU-second, vkclr beside torchvision,
#                                     # 96x96 files at 96 px and 500x375 files at 224 px, REPS
#                                     # alternating runs each (medians and ratio, Markdown)
#   bench/collections.sh index        # 100 000 96x96 files: indexing time, and the peak RSS of a
#                                     # training run with 10 000 and 100 000 files indexed
#   bench/collections.sh fmnist       # Fashion-MNIST as JPEG files of mixed sizes: images: for
#                                     # training, --eval-data folder: for the probe (EPOCHS, 2)
#
# Environment: VKCLR (build/vkclr), PYTHON (/usr/bin/python3), DATA, REPS (3), SECONDS (5), OUT
# (run directories, /tmp/vkclr-collections-runs).
set -eu
VKCLR=${VKCLR:-build/vkclr}
PYTHON=${PYTHON:-/usr/bin/python3}
DATA=${DATA:-/tmp/vkclr-collections}
REPS=${REPS:-3}
SECONDS_PER_RUN=${SECONDS:-5}
OUT=${OUT:-/tmp/vkclr-collections-runs}
HERE=$(dirname "$0")
mkdir -p "$DATA" "$OUT"

make_set() { # name, make_jpeg_sets.py arguments
    [ -d "$DATA/$1" ] || "$PYTHON" "$HERE/make_jpeg_sets.py" "$2" "$DATA/$1" $3
}
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
field() { "$PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

throughput() {
    make_set photos-96 photos "--size 96x96 --count 2000"
    make_set photos-500 photos "--size 500x375 --count 1000"
    echo "| input | views | vkclr images per CPU-second | torchvision images per CPU-second | ratio |"
    echo "|---|---|---:|---:|---:|"
    for spec in "photos-96 96 64" "photos-500 224 32"; do
        set -- $spec
        : >"$OUT/vk" && : >"$OUT/tv"
        for r in $(seq "$REPS"); do
            # the 1-thread row's last column: images per CPU-second of the process
            "$VKCLR" bench augment --data "images:$DATA/$1" --image-size "$2" --batch "$3" \
                --seconds "$SECONDS_PER_RUN" | awk '$1 == "views" && $5 == 1 {print $8}' >>"$OUT/vk"
            "$PYTHON" "$HERE/augment_torchvision.py" --jpeg "$DATA/$1" --size "$2" --seconds "$SECONDS_PER_RUN" |
                sed -n 's/.*, \([0-9]*\) per CPU-second.*/\1/p' >>"$OUT/tv"
        done
        vk=$(median <"$OUT/vk")
        tv=$(median <"$OUT/tv")
        echo "| $1 ($(ls -R "$DATA/$1" | grep -c jpg) files) | ${2}x$2 | $vk ($(tr '\n' ' ' <"$OUT/vk")) | $tv ($(tr '\n' ' ' <"$OUT/tv")) | $(echo "$vk $tv" | awk '{printf "%.2f", $1 / $2}') |"
    done
}

index() {
    make_set photos-96-100k photos "--size 96x96 --count 100000"
    # 10 000 of them: ten of the folders of 1000, through symbolic links
    mkdir -p "$DATA/photos-96-10k"
    for d in 000 001 002 003 004 005 006 007 008 009; do
        [ -e "$DATA/photos-96-10k/$d" ] || ln -s "$DATA/photos-96-100k/$d" "$DATA/photos-96-10k/$d"
    done
    echo "| files indexed | indexing (s) | trained on | peak RSS (MiB) | GPU waits for data | images/s |"
    echo "|---:|---:|---|---:|---:|---:|"
    for set in photos-96-10k photos-96-100k; do
        "$VKCLR" train --data "images:$DATA/$set" --image-size 96 --batch 64 --limit 4096 --epochs 1 --probe-epochs 0 \
            --knn-k 0 --quiet --force --out "$OUT/$set" >"$OUT/$set.log" 2>&1
        r="$OUT/$set/results.json"
        echo "| $(ls -RL "$DATA/$set" | grep -c jpg) | $(field "$r" data_load_seconds) | 4096 images, 1 epoch, batch 64 (--limit 4096) | $(($(field "$r" peak_host_rss_kib | cut -d. -f1) / 1024)) | $(field "$r" gpu_waits_for_augmentation) | $(field "$r" images_per_s) |"
    done
}

fmnist() {
    make_set fashion-mnist-jpeg fashion-mnist ""
    "$VKCLR" train --data "images:$DATA/fashion-mnist-jpeg/train" --eval-data "folder:$DATA/fashion-mnist-jpeg" \
        --image-size 28 --epochs "${EPOCHS:-2}" --force --out "$OUT/fmnist-jpeg" | tee "$OUT/fmnist-jpeg.log"
}

case "${1:-}" in
    throughput) throughput ;;
    index) index ;;
    fmnist) fmnist ;;
    *) echo "usage: bench/collections.sh throughput|index|fmnist" >&2; exit 2 ;;
esac
