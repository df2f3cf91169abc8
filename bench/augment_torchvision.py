#!/usr/bin/python3
"""The cifar augmentation pipeline in torchvision, for comparison with `vkclr bench augment`.

RandomResizedCrop(S) + RandomHorizontalFlip + RandomApply(ColorJitter(0.4, 0.4, 0.4, 0.1), p=0.8)
+ RandomGrayscale(0.2) + ToTensor + Normalize, two views per image, one thread. Prints two-view
images per second, of wall time and per CPU-second of the process.

    /usr/bin/python3 bench/augment_torchvision.py [--seconds S] [--threads N]
        32x32 RGB PIL images in memory (CIFAR-shaped noise), S = 32
    /usr/bin/python3 bench/augment_torchvision.py --jpeg DIR --size S [--seconds S]
        every JPEG file under DIR, decoded for each image as torchvision's ImageFolder does
        (PIL open + convert("RGB"): no draft mode), then the two views of S x S: the side of
        `vkclr bench augment --data images:DIR --image-size S`
"""
import argparse
import os
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms as T

parser = argparse.ArgumentParser()
parser.add_argument("--seconds", type=float, default=5.0)
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--images", type=int, default=1000)
parser.add_argument("--jpeg", help="a folder of JPEG files (any depth): decode them too")
parser.add_argument("--size", type=int, default=32, help="view side (default 32)")
args = parser.parse_args()
torch.set_num_threads(args.threads)

if args.jpeg:
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(args.jpeg) for f in fs
                   if f.lower().endswith((".jpg", ".jpeg")))
    if not files:
        raise SystemExit(f"augment_torchvision: no JPEG files under {args.jpeg}")

    def load(i):
        with open(files[i % len(files)], "rb") as f:
            return Image.open(f).convert("RGB")
    what = f"JPEG files of {args.jpeg} ({len(files)}, {Image.open(files[0]).size[0]}x{Image.open(files[0]).size[1]} " \
           f"first), decoded per image"
else:
    # CIFAR-shaped noise, like the synthetic data of `vkclr bench augment`
    rng = np.random.default_rng(1)
    images = [Image.fromarray(a) for a in rng.integers(0, 256, (args.images, 32, 32, 3), dtype=np.uint8)]

    def load(i):
        return images[i % len(images)]
    what = "32x32 RGB in memory"

augment = T.Compose([
    T.RandomResizedCrop(args.size),
    T.RandomHorizontalFlip(),
    T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
    T.RandomGrayscale(p=0.2),
    T.ToTensor(),
    T.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
])

for i in range(50):  # warm-up
    img = load(i)
    augment(img), augment(img)
done, start, cpu_start = 0, time.perf_counter(), time.process_time()
while time.perf_counter() - start < args.seconds:
    img = load(done)
    v1, v2 = augment(img), augment(img)
    done += 1
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
# per CPU-second: the per-core rate, less disturbed by other processes sharing the machine
print(f"torchvision {torchvision.__version__} (torch {torch.__version__}): {done / elapsed:.0f} two-view images/s, "
      f"{done / cpu:.0f} per CPU-second ({what}, views {args.size}x{args.size}, cifar pipeline, "
      f"{args.threads} thread(s), {done} images in {elapsed:.1f} s)")
