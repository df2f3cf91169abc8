#!/bin/sh
# The cooperative-matrix kernels where this machine can run them: lavapipe 26 in the Debian 13
# system of tools/distro/run.sh, which emulates 8x8x8 fp16 matrices on the CPU. CPU figures:
# they say nothing about GPU speed (bench/gpu_session.sh measures that). For each, alternating,
# REPS times (medians printed as Markdown tables):
#   GEMM 1024^3 and the conv-as-GEMM shapes: vkclr bench gemm --precision fp32 (gemm.comp) and
#     fp16 (gemm_coop.comp), and PyTorch's float32 GEMM through oneDNN (Debian's python3-torch on
#     this machine, 2 threads; its torch.mm goes to the reference BLAS of libblas3, ~3 GFLOP/s);
#   the training step of the default convnet (w16, batch 256): vkclr bench train in fp32, in
#     fp16 on cooperative matrices (the default for fp16 there), in fp16 on the register-tiled
#     kernels (VKCLR_CONV_PATH=reg), and bench/torch_peer.py (float32, 2 threads).
# Usage: bench/coop_lavapipe.sh   (REPS=3 STEPS=10 PYTHON=/usr/bin/python3 OUT=DIR as for
# side_by_side.sh, PARTS="gemm train"; needs root or sudo for tools/distro/run.sh)
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
REPS=${REPS:-3}
STEPS=${STEPS:-10}
OUT=${OUT:-/tmp/coop-lavapipe}
PARTS=${PARTS:-gemm train}
STAGE=build-distro/trixie
mkdir -p "$OUT"
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
field() { "$PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

tools/distro/run.sh trixie './setup.sh >/dev/null' >/dev/null 2>&1 || { echo "coop_lavapipe.sh: the Debian 13 build failed" >&2; exit 1; }
torch_gemm() { # M N K: GFLOP/s of PyTorch's float32 GEMM through oneDNN, median of 5 after a warm-up
    "$PYTHON" - "$@" <<'EOF'
import sys, time, torch
torch.set_num_threads(2)
M, N, K = map(int, sys.argv[1:4])
a, w = torch.rand(M, K).to_mkldnn(), torch.rand(N, K).to_mkldnn()
torch._C._nn.mkldnn_linear(a, w)
t = []
for _ in range(5):
    t0 = time.perf_counter(); torch._C._nn.mkldnn_linear(a, w); t.append(time.perf_counter() - t0)
print(2 * M * N * K / sorted(t)[2] / 1e9)
EOF
}

rm -f "$OUT"/gemm-*.txt "$OUT"/train-*.json
for r in $(seq "$REPS"); do
    case $PARTS in *gemm*) ;; *) continue ;; esac
    for p in fp32 fp16; do
        tools/distro/run.sh trixie "VKCLR_QUIET=1 build/vkclr bench gemm --precision $p --repeat 5 --only '1024^3' &&
            VKCLR_QUIET=1 build/vkclr bench gemm --precision $p --repeat 3 --only conv" 2>/dev/null | grep -E '^(1024|conv)' \
            >"$OUT/gemm-$p-$r.txt"
    done
    for s in "1024 1024 1024" "50176 64 576" "64 576 50176"; do
        # shellcheck disable=SC2086
        echo "$s $(torch_gemm $s)" >>"$OUT/gemm-torch-$r.txt"
    done
done
for r in $(seq "$REPS"); do
    case $PARTS in *train*) ;; *) continue ;; esac
    for v in fp32 fp16 fp16-reg; do
        env=""; [ "$v" = fp16-reg ] && env="VKCLR_CONV_PATH=reg"
        tools/distro/run.sh trixie "$env VKCLR_QUIET=1 build/vkclr bench train --width 16 --batch 256 --precision ${v%-reg} \
            --steps $STEPS --json /tmp/coop-train.json >/dev/null 2>&1" >/dev/null 2>&1
        cp "$STAGE/tmp/coop-train.json" "$OUT/train-$v-$r.json"
    done
    "$PYTHON" bench/torch_peer.py --width 16 --batch 256 --threads 2 --steps "$STEPS" --json "$OUT/train-torch-$r.json" \
        >/dev/null 2>&1
done

case $PARTS in *gemm*)
echo "| shape | vkclr fp32 (gemm.comp) | vkclr fp16 products (gemm_coop.comp) | PyTorch fp32 (oneDNN) | coop / fp32 | coop / PyTorch |"
echo "|---|---:|---:|---:|---:|---:|"
for s in "1024^3 NN|1024 1024 1024" "conv fwd NT|50176 64 576" "conv dW TN|64 576 50176"; do
    label=${s%|*} mnk=${s#*|}
    f=$(cat "$OUT"/gemm-fp32-*.txt | grep -F "$label" | awk '{print $NF}' | median)
    h=$(cat "$OUT"/gemm-fp16-*.txt | grep -F "$label" | awk '{print $NF}' | median)
    t=$(cat "$OUT"/gemm-torch-*.txt | grep "^$mnk " | awk '{print $NF}' | median)
    printf '| %s | %.1f | %.1f | %.1f | %.2f× | %.2f× |\n' "$label" "$f" "$h" "$t" \
        "$(echo "$h $f" | awk '{print $1 / $2}')" "$(echo "$h $t" | awk '{print $1 / $2}')"
done
echo ;; esac
case $PARTS in *train*) ;; *) exit 0 ;; esac
echo "| training step, convnet w16, batch 256 | images/s | / vkclr fp32 | / PyTorch fp32 |"
echo "|---|---:|---:|---:|"
base=$(for r in $(seq "$REPS"); do field "$OUT/train-fp32-$r.json" images_per_s; done | median)
torch=$(for r in $(seq "$REPS"); do field "$OUT/train-torch-$r.json" images_per_s; done | median)
for v in fp32 fp16 fp16-reg torch; do
    if [ $v = torch ]; then x=$torch; name="PyTorch fp32 (torch_peer.py)"; else
        x=$(for r in $(seq "$REPS"); do field "$OUT/train-$v-$r.json" images_per_s; done | median)
        name="vkclr $v"; fi
    [ $v = fp16 ] && name="vkclr fp16 (cooperative matrices)"
    [ $v = fp16-reg ] && name="vkclr fp16 (reg kernels, VKCLR_CONV_PATH=reg)"
    printf '| %s | %.0f | %.2f× | %.2f× |\n' "$name" "$x" "$(echo "$x $base" | awk '{print $1 / $2}')" \
        "$(echo "$x $torch" | awk '{print $1 / $2}')"
done
