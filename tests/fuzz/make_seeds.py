#!/usr/bin/env python3
"""Write the seed corpora of the fuzz harnesses into tests/fuzz/corpus/NAME/ (small valid and
nearly valid inputs; the committed corpora were made with this script).

usage: /usr/bin/python3 make_seeds.py [VKCLR_BINARY]   (with the binary: checkpoint and config seeds
from a tiny run; the JPEG seeds need Pillow, Debian's python3-pil)
"""
import gzip, json, os, struct, subprocess, sys, tempfile, zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SEP = b"#SPLIT#"


def put(name, fname, data):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, fname), "wb") as f:
        f.write(data)


def idx_images(n, rows, cols, seed=1):
    return struct.pack(">IIII", 0x803, n, rows, cols) + bytes((seed * 31 + i * 7) & 255 for i in range(n * rows * cols))


def idx_labels(labels):
    return struct.pack(">II", 0x801, len(labels)) + bytes(labels)


def seeds_idx():
    tr, trl = idx_images(3, 4, 4), idx_labels([0, 1, 2])
    te, tel = idx_images(2, 4, 4, 2), idx_labels([2, 0])
    put("idx", "valid", SEP.join([tr, trl, te, tel]))
    put("idx", "gzip", SEP.join([gzip.compress(tr, mtime=0), trl, te, gzip.compress(tel, mtime=0)]))
    put("idx", "empty-train", SEP.join([idx_images(0, 4, 4), idx_labels([]), te, tel]))
    put("idx", "count-mismatch", SEP.join([tr, idx_labels([0, 1]), te, tel]))
    put("idx", "size-mismatch", SEP.join([tr, trl, idx_images(2, 5, 4), tel]))
    put("idx", "missing-test", SEP.join([tr, trl]))


