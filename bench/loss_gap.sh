#!/bin/sh
# Where issue 13's loss gap comes from: PyTorch's mean loss over epoch 2 was 3.16 for the
# configuration below with Adam at a constant 1e-3, vkclr's (`--optimizer adamw --lr 1e-3`)
# about 3.7. One vkclr run dumps its exact views; the PyTorch twin replays them (so the data is
# held fixed) with vkclr's recipe, then without vkclr's linear batch scaling of the learning rate,
# then also without warm-up and cosine (the issue's constant rate); finally the twin trains on
# its own torchvision pipeline (other random views of the same preset) with vkclr's recipe.
#   sh bench/loss_gap.sh [OUT]         prints the epoch means; needs python3-torch(vision)
set -eu
out=${1:-/tmp/loss-gap}
B=${VKCLR:-build/vkclr}
PY=/usr/bin/python3
rm -rf "$out" && mkdir -p "$out"
CONF="--optimizer adamw --lr 1e-3 --limit 12288 --epochs 2 --batch 128"
"$B" train $CONF --dump-steps 192 --log-every 1 --probe-epochs 0 --knn-k 0 --quiet --out "$out/run" >/dev/null
echo "== vkclr, and the twin on vkclr's views: vkclr's recipe (peak lr 1e-3 x 128/256 = 5e-4, warm-up + cosine)"
$PY bench/replay_views.py "$out/run" --json "$out/replay-vkclr.json" | tail -3
echo "== the twin on vkclr's views, peak lr 1e-3 (no batch scaling), warm-up + cosine"
$PY bench/replay_views.py "$out/run" --peak-lr 1e-3 --json "$out/replay-peak.json" | tail -3
echo "== the twin on vkclr's views, constant lr 1e-3 (the issue's PyTorch run)"
$PY bench/replay_views.py "$out/run" --peak-lr 1e-3 --schedule constant --json "$out/replay-const.json" | tail -3
echo "== the twin on its own torchvision views (gray preset), vkclr's recipe"
$PY bench/torch_simclr.py --config "$out/run/config.json" --out "$out/torch" >"$out/torch.log" 2>&1
$PY - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
def epoch_means(path):
    rows = [json.loads(l) for l in open(path) if '"loss"' in l]
    by = {}
    for r in rows:
        e = min(int(r["epoch"] - 1e-9), 1) if r["epoch"] > 0 else 0
        by.setdefault(e, []).append(r["loss"])
    return [sum(v) / len(v) for k, v in sorted(by.items())]
for name, path in (("vkclr (its views)", f"{out}/run/metrics.jsonl"),
                   ("twin, torchvision views", f"{out}/torch/metrics.jsonl")):
    print(name, "epoch means:", " ".join("%.4f" % m for m in epoch_means(path)))
EOF
