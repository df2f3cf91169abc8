#!/bin/sh
# One session on a GPU machine (run from the repository root, after bench/gpu_prepare.sh here):
# the device, selftest (every check, the 16-bit builds and the cooperative-matrix kernels (coop
# group) included; SKIP lines name the variants the device cannot run and why), the GEMM in
# float32 and on cooperative matrices (16-bit products, 4096^3 too: the 300 TFLOP/s target of
# issue 19), the training step of vkclr against the PyTorch peer on the same
# model (ResNet-18, CIFAR stem, 32x32x3, batch 512; NT-Xent, LARS) in every precision, and the
# GPU recipe of the README (ResNet-18 on Fashion-MNIST, 8 minutes). Usage:
#   sh bench/gpu_session.sh [parts]      parts: selftest gemm tune train torch recipe (default: all)
# (tune stores its choices in $OUT/tune.json, which the later parts then use)
# Logs go to $OUT (the device tool's folder; default /tmp/vkclr-gpu): session.log (everything),
# figures.jsonl (one JSON object per measurement), recipe.json and curves.png of the recipe.
set -u
OUT=${OUT:-/tmp/vkclr-gpu}
mkdir -p "$OUT"
for f in .gl/*.deb; do [ -e "$f" ] && dpkg -x "$f" /; done
ldconfig 2>/dev/null
export LD_LIBRARY_PATH="$PWD/build-gpu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -e "$icd" ] && export VK_DRIVER_FILES="$icd"
B=build-gpu/vkclr
log="$OUT/session.log" figures="$OUT/figures.jsonl"
say() { echo "== $*" | tee -a "$log"; }
run() { # label, command...: output into the log, the tail on the terminal
  label=$1; shift
  say "$label: $*"
  t0=$(date +%s)
  "$@" >>"$log" 2>&1
  rc=$?
  say "$label: rc=$rc in $(( $(date +%s) - t0 )) s"
  return $rc
}
json() { [ -s "$1" ] && tr -d '\n' <"$1" >>"$figures" && echo >>"$figures"; rm -f "$1"; }
parts=${*:-selftest gemm tune train torch recipe}
run devices "$B" devices
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv >>"$log" 2>&1
for p in $parts; do
  case $p in
  selftest)
    run selftest "$B" selftest ;;
  gemm)
    # float32, then 16-bit products on cooperative matrices (a precision the device lacks fails
    # with the reason, in the log), each with the 4096^3 target shape on its own
    for prec in fp32 fp16 bf16; do
      run "gemm $prec" "$B" bench gemm --precision "$prec" --repeat 9
      run "gemm $prec 4096" "$B" bench gemm --precision "$prec" --repeat 5 --only 4096
    done ;;
  tune)
    export VKCLR_TUNE_CACHE="$OUT/tune.json"
    # every precision's kernels (the cooperative-matrix tiles among them for fp16 and bf16)
    for prec in fp32 fp16 bf16; do
      run "tune resnet18 $prec" "$B" tune --encoder resnet18 --width 64 --data synthetic:32x32x3 --batch 512 \
        --precision "$prec" --repeat 3
    done ;;
  train)
    # vkclr's step at the shapes, every precision the device can run (auto too).
    for prec in fp32 fp16 bf16 auto; do
      run "bench train resnet18 $prec" "$B" bench train --encoder resnet18 --width 64 --data synthetic:32x32x3 \
        --batch 512 --precision "$prec" --steps 20 --json "$OUT/t.json" && json "$OUT/t.json"
    done
    run "bench train convnet" "$B" bench train --batch 256 --steps 50 --json "$OUT/t.json" && json "$OUT/t.json" ;;
  torch)
    for prec in fp32-notf32 fp32 bf16-amp; do
      run "torch peer resnet18 $prec" python3 bench/torch_peer.py --device cuda --precision "$prec" --encoder resnet18 \
        --width 64 --image 32x32x3 --batch 512 --json "$OUT/t.json" && json "$OUT/t.json"
    done
    run "torch peer convnet" python3 bench/torch_peer.py --device cuda --precision fp32-notf32 --batch 256 \
      --json "$OUT/t.json" && json "$OUT/t.json" ;;
  recipe)
    # README's GPU recipe: ResNet-18 on Fashion-MNIST within one 8-minute run.
    rm -rf /tmp/recipe
    run recipe timeout 540 "$B" train --data fashion-mnist:build-gpu/fashion-mnist --encoder resnet18 --width 64 \
      --limit 0 --batch 512 --epochs 30 --precision auto --threads 14 --log-every 20 --out /tmp/recipe
    cp /tmp/recipe/results.json "$OUT/recipe.json" 2>/dev/null
    cp /tmp/recipe/curves.png "$OUT/curves.png" 2>/dev/null ;;
  *) say "unknown part $p" ;;
  esac
done
say "done"
