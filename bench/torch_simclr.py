#!/usr/bin/env python3
"""The PyTorch peer of a whole `vkclr train` run on Fashion-MNIST: the same model, loss, optimizer,
schedule and recipe (python/vkclr_torch.py; the run's config.json), its own data pipeline
(torchvision transforms with the gray preset's parameters, a DataLoader worker), on this
machine's CPU. It keeps checkpoints in vkclr's format after given minutes of training, so
`vkclr probe --checkpoint` evaluates both frameworks' encoders with one probe.

    /usr/bin/python3 bench/torch_simclr.py --config RUN/config.json --out DIR --snapshot-minutes 1,5,10
                                           [--minutes 60] [--threads 2] [--workers 1]

The run stops after its schedule or after --minutes, whichever comes first. What differs from
vkclr: the augmentation's random draws (torchvision's generator, not vkclr's counter-based one)
and PIL's arithmetic; the model, initialisation (vkclr's draws), loss, optimizer and learning
rate are vkclr's (tests/parity checks them step by step)."""

import argparse
import gzip
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))  # vkclr_torch

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision import transforms  # noqa: E402

import vkclr_torch as V  # noqa: E402

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion_mnist(spec):
    d = FASHION_MNIST if spec in ("", "fashion-mnist") else spec.split(":", 1)[1]
    name = "train-images-idx3-ubyte"
    path = next(os.path.join(d, n) for n in (name + ".gz", name) if os.path.exists(os.path.join(d, n)))
    return read_idx(path)


class TwoViews(torch.utils.data.Dataset):
    def __init__(self, images, transform):
        self.images, self.t = images, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        img = Image.fromarray(self.images[i], mode="L")
        return self.t(img), self.t(img)


def gray_preset(cfg, images):
    """vkclr's gray preset (augment/config.c): crop scale 0.2-1, flip 0.5, brightness/contrast 0.4 at
    p 0.8, normalisation with Fashion-MNIST's mean/std."""
    if cfg.get("preset", "gray") not in ("", "gray") or cfg.get("aug"):
        sys.exit("torch_simclr: only the gray preset without --aug overrides is reproduced here")
    mean, std = 0.2860, 0.3530
    h, w = images.shape[1:]
    return transforms.Compose([
        transforms.RandomResizedCrop((h, w), scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3)),
        transforms.RandomHorizontalFlip(),
        transforms.RandomApply([transforms.ColorJitter(brightness=0.4, contrast=0.4)], p=0.8),
        transforms.ToTensor(),
        transforms.Normalize([mean], [std]),
    ])


def save(model, cfg, path, step, epoch):
    """A vkclr checkpoint (model tensors and the run's configuration) that vkclr probe reads."""
    tensors = {n: a for n, a in V.state_numpy(model).items()}
    meta = {"format": "vkclr-checkpoint-1", "step": str(step), "epoch": str(epoch),
            "config": json.dumps(cfg, separators=(",", ":")), "trained_by": "bench/torch_simclr.py"}
    tmp = path + ".tmp"
    V.write_safetensors(tmp, tensors, meta)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="a vkclr run's config.json: the recipe to train")
    ap.add_argument("--out", required=True)
    ap.add_argument("--snapshot-minutes", default="")
    ap.add_argument("--minutes", type=float, default=0, help="stop after this long (0: the schedule's end)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    raw_cfg = json.load(open(a.config))
    cfg = V.load_config(dict(raw_cfg))
    images = fashion_mnist(cfg["data"])
    if cfg["limit"]:
        images = images[:cfg["limit"]]
    ds = TwoViews(images, gray_preset(cfg, images))
    g = torch.Generator().manual_seed(int(cfg["seed"]))
    loader = torch.utils.data.DataLoader(ds, batch_size=cfg["batch"], shuffle=True, drop_last=True,
                                         num_workers=a.workers, generator=g, persistent_workers=a.workers > 0)
    model = V.build_model(cfg)  # vkclr's initialisation draws for the run's seed
    opt = V.FlatOptimizer(cfg, model)
    loss_of = V.loss_fn(cfg)
    spe = len(loader)
    total = spe * cfg["epochs"]
    snaps = [float(m) for m in a.snapshot_minutes.split(",") if m]
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(raw_cfg, f, indent=1)
    log = open(os.path.join(a.out, "metrics.jsonl"), "w")
    step, t0 = 0, time.perf_counter()
    model.train()
    done = False
    for epoch in range(cfg["epochs"]):
        for v1, v2 in loader:
            x = torch.cat([v1, v2])
            opt.zero_grad()
            loss = loss_of(model(x), model.logz() if V.learned_logz(cfg) else None)
            loss.backward()
            opt.step(V.lr_at(cfg, step, spe), step + 1)
            step += 1
            elapsed = (time.perf_counter() - t0) / 60
            if step % cfg["log_every"] == 0:
                log.write(json.dumps({"step": step, "epoch": step / spe, "loss": float(loss),
                                      "minutes": elapsed}) + "\n")
                log.flush()
            while snaps and elapsed >= snaps[0]:
                save(model, raw_cfg, os.path.join(a.out, f"checkpoint-{snaps[0]:g}min.safetensors"), step, step // spe)
                snaps.pop(0)
            if (a.minutes and elapsed >= a.minutes) or step == total:
                done = True
                break
        if done:
            break
    save(model, raw_cfg, os.path.join(a.out, "checkpoint.safetensors"), step, step // spe)
    seconds = time.perf_counter() - t0
    print(json.dumps({"steps": step, "of": total, "seconds": seconds, "images_per_s": step * cfg["batch"] / seconds}))


if __name__ == "__main__":
    main()
