#!/usr/bin/env python3
"""Train the PyTorch twin on the exact views of a vkclr run, with hyper-parameters changed.

    vkclr train ... --dump-steps N --log-every 1 --out RUN
    /usr/bin/python3 bench/replay_views.py RUN                      # vkclr's own recipe
    /usr/bin/python3 bench/replay_views.py RUN --peak-lr 1e-3 --schedule constant

The views (views.npy), initial state (init.safetensors) and configuration (config.json) are the
run's; what this changes is the learning rate (--peak-lr: the peak, i.e. after vkclr's batch
scaling; --lr: vkclr's base lr, scaled as the run scales it), the schedule (vkclr: warm-up then
cosine, as the run; constant: the peak from step 1), the optimizer's weight decay, the
temperature or the loss. It prints the mean loss of every epoch next to vkclr's (metrics.jsonl),
so the effect of a hyper-parameter on the loss can be read with the data held fixed.
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))  # vkclr_torch

import torch  # noqa: E402

import vkclr_torch as V  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--lr", type=float, help="base lr (scaled by the run's lr_scaling and batch)")
    ap.add_argument("--peak-lr", type=float, help="the peak lr itself")
    ap.add_argument("--schedule", choices=["vkclr", "constant"], default="vkclr")
    ap.add_argument("--optimizer", choices=["lars", "sgd", "adamw"])
    ap.add_argument("--weight-decay", type=float)
    ap.add_argument("--temperature", type=float)
    ap.add_argument("--steps", type=int, default=0, help="replay only the first N steps (0: all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    d = a.run_dir.rstrip("/")
    cfg = V.load_config(os.path.join(d, "config.json"))
    if a.optimizer:
        cfg["optimizer"], cfg["lr"], cfg["weight_decay"] = a.optimizer, 0.0, -1.0
    if a.lr:
        cfg["lr"] = a.lr
    if a.weight_decay is not None:
        cfg["weight_decay"] = a.weight_decay
    if a.temperature:
        cfg["temperature"] = a.temperature
    cfg = V.load_config(cfg)
    init = V.load_checkpoint(os.path.join(d, "init.safetensors"))
    final = V.load_checkpoint(os.path.join(d, "checkpoint.safetensors"))
    views = np.load(os.path.join(d, "views.npy"), mmap_mode="r")
    K = views.shape[0] if not a.steps else min(a.steps, views.shape[0])
    start, end = int(init["__metadata__"].get("step", 0)), int(final["__metadata__"]["step"])
    spe = end // int(final["__metadata__"]["epoch"]) if int(final["__metadata__"]["epoch"]) else end
    vk = {}
    with open(os.path.join(d, "metrics.jsonl")) as f:
        for line in f:
            j = json.loads(line)
            if "loss" in j and j.get("steps_averaged", 1) == 1:
                vk[int(j["step"])] = float(j["loss"])

    model = V.build_model(cfg, init="none")
    V.load_state(model, init)
    model.train()
    opt = V.FlatOptimizer(cfg, model)
    lossf = V.loss_fn(cfg)
    peak = float(a.peak_lr) if a.peak_lr else float(V.peak_lr(cfg))
    scale = peak / float(V.peak_lr(cfg))
    per_epoch = {}
    for k in range(K):
        t = start + k
        lr = peak if a.schedule == "constant" else float(V.lr_at(cfg, t, spe)) * scale
        opt.zero_grad()
        loss = lossf(model(torch.from_numpy(np.array(views[k]))), model.logz())
        loss.backward()
        opt.step(lr, t + 1)
        per_epoch.setdefault(t // spe + 1, []).append((float(loss), vk.get(t + 1, float("nan"))))
    print(f"{d}: {cfg['encoder']} w{cfg['width']} {cfg['optimizer']} {cfg['loss']} tau {cfg['temperature']:g}, "
          f"batch {cfg['batch']}, {K} steps; torch peak lr {peak:g} ({a.schedule}), vkclr's run peak "
          f"{float(V.peak_lr(V.load_config(os.path.join(d, 'config.json')))):g}")
    out = {}
    for e, v in sorted(per_epoch.items()):
        t_mean, v_mean = float(np.mean([x[0] for x in v])), float(np.nanmean([x[1] for x in v]))
        out[e] = {"torch": t_mean, "vkclr": v_mean, "steps": len(v)}
        print(f"  epoch {e}: mean loss torch {t_mean:.4f}, vkclr (its own recipe) {v_mean:.4f} ({len(v)} steps)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"config": cfg, "peak_lr": peak, "schedule": a.schedule, "epochs": out}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