def seeds_cifar():
    # CIFAR-10: the first byte is even; six batch files of one record each, and class names.
    files = [bytes([i % 10]) + bytes((i * 13 + k) & 255 for k in range(3072)) for i in range(6)]
    names = "\n".join(["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]).encode()
    put("cifar", "cifar10", b"\x00" + SEP.join(files + [names]))
    put("cifar", "cifar10-no-names", b"\x00" + SEP.join(files))
    # CIFAR-100: odd first byte; coarse and fine label bytes.
    rec = lambda c, f, i: bytes([c, f]) + bytes((i * 17 + k) & 255 for k in range(3072))
    put("cifar", "cifar100", b"\x01" + SEP.join([rec(1, 42, 0) + rec(3, 99, 1), rec(0, 7, 2)]))
    put("cifar", "cifar100-names", b"\x01" + SEP.join([rec(1, 42, 0), rec(0, 7, 2),
                                                      "\n".join("c%d" % i for i in range(100)).encode()]))


def png(width, height, color_type, bit_depth, rows, plte=None, trns=None):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    raw = b"".join(b"\x00" + r for r in rows)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0))
    if plte:
        out += chunk(b"PLTE", plte)
    if trns:
        out += chunk(b"tRNS", trns)
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def seeds_png():
    gray = png(4, 4, 0, 8, [bytes(range(y * 4, y * 4 + 4)) for y in range(4)])
    rgb = png(3, 5, 2, 8, [bytes((y * 9 + x) & 255 for x in range(9)) for y in range(5)])
    gray16 = png(2, 2, 0, 16, [b"\x12\x34\xff\x00", b"\x00\x01\x80\x00"])
    pal = png(3, 3, 3, 8, [b"\x00\x01\x02", b"\x02\x01\x00", b"\x01\x01\x01"], plte=b"\xff\x00\x00\x00\xff\x00\x00\x00\xff",
              trns=b"\x80")
    ga = png(2, 3, 4, 8, [b"\x10\xff\x20\x80", b"\x30\x00\x40\x40", b"\x50\x10\x60\xff"])
    rgba16 = png(1, 2, 6, 16, [bytes(range(8)), bytes(range(8, 16))])
    interlaced = bytearray(png(4, 4, 0, 8, [bytes(4)] * 4))
    put("png", "gray", gray)
    put("png", "rgb", rgb)
    put("png", "folder-gray", SEP.join([gray, gray16, gray]))
    put("png", "folder-mixed", SEP.join([rgb, gray, pal, ga, rgba16]))
    put("png", "folder-resize", SEP.join([gray, rgb, png(8, 2, 0, 8, [bytes(8)] * 2)]))
    put("png", "folder-no-test", SEP.join([gray, gray]))
    # A header that promises a large image (the bytes after it are a 1x1 image's).
    big = png(1, 1, 0, 8, [b"\x00"])
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    big = big[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + big[33:]
    put("png", "large-header", SEP.join([big, gray]))


def seeds_jpeg():
    import io
    from PIL import Image

    def jpeg(mode, size, **kw):
        w, h = size
        if mode == "L":
            img = Image.frombytes("L", size, bytes((x * 9 + y * 5) & 255 for y in range(h) for x in range(w)))
        else:
            img = Image.frombytes("RGB", size, bytes(v for y in range(h) for x in range(w)
                                                     for v in ((x * 9) & 255, (y * 7) & 255, (x + y) & 255)))
            img = img.convert(mode)
        out = io.BytesIO()
        img.save(out, "JPEG", quality=kw.pop("quality", 80), **kw)
        return out.getvalue()

    baseline = jpeg("RGB", (16, 12), subsampling=2)  # 4:2:0
    put("jpeg", "baseline-420", baseline)
    put("jpeg", "baseline-444", jpeg("RGB", (9, 7), subsampling=0))
    put("jpeg", "progressive", jpeg("RGB", (24, 17), progressive=True))
    put("jpeg", "gray", jpeg("L", (8, 8)))
    put("jpeg", "cmyk", jpeg("CMYK", (8, 16)))
    put("jpeg", "low-quality", jpeg("RGB", (32, 32), quality=30))
    put("jpeg", "collection", SEP.join([baseline, jpeg("L", (8, 8)), jpeg("CMYK", (8, 16)), b"not a jpeg"]))
    put("jpeg", "truncated", baseline[:len(baseline) // 2])
    # a header that promises 60000 x 60000 pixels (SOF0's height and width)
    i = baseline.index(b"\xff\xc0")
    put("jpeg", "large-header", baseline[:i + 5] + struct.pack(">HH", 60000, 60000) + baseline[i + 9:])


def seeds_aug():
    for i, (pre, text) in enumerate([
            (0, "scale=0.2:1,blur_p=0.5"), (1, "size=8x8,ratio=0.5:2,hue=0.1"), (6, "mean=0.5,std=0.25:0.5:1"),
            (4, "solarize_p=0.5,solarize_threshold=100,gray_p=1"), (2, "blur_p=1,blur_sigma=0.5:3,blur_kernel=5"),
            (5, "brightness=0.9,contrast=0.9,saturation=0.9,jitter_p=1,flip_p=1"), (0, "size=6"), (1, "")]):
        put("aug", "seed%d" % i, bytes([pre]) + text.encode())


def seeds_from_run(binary):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "run")
        subprocess.run([binary, "train", "--data", "synthetic:4x4x1:16", "--width", "1", "--out-dim", "2",
                        "--head-hidden", "2", "--batch", "8", "--epochs", "1", "--knn-k", "0", "--probe-epochs", "0",
                        "--quiet", "--out", out], check=True)
        ckpt = open(os.path.join(out, "checkpoint.safetensors"), "rb").read()
        config = open(os.path.join(out, "config.json"), "rb").read()
    put("checkpoint", "tiny", ckpt)
    # The same tensors with a header that is not vkclr's (no metadata): read, refused by name.
    n = struct.unpack("<Q", ckpt[:8])[0]
    header = json.loads(ckpt[8:8 + n])
    header.pop("__metadata__")
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    put("checkpoint", "no-metadata", struct.pack("<Q", len(h)) + h + ckpt[8 + n:])
    put("config", "run", config)
    c = json.loads(config)
    c.update({"encoder": "resnet18", "optimizer": "adamw", "loss": "dcl-debiased", "tau_plus": 0.1, "lr": 0.001})
    put("config", "variant", json.dumps(c).encode())
    for k in ["loss", "nce_logz", "tau_plus", "ranks", "sync_bn", "knn_every", "probe_limit"]:
        c.pop(k, None)
    put("config", "old", json.dumps(c, indent=1).encode())


if __name__ == "__main__":
    seeds_idx()
    seeds_cifar()
    seeds_png()
    seeds_jpeg()
    seeds_aug()
    if len(sys.argv) > 1:
        seeds_from_run(sys.argv[1])
