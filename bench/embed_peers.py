#!/usr/bin/env python3
"""Inference throughput of a trained encoder in two CPU runtimes, on the same model and images:
the ONNX model (vkclr export --onnx) in OpenCV's dnn module, and the PyTorch module
(python/vkclr_torch.py) on the CPU.

    embed_peers.py RUN MODEL.onnx PIXELS.npy [--batch 256] [--threads 2] [--reps 3]

PIXELS.npy: `vkclr export --pixels` of the images (pixel / 255, HWC rows), at the model's input
size. Both runtimes get the same normalised float32 batches (the ONNX metadata's mean and std),
--threads threads each (cv2.setNumThreads, torch.set_num_threads), and run every image once per
repetition after one untimed batch; images/s by wall time (best and median of --reps) and by CPU
time (all threads over --threads: steadier on a shared CPU). Their outputs are compared (the
largest relative difference per image), so the two ran the same model."""

import argparse
import os
import statistics
import sys
import time

import cv2
import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import vkclr_torch  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("run")
ap.add_argument("onnx")
ap.add_argument("pixels")
ap.add_argument("--batch", type=int, default=256)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--reps", type=int, default=3)
a = ap.parse_args()

model = vkclr_torch.load(a.run)
cfg = model.cfg
C, H, W = cfg["image_channels"], cfg["image_height"], cfg["image_width"]
meta = {p.key: p.value for p in onnx.load(a.onnx).metadata_props}
mean = np.float32([float(v) for v in meta["vkclr.mean"].split(",")])
std = np.float32([float(v) for v in meta["vkclr.std"].split(",")])
u8 = np.rint(np.load(a.pixels) * 255).astype(np.uint8).reshape(-1, H, W, C)
x = np.ascontiguousarray(((u8.astype(np.float32) / 255 - mean) / std).transpose(0, 3, 1, 2))
batches = [x[i:i + a.batch] for i in range(0, len(x), a.batch)]

cv2.setNumThreads(a.threads)
torch.set_num_threads(a.threads)
net = cv2.dnn.readNetFromONNX(a.onnx)


def run_cv(b):
    net.setInput(b)
    return net.forward()


def run_torch(b):
    with torch.no_grad():
        return model.encoder(torch.from_numpy(b)).numpy()


results, outputs = {}, {}
for name, fn in (("OpenCV dnn (ONNX)", run_cv), ("PyTorch CPU", run_torch)):
    fn(batches[0])  # untimed: allocation, first-call set-up
    walls, cpus = [], []
    for _ in range(a.reps):
        t, c = time.perf_counter(), time.process_time()
        out = np.concatenate([fn(b) for b in batches])
        walls.append(time.perf_counter() - t)
        cpus.append((time.process_time() - c) / a.threads)
    outputs[name] = out
    results[name] = (len(x) / min(walls), len(x) / statistics.median(walls), len(x) / statistics.median(cpus))

cvo, to = outputs["OpenCV dnn (ONNX)"], outputs["PyTorch CPU"]
rel = (np.linalg.norm(cvo - to, axis=1) / np.maximum(np.linalg.norm(to, axis=1), 1e-30)).max()
print(f"{meta['vkclr.encoder']}: {len(x)} images {H}x{W}x{C}, batch {a.batch}, {a.threads} threads, "
      f"OpenCV {cv2.__version__}, torch {torch.__version__}, load average {os.getloadavg()[0]:.1f}")
for name, (best, median, cpu) in results.items():
    print(f"  {name:18s} {best:8.0f} images/s best, {median:8.0f} median, {cpu:8.0f} by CPU time")
r = [results["OpenCV dnn (ONNX)"][i] / results["PyTorch CPU"][i] for i in range(3)]
print(f"  OpenCV / PyTorch   {r[0]:8.2f}x best, {r[1]:8.2f}x median, {r[2]:8.2f}x by CPU time; outputs agree to "
      f"{rel:.1e} relative")
