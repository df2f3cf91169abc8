#!/usr/bin/env python3
"""The PyTorch speed peer of `vkclr train`: the same model, loss and optimizer
(bench/vkclr_torch.py) trained on synthetic random views, timed.

    /usr/bin/python3 bench/torch_peer.py                                  # default convnet, CPU
    /usr/bin/python3 bench/torch_peer.py --width 32
    /usr/bin/python3 bench/torch_peer.py --encoder resnet18 --width 64 --image 32x32x3 --batch 64
    /usr/bin/python3 bench/torch_peer.py --encoder resnet18 --stem imagenet --image 96x96x3 --batch 48
    /usr/bin/python3 bench/torch_peer.py --config runs/latest/config.json
    python3 bench/torch_peer.py --device cuda --precision fp32-notf32|fp32|bf16-amp --batch 512 ...

One step is what a vkclr step is: forward of 2 x batch views through encoder and head, L2
normalisation and the loss (in float32), backward, and the optimizer update of every parameter
(vkclr's update rules on one flat parameter buffer, vkclr_torch.FlatOptimizer; --optim-impl
per-tensor uses the tensor-by-tensor oracle instead). No data loading: a few batches of random
normal views are made once on the device and cycled. --warmup steps are run untimed, then
--steps timed (CUDA: synchronised before and after). images/s counts images (each gives two
views), as vkclr does.

FLOPs: the multiply-adds of every convolution and linear layer in one forward of one view,
counted from the layer shapes (vkclr_torch.flops_per_image) x 2 (FLOPs per multiply-add) x 3
(forward + backward-input + backward-weight) x 2 views per image. Batch norm, pooling, ReLU, the
loss's (2N)^2 x dim similarity GEMMs (reported apart) and the optimizer are not counted.

Precision (CUDA): fp32-notf32 (torch.backends.cudnn.allow_tf32 = False and
torch.backends.cuda.matmul.allow_tf32 = False: true float32), fp32 (PyTorch's defaults: TF32
convolutions, and matmuls as torch.get_float32_matmul_precision says), bf16-amp (autocast to
bfloat16 with channels_last activations and weights; master weights, loss and optimizer in
float32). On the CPU only fp32 exists.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# OpenMP threads that spin while they wait (libgomp's default, ACTIVE) lose most of their time
# on a machine whose cores are shared: measured on this project's 2-core VM under load 4.6, the
# default convnet step took 1.51 s with 2 spinning threads, 0.40 s with 2 passive ones and 0.41 s
# with 1 thread. PASSIVE unless the environment says otherwise; it must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

import vkclr_torch as V  # noqa: E402


def parse_image(s):
    try:
        h, w, c = (int(v) for v in s.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--image {s}: expected HxWxC, e.g. 28x28x1 or 32x32x3")
    if c not in (1, 3) or h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"--image {s}: C must be 1 or 3")
    return h, w, c


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", help="a vkclr run's config.json (or run directory): its model, loss, "
                                     "optimizer, batch and image shape; flags given too override it")
    ap.add_argument("--encoder")
    ap.add_argument("--stem", choices=["cifar", "imagenet"], help="ResNet stem (default cifar, as vkclr below 64 px)")
    ap.add_argument("--width", type=int)
    ap.add_argument("--head-layers", type=int)
    ap.add_argument("--head-hidden", type=int)
    ap.add_argument("--out-dim", type=int)
    ap.add_argument("--loss", choices=["ntxent", "infonce", "nce", "dcl", "dcl-debiased"])
    ap.add_argument("--nce-logz", choices=["self", "learned"])
    ap.add_argument("--tau-plus", type=float)
    ap.add_argument("--temperature", type=float)
    ap.add_argument("--optimizer", choices=["lars", "sgd", "adamw"])
    ap.add_argument("--lr", type=float)
    ap.add_argument("--batch", type=int, help="images per step (2 x batch views); default 256 without --config")
    ap.add_argument("--image", type=parse_image, help="HxWxC (default 28x28x1 without --config)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--precision", default="fp32", choices=["fp32", "fp32-notf32", "bf16-amp"])
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads; default 2)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    ap.add_argument("--steps", type=int, default=10, help="timed steps (default 10)")
    ap.add_argument("--optim-impl", default="flat", choices=["flat", "per-tensor"])
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()

    cfg = dict(V.load_config(a.config)) if a.config else dict(V.DEFAULTS, batch=256)
    for key in ("encoder", "stem", "width", "head_layers", "head_hidden", "out_dim", "loss", "nce_logz", "tau_plus",
                "temperature", "optimizer", "lr", "batch"):
        v = getattr(a, key)
        if v is not None:
            cfg[key] = v
    if a.image:
        cfg["image_height"], cfg["image_width"], cfg["image_channels"] = a.image
    if a.optimizer and not a.lr:
        cfg["lr"] = 0.0  # the new optimizer's default, not the config's
    if a.optimizer and not a.config:
        cfg["weight_decay"] = -1.0
    cfg["ranks"] = 1
    cfg = V.load_config(cfg)

    if a.device == "cuda":
        if not torch.cuda.is_available():
            print("torch_peer: --device cuda, but torch.cuda.is_available() is False "
                  f"(torch {torch.__version__}, built with CUDA {torch.version.cuda}); use --device cpu",
                  file=sys.stderr)
            return 2
        dev = torch.device("cuda")
        torch.backends.cudnn.benchmark = True
        if a.precision == "fp32-notf32":
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        dev_name = torch.cuda.get_device_name(0)
    else:
        if a.precision != "fp32":
            print(f"torch_peer: --precision {a.precision} needs --device cuda (the CPU peer is float32)",
                  file=sys.stderr)
            return 2
        dev = torch.device("cpu")
        torch.set_num_threads(a.threads)
        dev_name = platform.processor() or platform.machine()
        try:
            with open("/proc/cpuinfo") as f:
                dev_name = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
        except (OSError, StopIteration):
            pass

    amp = a.precision == "bf16-amp"
    fmt = torch.channels_last if amp else torch.contiguous_format
    torch.manual_seed(0)
    model = V.build_model(cfg)  # vkclr's initialisation
    nparams, padded = V.param_count(model), V.padded_param_count(model)
    macs = V.flops_per_image(model, cfg)
    model = model.to(dev).to(memory_format=fmt).train()
    opt = V.FlatOptimizer(cfg, model) if a.optim_impl == "flat" else V.make_optimizer(cfg, model)
    lossf = V.loss_fn(cfg)
    B = cfg["batch"]
    shape = (2 * B, cfg["image_channels"], cfg["image_height"], cfg["image_width"])
    xs = [torch.randn(shape, device=dev).contiguous(memory_format=fmt) for _ in range(2)]
    spe = 1000  # a long schedule: the learning rate stays near its peak after the warm-up

    def step(t):
        opt.zero_grad()
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=amp):
            e = model(xs[t % len(xs)])
        loss = lossf(e.float(), model.logz())
        loss.backward()
        opt.step(V.lr_at(cfg, t, spe), t + 1)
        return loss

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    for t in range(a.warmup):
        step(t)
    sync()
    times = []
    cpu_all = time.process_time()
    t_all = time.perf_counter()
    for t in range(a.warmup, a.warmup + a.steps):
        t0 = time.perf_counter()
        loss = step(t)
        sync()
        times.append(time.perf_counter() - t0)
    total = time.perf_counter() - t_all
    # CPU time of every thread of this process over the cores it may use: on a shared CPU a
    # far steadier measure than wall time (vkclr bench train reports the same).
    cpu = (time.process_time() - cpu_all) / (a.threads if dev.type == "cpu" else 1)
    last = float(loss)

    ms = 1000 * total / a.steps
    ips = B * a.steps / total
    train_flop_img = 2 * 3 * 2 * macs
    sim_flop = 3 * 2 * (2 * B) ** 2 * cfg["out_dim"]  # S = z z^T, dL/dz = G z (two GEMMs) ~ 3 of them
    res = {
        "device": a.device, "device_name": dev_name, "precision": a.precision,
        "cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32) if a.device == "cuda" else None,
        "matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32) if a.device == "cuda" else None,
        "threads": a.threads if a.device == "cpu" else None, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "torch": torch.__version__, "load_average": os.getloadavg(),
        "encoder": cfg["encoder"], "width": cfg["width"], "head_layers": cfg["head_layers"],
        "head_hidden": cfg["head_hidden"], "out_dim": cfg["out_dim"], "loss": cfg["loss"],
        "optimizer": cfg["optimizer"], "optim_impl": a.optim_impl, "batch": B,
        "image": f"{cfg['image_height']}x{cfg['image_width']}x{cfg['image_channels']}",
        "parameters": nparams, "vkclr_padded_parameters": padded,
        "forward_macs_per_view": macs, "train_gflop_per_image": train_flop_img / 1e9,
        "loss_gflop_per_step": sim_flop / 1e9,
        "warmup_steps": a.warmup, "steps": a.steps, "ms_per_step": ms,
        "ms_per_step_median": 1000 * statistics.median(times), "ms_per_step_min": 1000 * min(times),
        "images_per_s": ips, "views_per_s": 2 * ips,
        "cpu_images_per_s": B * a.steps / cpu if dev.type == "cpu" and cpu > 0 else None,
        "cpu_ms_per_step": 1000 * cpu / a.steps if dev.type == "cpu" else None, "achieved_gflop_s": train_flop_img * ips / 1e9,
        "last_loss": last,
    }
    if dev.type == "cuda":
        res["peak_memory_mib"] = torch.cuda.max_memory_allocated() / 2 ** 20
    print(f"torch {torch.__version__} {a.device} ({dev_name}), {a.precision}"
          f"{', %d threads (OMP_WAIT_POLICY %s)' % (a.threads, os.environ.get('OMP_WAIT_POLICY')) if a.device == 'cpu' else ''}"
          f", load average {os.getloadavg()[0]:.1f}: {cfg['encoder']} width {cfg['width']} "
          f"({nparams} parameters; vkclr prints {padded}, its padded count), image {res['image']}, batch {B} "
          f"({2 * B} views), {cfg['loss']}, {cfg['optimizer']}")
    print(f"  {ips:.1f} images/s ({2 * ips:.1f} views/s), {ms:.1f} ms/step (median {res['ms_per_step_median']:.1f}, "
          f"min {res['ms_per_step_min']:.1f}) over {a.steps} steps after {a.warmup} warm-up; "
          f"{train_flop_img / 1e9:.4f} GFLOP/image (conv+linear, fwd+bwd) = {res['achieved_gflop_s']:.1f} GFLOP/s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
