#!/bin/sh
# Accuracy per minute of training, vkclr against the PyTorch peer on this machine (issue 13):
# the same recipe (RECIPE below: the CPU recipe of the README by default) trained for MINUTES by
# each in turn, checkpoints kept after T minutes of training (vkclr --snapshot-minutes,
# bench/torch_simclr.py --snapshot-minutes), then every checkpoint through one probe
# (vkclr probe: the linear probe on the whole training split and kNN, test split).
#   sh bench/quality_per_minute.sh OUT [MINUTES] [T,T,...]
# Prints one table row per T and writes OUT/table.md. Needs python3-torch and python3-torchvision;
# each framework trains alone (both use both cores).
set -eu
out=${1:?usage: quality_per_minute.sh OUT [MINUTES] [T,T,...]}
minutes=${2:-60}
snaps=${3:-1,2,5,10,20,30,60}
B=${VKCLR:-build/vkclr}
PY=/usr/bin/python3
RECIPE=${RECIPE:---width 32 --batch 256 --limit 0 --epochs 30 --optimizer lars --threads 1}
mkdir -p "$out"
# vkclr: the schedule of RECIPE, stopped after MINUTES (--snapshot-minutes keeps the rest).
if [ ! -f "$out/vkclr/checkpoint-${minutes}min.safetensors" ]; then
  rm -rf "$out/vkclr"
  timeout $(( minutes * 60 + 120 )) "$B" train $RECIPE --probe-epochs 0 --knn-k 0 --quiet --log-every 50 \
    --snapshot-minutes "$snaps" --out "$out/vkclr" || true
fi
# PyTorch: the same configuration (vkclr's config.json), its own data pipeline.
if [ ! -f "$out/torch/checkpoint-${minutes}min.safetensors" ]; then
  $PY bench/torch_simclr.py --config "$out/vkclr/config.json" --out "$out/torch" --snapshot-minutes "$snaps" \
    --minutes "$minutes" >"$out/torch.log" 2>&1
fi
printf '| minutes | vkclr steps | vkclr probe | vkclr kNN | PyTorch steps | PyTorch probe | PyTorch kNN |\n' >"$out/table.md"
printf '|---|---|---|---|---|---|---|\n' >>"$out/table.md"
for t in $(echo "$snaps" | tr ',' ' '); do
  row="| $t"
  for who in vkclr torch; do
    ck="$out/$who/checkpoint-${t}min.safetensors"
    if [ -f "$ck" ]; then
      "$B" probe --checkpoint "$ck" --no-baseline --quiet --out "$out/$who-$t.json" >/dev/null 2>&1 || true
      row="$row | $($PY -c "
import json,sys
r=json.load(open('$out/$who-$t.json'))['results']['checkpoint']
import struct
raw=open('$ck','rb').read(); n=struct.unpack('<Q',raw[:8])[0]; step=json.loads(raw[8:8+n])['__metadata__']['step']
print('%s | %.2f%% | %.2f%%' % (step, 100*r['probe']['top1'], 100*r['knn']['top1']))")"
    else
      row="$row | - | - | -"
    fi
  done
  echo "$row |" | tee -a "$out/table.md"
done
