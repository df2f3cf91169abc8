#!/usr/bin/python3
"""The cifar augmentation pipeline in torchvision, for comparison with `vkclr bench augment`.

RandomResizedCrop(32) + RandomHorizontalFlip + RandomApply(ColorJitter(0.4, 0.4, 0.4, 0.1), p=0.8)
+ RandomGrayscale(0.2) + ToTensor + Normalize on 32x32 RGB PIL images, two views per image,
one thread. Prints two-view images per second.

    /usr/bin/python3 bench/augment_torchvision.py [--seconds S] [--threads N]
"""
import argparse
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
args = parser.parse_args()
torch.set_num_threads(args.threads)

# CIFAR-shaped noise, like the synthetic data of `vkclr bench augment`
rng = np.random.default_rng(1)
images = [Image.fromarray(a) for a in rng.integers(0, 256, (args.images, 32, 32, 3), dtype=np.uint8)]

augment = T.Compose([
    T.RandomResizedCrop(32),
    T.RandomHorizontalFlip(),
    T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
    T.RandomGrayscale(p=0.2),
    T.ToTensor(),
    T.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
])

for img in images[:50]:  # warm-up
    augment(img), augment(img)
done, start, cpu_start = 0, time.perf_counter(), time.process_time()
while time.perf_counter() - start < args.seconds:
    img = images[done % len(images)]
    v1, v2 = augment(img), augment(img)
    done += 1
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
# per CPU-second: the per-core rate, less disturbed by other processes sharing the machine
print(f"torchvision {torchvision.__version__} (torch {torch.__version__}): {done / elapsed:.0f} two-view images/s, "
      f"{done / cpu:.0f} per CPU-second (32x32 RGB, cifar pipeline, {args.threads} thread(s), "
      f"{done} images in {elapsed:.1f} s)")
