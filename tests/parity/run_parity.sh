#!/bin/sh
# End-to-end parity matrix: vkclr against its PyTorch twin (tests/parity/parity.py) on tiny runs
# of K = 20 steps, for every encoder x optimizer x loss below.
#
#   tests/parity/run_parity.sh build/vkclr            # the whole matrix
#   CASES='convnet:adamw:ntxent' tests/parity/run_parity.sh build/vkclr
#
# Each case: vkclr train --dump-steps 20 --log-every 1 on a schedule of exactly 20 steps (2 epochs
# of 10, warm-up 0.5 epochs = 5 steps, so the warm-up, the cosine and an epoch boundary are all
# in it); then parity.py checks every run directory (one Python process for all, to pay torch's
# start-up once). convnet: width 4 on Fashion-MNIST 28x28; resnet18: width 4 on synthetic 8x8x3
# noise images; resnet10-imagenet: ResNet-10 with the ImageNet stem (7x7/2 conv, 3x3/2 max-pool),
# width 4 on synthetic 32x32x3 (small enough for the whole matrix to take about 2 minutes on 2 cores). Exit
# status: 0 all cases pass, 1 a case fails, 77 (meson's "skipped") when no Python with torch
# and numpy is found or the data is missing.
# Environment: PYTHON (the interpreter), KEEP=1 keeps the run directories, PARITY_ARGS (extra
# parity.py options), CASES (space-separated encoder:optimizer:loss[:nce-logz|tau-plus]).
set -u
VKCLR=${1:?usage: run_parity.sh VKCLR_BINARY}
HERE=$(cd "$(dirname "$0")" && pwd)
unset VKCLR_VALIDATION

PY=
for p in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch, numpy' >/dev/null 2>&1; then
        PY=$p
        break
    fi
done
if [ -z "$PY" ]; then
    echo "run_parity: no python with torch and numpy (apt-get install python3-torch python3-numpy); skipped"
    exit 77
fi

FMNIST=/usr/share/datasets/fashion-mnist
if [ ! -e "$FMNIST/train-images-idx3-ubyte.gz" ] && [ ! -e "$FMNIST/train-images-idx3-ubyte" ]; then
    echo "run_parity: Fashion-MNIST ($FMNIST) is missing; skipped"
    exit 77
fi

OUT=$(mktemp -d "${TMPDIR:-/tmp}/vkclr-parity.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$OUT"' EXIT

# encoder:optimizer:loss[:extra]; extra is "learned" for nce's log Z, a number for dcl-debiased's tau+
if [ -z "${CASES:-}" ]; then
    CASES=
    for enc in convnet resnet18; do
        for opt in sgd lars adamw; do
            for loss in ntxent nce:self nce:learned dcl dcl-debiased:0.1; do
                CASES="$CASES $enc:$opt:$loss"
            done
        done
    done
    CASES="$CASES resnet10-imagenet:sgd:ntxent resnet10-imagenet:adamw:ntxent"
fi

fail=0
n=0
dirs=
for c in $CASES; do
    enc=$(echo "$c" | cut -d: -f1)
    opt=$(echo "$c" | cut -d: -f2)
    loss=$(echo "$c" | cut -d: -f3)
    extra=$(echo "$c" | cut -d: -f4)
    # Tiny models and images, 2 epochs x 10 steps of batch 16.
    encoder=$enc
    if [ "$enc" = convnet ]; then
        data="--data fashion-mnist --limit 160 --width 4"
    elif [ "$enc" = resnet10-imagenet ]; then
        encoder=resnet10
        data="--data synthetic:32x32x3:160 --limit 160 --width 4 --stem imagenet"
    else
        data="--data synthetic:8x8x3:160 --limit 160 --width 4"
    fi
    # Learning rates large enough that 20 steps move the weights visibly (peak = lr x 16/256).
    case $opt in
        sgd) lr=0.8 ;;
        lars) lr=4.8 ;;
        adamw) lr=0.02 ;;
    esac
    lopt="--loss $loss"
    case $loss in
        nce) lopt="$lopt --nce-logz ${extra:-self}" ;;
        dcl-debiased) lopt="$lopt --tau-plus ${extra:-0.1}" ;;
    esac
    dir="$OUT/$(echo "$c" | tr ':' '-')"
    n=$((n + 1))
    # shellcheck disable=SC2086
    if ! "$VKCLR" train $data --encoder "$encoder" --optimizer "$opt" --lr $lr $lopt --batch 16 --epochs 2 \
        --warmup-epochs 0.5 --dump-steps 20 --log-every 1 --probe-epochs 0 --knn-k 0 --quiet --out "$dir" \
        >"$dir.log" 2>&1; then
        echo "FAIL $c: vkclr train failed:"
        cat "$dir.log"
        fail=$((fail + 1))
        continue
    fi
    dirs="$dirs $dir"
done
if [ -n "$dirs" ]; then
    # shellcheck disable=SC2086
    "$PY" "$HERE/parity.py" $dirs --quiet ${PARITY_ARGS:-} || fail=$((fail + 1))
fi
[ "$fail" -eq 0 ]
