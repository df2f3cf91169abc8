#!/usr/bin/python3
"""JPEG collections for the benchmarks of image collections (BENCHMARKS.md, "Image collections").

    /usr/bin/python3 bench/make_jpeg_sets.py fashion-mnist OUT [--min 28] [--max 64] [--quality 90]
        Fashion-MNIST as JPEG files of mixed sizes: OUT/train/<label>/NNNNN.jpg (60 000) and
        OUT/test/<label>/NNNNN.jpg (10 000), gray, each image resized (bicubic) to its own
        random size: a width in [--min, --max] and an aspect ratio (height / width) log-uniform in
        [3/4, 4/3], as photographs of one thing at different resolutions; labels 0..9 as folder
        names. Train on it with --data images:OUT/train (the class folders are then just
        nested folders: no labels), probe with --eval-data folder:OUT.
    /usr/bin/python3 bench/make_jpeg_sets.py photos OUT --size WxH [--count N] [--quality 90]
        N (default 1000) photo-like RGB JPEG files of W x H (4:2:0, Pillow's default), in
        folders of 1000: a smooth random background, a few random shapes in random colours and
        mild noise, so that the entropy-coded data is of a photograph's density (a flat image
        decodes much faster than a real one; noise much slower).

Deterministic (--seed, default 0). Reads Fashion-MNIST from /usr/share/datasets/fashion-mnist
(Debian's dataset-fashion-mnist) unless --fashion-mnist DIR. Needs Pillow and numpy
(python3-pil, python3-numpy).
"""
import argparse
import gzip
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(dir, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(dir, name)):
            return os.path.join(dir, name)
    sys.exit(f"make_jpeg_sets: {stem}[.gz] not found in {dir}")


def fashion_mnist(a):
    rng = np.random.default_rng(a.seed)
    for split, stem in (("train", "train"), ("test", "t10k")):
        images = read_idx(find(a.fashion_mnist, f"{stem}-images-idx3-ubyte"))
        labels = read_idx(find(a.fashion_mnist, f"{stem}-labels-idx1-ubyte"))
        for k in range(10):
            os.makedirs(os.path.join(a.out, split, str(k)), exist_ok=True)
        widths = rng.integers(a.min, a.max + 1, size=len(images))
        aspects = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3), size=len(images)))
        for i, (img, label) in enumerate(zip(images, labels)):
            w, h = int(widths[i]), max(a.min, int(round(widths[i] * aspects[i])))
            im = Image.fromarray(img, "L")
            if (w, h) != im.size:
                im = im.resize((w, h), Image.BICUBIC)
            im.save(os.path.join(a.out, split, str(int(label)), f"{i:05d}.jpg"), quality=a.quality)
        print(f"{a.out}/{split}: {len(images)} gray JPEG files, widths {a.min}..{a.max} px, aspect 3/4..4/3")


def photo(rng, w, h):
    # background: a 4x4 random colour field, upsampled smoothly
    field = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
    im = Image.fromarray(field, "RGB").resize((w, h), Image.BICUBIC)
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(3, 9))):
        x0, x1 = sorted(rng.integers(0, w, size=2))
        y0, y1 = sorted(rng.integers(0, h, size=2))
        colour = tuple(int(v) for v in rng.integers(0, 256, size=3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1 + 1, y1 + 1], fill=colour)
    im = im.filter(ImageFilter.GaussianBlur(1.0))
    noise = rng.normal(0, 6, size=(h, w, 3))
    return Image.fromarray(np.clip(np.asarray(im, np.float32) + noise, 0, 255).astype(np.uint8), "RGB")


def photos(a):
    try:
        w, h = (int(v) for v in a.size.lower().split("x"))
    except (AttributeError, ValueError):
        sys.exit("make_jpeg_sets photos: --size WxH is required, e.g. 500x375")
    rng = np.random.default_rng(a.seed)
    for i in range(a.count):
        d = os.path.join(a.out, f"{i // 1000:03d}")
        if i % 1000 == 0:
            os.makedirs(d, exist_ok=True)
        photo(rng, w, h).save(os.path.join(d, f"{i:06d}.jpg"), quality=a.quality)
    print(f"{a.out}: {a.count} RGB JPEG files of {w}x{h}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["fashion-mnist", "photos"])
    ap.add_argument("out")
    ap.add_argument("--min", type=int, default=28)
    ap.add_argument("--max", type=int, default=64)
    ap.add_argument("--size")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--quality", type=int, default=90)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fashion-mnist", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    (fashion_mnist if a.kind == "fashion-mnist" else photos)(a)


if __name__ == "__main__":
    main()
