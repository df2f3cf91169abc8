#!/usr/bin/env python3
"""A trained encoder outside vkclr: the ONNX model in OpenCV, and the PyTorch module.

    test_export.py onnx VKCLR      # vkclr export --onnx: onnx.checker, then OpenCV's dnn module
    test_export.py torch VKCLR     # python/vkclr_torch.py: load(run), preprocess, encoder

Each mode trains tiny runs with VKCLR (float32; the convnet, and ResNet-18 with the CIFAR stem
and with the ImageNet stem: 7x7/2 conv, 3x3/2 max-pool with padding), exports the features and
the raw pixels (--pixels: the exact images, as pixel / 255) of the same test images with
`vkclr export`, and checks that the other runtime gives the same features from the same images: per image, ||f - f_vkclr|| <= 1e-4 ||f_vkclr|| and every element within 1e-4 of the
row's largest magnitude.
  onnx   the file passes onnx.checker (full check: shape inference too), opset >= 11, input
         "input" [batch, C, H, W] with a dynamic batch and output "features" [batch, F]
         (--with-head: "projections" [batch, out_dim]); its metadata's mean and std normalise
         the pixels for OpenCV (cv2.dnn.readNetFromONNX), run on all images at once and on one
         image (the dynamic batch); with --with-head OpenCV's projections equal PyTorch's
         (vkclr_torch) where torch is installed, and the run says it left them out where not.
  torch  vkclr_torch.load(run).encoder(vkclr_torch.preprocess(model, images)) equals the
         export; the projection head's output is the head applied to those features.
Exit status 0 pass, 1 fail, 77 skipped: the mode's packages missing (onnx: python3-onnx,
python3-opencv, python3-numpy; torch: python3-torch, python3-numpy)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

mode, vkclr = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
NEEDS = {"onnx": ("onnx", "cv2", "numpy"), "torch": ("torch", "numpy")}
DEBIAN = {"onnx": "python3-onnx", "cv2": "python3-opencv", "numpy": "python3-numpy", "torch": "python3-torch"}
missing = []
for module in NEEDS[mode]:
    try:
        __import__(module)
    except ImportError:
        missing.append(DEBIAN[module])
if missing:
    print(f"test_export {mode}: {' '.join(missing)} not installed (apt-get install {' '.join(missing)}); skipped")
    sys.exit(77)

import numpy as np  # noqa: E402

try:
    import torch  # noqa: E402
    import vkclr_torch  # noqa: E402
except ImportError:
    torch = vkclr_torch = None

# name, training data (images at the model's input size), encoder options
CASES = [
    ("convnet", "synthetic:16x16x1:128", ["--encoder", "convnet", "--width", "4"]),
    ("resnet18", "synthetic:16x16x3:128", ["--encoder", "resnet18", "--width", "2"]),
    ("resnet18-imagenet-stem", "synthetic:32x32x3:128", ["--encoder", "resnet18", "--width", "2", "--stem", "imagenet"]),
]
LIMIT = 48
failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def vk(*args):
    r = subprocess.run([vkclr, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       env=dict(os.environ, VKCLR_QUIET="1"))
    if r.returncode:
        sys.exit(f"FAIL  vkclr {' '.join(args)} exited {r.returncode}:\n{r.stdout[-3000:]}")
    return r.stdout


def agree(got, want, what):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        check(False, f"{what}: shape {got.shape}, vkclr's {want.shape}")
        return
    rows = np.linalg.norm(got - want, axis=1) / np.maximum(np.linalg.norm(want, axis=1), 1e-30)
    elems = (np.abs(got - want) / np.maximum(np.abs(want).max(axis=1, keepdims=True), 1e-30)).max()
    check(rows.max() <= 1e-4 and elems <= 1e-4,
          f"{what}: agree within 1e-4 (worst image {rows.max():.1e} relative, worst element {elems:.1e} of its row's "
          f"largest)")


def normalise(u8, mean, std):
    """N x H x W x C uint8 -> N x C x H x W float32, as vkclr rounds (vkc_normalize)."""
    scale = np.float32(1.0) / (np.float32(255.0) * std)
    bias = -mean / std
    return np.ascontiguousarray((u8.astype(np.float32) * scale + bias).transpose(0, 3, 1, 2))


def onnx_case(name, run, tmp, pixels, features):
    import cv2
    import onnx
    cfg = json.load(open(os.path.join(run, "config.json")))
    C, H, W = cfg["image_channels"], cfg["image_height"], cfg["image_width"]
    for head in (False, True):
        path = os.path.join(tmp, f"{name}{'-head' if head else ''}.onnx")
        vk("export", "--onnx", path, "--checkpoint", run, *(["--with-head"] if head else []))
        label = f"{name}{' --with-head' if head else ''}"
        model = onnx.load(path)
        try:
            onnx.checker.check_model(model, full_check=True)
            check(True, f"{label}: onnx.checker accepts it (full check)")
        except Exception as e:  # noqa: BLE001 (the checker raises several kinds)
            check(False, f"{label}: onnx.checker: {e}")
        opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        check(opset >= 11, f"{label}: opset {opset} >= 11")

        def dims(v):
            return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]

        out_name, out_dim = ("projections", cfg["out_dim"]) if head else ("features", features.shape[1])
        check([i.name for i in model.graph.input] == ["input"] and dims(model.graph.input[0]) == ["batch", C, H, W],
              f"{label}: input 'input' [batch, {C}, {H}, {W}] (batch dynamic)")
        check([o.name for o in model.graph.output] == [out_name] and dims(model.graph.output[0]) == ["batch", out_dim],
              f"{label}: output '{out_name}' [batch, {out_dim}]")
        ops = {n.op_type for n in model.graph.node}
        check("BatchNormalization" not in ops, f"{label}: batch norms folded ({' '.join(sorted(ops))})")
        meta = {p.key: p.value for p in model.metadata_props}
        need = ("vkclr.input", "vkclr.mean", "vkclr.std", "vkclr.normalization", "vkclr.transform", "vkclr.output",
                "vkclr.encoder", "vkclr.config")
        check(all(k in meta for k in need), f"{label}: metadata {' '.join(need)}")
        mean = np.float32([float(v) for v in meta["vkclr.mean"].split(",")])
        std = np.float32([float(v) for v in meta["vkclr.std"].split(",")])
        check(len(mean) == C and len(std) == C, f"{label}: a mean and std per channel")
        x = normalise(pixels, mean, std)
        net = cv2.dnn.readNetFromONNX(path)
        net.setInput(x)
        got = net.forward()
        net.setInput(x[:1])
        one = net.forward()
        if not head:
            agree(got, features, f"{label}: OpenCV's features and vkclr export's ({len(x)} images)")
            agree(one, features[:1], f"{label}: OpenCV's features of a batch of one")
        elif vkclr_torch is not None:
            m = vkclr_torch.load(run)
            with torch.no_grad():
                want = m(torch.from_numpy(x)).numpy()
            agree(got, want, f"{label}: OpenCV's projections and PyTorch's (vkclr_torch)")
            agree(one, want[:1], f"{label}: OpenCV's projections of a batch of one")
        else:
            check(got.shape == (len(x), out_dim), f"{label}: OpenCV gives {len(x)} x {out_dim} projections")
            print(f"skip  {label}: projection values not compared (python3-torch is not installed)")


def other_sizes(name, run, tmp, m):
    """Images of other sizes and shapes: preprocess's torch resize against vkclr's (a PNG folder
    through vkclr export): close (measured: up to 2.2e-3 relative), not equal (the filters
    round differently)."""
    import cv2
    C = m.cfg["image_channels"]
    folder = os.path.join(tmp, f"{name}-sizes", "train", "all")
    os.makedirs(folder)
    rng = np.random.default_rng(5)
    images = []
    for k, (h, w) in enumerate([(40, 52), (52, 40), (23, 23), (64, 30), (17, 21), (33, 90)]):
        yy, xx = np.mgrid[0:h, 0:w]
        im = np.stack([(np.sin(xx / (3 + k + c)) * 90 + np.cos(yy / (4 + c)) * 60 + 128) for c in range(C)], -1)
        im = np.clip(im + rng.normal(0, 8, im.shape), 0, 255).astype(np.uint8)
        images.append(im if C == 3 else im[..., 0])
        cv2.imwrite(os.path.join(folder, f"{k}.png"), im[..., ::-1] if C == 3 else im[..., 0])
    npy = os.path.join(tmp, f"{name}-sizes-export")
    vk("export", "--checkpoint", run, "--data", "folder:" + os.path.join(tmp, f"{name}-sizes"), "--split", "train",
       "--out", npy)
    want = np.load(os.path.join(npy, "features.npy")).astype(np.float64)
    with torch.no_grad():
        got = m.encoder(vkclr_torch.preprocess(m, images)).numpy().astype(np.float64)
    rel = (np.linalg.norm(got - want, axis=1) / np.linalg.norm(want, axis=1)).max()
    check(rel <= 1e-2, f"{name}: images of 6 other sizes through preprocess: within {rel:.1e} of vkclr's (<= 1e-2: "
                       f"torch's resize, not vkclr's)")


def torch_case(name, run, tmp, pixels, features):
    m = vkclr_torch.load(run)
    images = pixels[..., 0] if pixels.shape[-1] == 1 else pixels  # gray as N x H x W, as users have them
    x = vkclr_torch.preprocess(m, images)
    with torch.no_grad():
        f = m.encoder(x)
        p = m(x)
        p_from_f = m.head(f)
    agree(f.numpy(), features, f"{name}: vkclr_torch's features and vkclr export's ({len(x)} images)")
    check(torch.equal(p, p_from_f), f"{name}: its projections are the head of its features")
    check(not any(t.requires_grad for t in m.parameters()) and not m.training, f"{name}: loaded for inference")
    try:
        import cv2  # noqa: F401 (the PNG files of other_sizes)
    except ImportError:
        print(f"skip  {name}: images of other sizes (python3-opencv writes their files)")
        return
    other_sizes(name, run, tmp, m)


tmp = tempfile.mkdtemp(prefix=f"vkclr-{mode}-")
try:
    for name, data, enc in CASES:
        run = os.path.join(tmp, name)
        vk("train", "--data", data, *enc, "--batch", "32", "--epochs", "1", "--precision", "fp32", "--probe-epochs",
           "0", "--knn-k", "0", "--quiet", "--out", run)
        px, feat = os.path.join(tmp, f"{name}-px"), os.path.join(tmp, f"{name}-f")
        vk("export", "--pixels", "--data", data, "--limit", str(LIMIT), "--out", px)
        vk("export", "--checkpoint", run, "--limit", str(LIMIT), "--out", feat)
        px, feat = os.path.join(px, "features.npy"), os.path.join(feat, "features.npy")
        cfg = json.load(open(os.path.join(run, "config.json")))
        shape = (-1, cfg["image_height"], cfg["image_width"], cfg["image_channels"])
        pixels = np.rint(np.load(px) * 255).astype(np.uint8).reshape(shape)  # --pixels: the bytes / 255, HWC
        (onnx_case if mode == "onnx" else torch_case)(name, run, tmp, pixels, np.load(feat))
finally:
    if os.environ.get("KEEP") != "1":
        shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if failures else 0)
