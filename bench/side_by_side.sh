#!/bin/sh
# vkclr and its PyTorch peer on the same training step, same machine, one run: for each
# configuration, `vkclr bench train` then bench/torch_peer.py (the identical model, loss and
# optimizer), alternating, REPS times; prints a Markdown table of the medians and the ratio.
#
#   bench/side_by_side.sh                      # lavapipe / CPU: convnet w16 and w32 at batch
#                                              # 256, ResNet-18 (CIFAR stem) at batch 48 (64 needs
#                                              # 1.8 GiB: more than lavapipe's 1.5 GiB usable),
#                                              # ResNet-18 with the ImageNet stem on 96x96 (STL-10)
#   ONLY=resnet18-96 bench/side_by_side.sh     # the configurations whose name contains ONLY
#   DEVICE=cuda bench/side_by_side.sh          # a GPU: vkclr fp32 and bf16 against PyTorch fp32
#                                              # without TF32, default fp32, AMP bf16 (ResNet-18
#                                              # at batch 512)
#   REPS=3 STEPS=10 VKCLR=build/vkclr PYTHON=/usr/bin/python3 OUT=DIR bench/side_by_side.sh
#
# The JSON of every run is kept in OUT (default /tmp/side-by-side): vkclr's includes the
# share of each kernel class in a profiled step.
set -eu
VKCLR=${VKCLR:-build/vkclr}
PYTHON=${PYTHON:-/usr/bin/python3}
DEVICE=${DEVICE:-cpu}
REPS=${REPS:-3}
STEPS=${STEPS:-10}
OUT=${OUT:-/tmp/side-by-side}
HERE=$(dirname "$0")
mkdir -p "$OUT"

# name | vkclr options | torch_peer options   (same model and step on both sides)
if [ "$DEVICE" = cpu ]; then
    CONFIGS="convnet-w16-b256|--width 16 --batch 256|--width 16 --batch 256 --threads 2
convnet-w32-b256|--width 32 --batch 256|--width 32 --batch 256 --threads 2
resnet18-b48|--encoder resnet18 --width 64 --batch 48 --data synthetic:32x32x3|--encoder resnet18 --width 64 --batch 48 --image 32x32x3 --threads 2
resnet18-96-imagenet-stem-b48|--encoder resnet18 --width 64 --batch 48 --data synthetic:96x96x3 --stem imagenet|--encoder resnet18 --stem imagenet --width 64 --batch 48 --image 96x96x3 --threads 2"
    VK_PRECISIONS=${VK_PRECISIONS:-fp32}
    PT_PRECISIONS=fp32
else
    CONFIGS="convnet-w16-b256|--width 16 --batch 256|--width 16 --batch 256 --device cuda
resnet18-b512|--encoder resnet18 --width 64 --batch 512 --data synthetic:32x32x3|--encoder resnet18 --width 64 --batch 512 --image 32x32x3 --device cuda"
    VK_PRECISIONS=${VK_PRECISIONS:-fp32 bf16}
    PT_PRECISIONS="fp32-notf32 fp32 bf16-amp"
fi

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
field() { "$PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

echo "| configuration | vkclr precision | vkclr images/s | PyTorch precision | PyTorch images/s | vkclr / PyTorch |"
echo "|---|---|---:|---|---:|---:|"
echo "$CONFIGS" | while IFS='|' read -r name vk pt; do
    case "$name" in *"${ONLY:-}"*) ;; *) continue ;; esac
    for vp in $VK_PRECISIONS; do
        for r in $(seq "$REPS"); do
            # shellcheck disable=SC2086
            "$VKCLR" bench train $vk --precision "$vp" --steps "$STEPS" --json "$OUT/$name-vkclr-$vp-$r.json" \
                > "$OUT/$name-vkclr-$vp-$r.log" 2>&1
        done
    done
    for pp in $PT_PRECISIONS; do
        for r in $(seq "$REPS"); do
            # shellcheck disable=SC2086
            "$PYTHON" "$HERE/torch_peer.py" $pt --precision "$pp" --steps "$STEPS" --json "$OUT/$name-torch-$pp-$r.json" \
                > "$OUT/$name-torch-$pp-$r.log" 2>&1
        done
    done
    for vp in $VK_PRECISIONS; do
        v=$(for r in $(seq "$REPS"); do field "$OUT/$name-vkclr-$vp-$r.json" images_per_s; done | median)
        for pp in $PT_PRECISIONS; do
            t=$(for r in $(seq "$REPS"); do field "$OUT/$name-torch-$pp-$r.json" images_per_s; done | median)
            printf '| %s | %s | %.0f | %s | %.0f | %.2f× |\n' "$name" "$vp" "$v" "$pp" "$t" \
                "$(echo "$v $t" | awk '{print $1 / $2}')"
        done
    done
done
