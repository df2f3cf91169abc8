"""vkclr's model, losses, optimizers and learning-rate schedule in PyTorch.

A twin of the C/Vulkan implementation, used as the end-to-end correctness oracle
(tests/parity/parity.py) and as the speed peer (bench/torch_peer.py). Standard library, numpy
and torch only.

What it replicates (the C sources it was read from in brackets):
  model      convnet / resnet10/18/34 with the CIFAR or ImageNet stem and the SimCLR v2 projection head,
             tensor names and order of vkclr's named-tensor table (src/nn/model.c,
             include/vkclr/model.h); batch norm eps 1e-5, momentum 0.1, biased variance to
             normalise and unbiased for running_var (shaders/batchnorm_finalize.comp); 2x2
             max-pool (floor), global average pool, bias-free convolutions and linears
  init       the same draws as vkc_model_init_params: the counter-based generator of
             augment/ops.c (splitmix64), Box-Muller Kaiming-normal (fan_out) for convolutions,
             U(-1/sqrt(in), 1/sqrt(in)) for linears, BN gamma 1 / beta 0, running 0 / 1
  losses     ntxent (infonce), nce (self-normalised or learned log Z), dcl, dcl-debiased, the
             mean over the 2N anchors (docs/losses.md, tests/ref/ref_head.c, shaders/*_rows.comp)
             on L2-normalised embeddings (F.normalize, eps 1e-12; shaders/l2norm_forward.comp)
  optimizers SGD with momentum, LARS (SimCLR's: momentum on the scaled step), AdamW with host
             bias corrections, weight decay and LARS adaptation skipped for VKC_PARAM_NO_DECAY
             tensors (batch-norm gamma/beta, loss.logz) (src/optim/optim.c, shaders/sgd.comp,
             lars*.comp, adamw.comp); written here rather than torch.optim's because torch's LARS
             does not exist and its SGD/AdamW differ in where lr and decay enter
  schedule   vkc_train_lr: peak = lr * batch / 256 (linear) or lr * sqrt(batch), linear warm-up
             over round(warmup_epochs * steps_per_epoch) steps then cosine to 0, in float32 as
             the C code computes it (src/train/train.c)

Checkpoints are safetensors files; Debian has no safetensors package, so read_safetensors /
write_safetensors below implement the format (8-byte little-endian header length, JSON
header, raw little-endian data).
"""

import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------- safetensors

_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32,
           "U8": np.uint8, "I8": np.int8, "BOOL": np.bool_}
_NAMES = {np.dtype(v).str: k for k, v in _DTYPES.items()}


def read_safetensors(path):
    """(tensors, metadata): an ordered dict name -> numpy array (file order), and __metadata__."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: truncated (no safetensors header)")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError(f"{path}: header length {n} exceeds the file")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = memoryview(raw)[8 + n:]
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    for name, t in header.items():
        dt = _DTYPES.get(t["dtype"])
        if dt is None:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {t['dtype']}")
        b, e = t["data_offsets"]
        if e > len(data) or b > e:
            raise ValueError(f"{path}: tensor {name} lies outside the file (truncated?)")
        a = np.frombuffer(data[b:e], dtype=np.dtype(dt).newbyteorder("<")).copy()
        out[name] = a.reshape(t["shape"])
    return out, meta


def write_safetensors(path, tensors, metadata=None):
    """Write a dict name -> numpy array (little-endian, in dict order)."""
    header, chunks, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        key = _NAMES.get(a.dtype.str) or _NAMES.get(np.dtype(a.dtype.type).str)
        if key is None:
            raise ValueError(f"tensor {name}: unsupported dtype {a.dtype}")
        b = a.tobytes()
        header[name] = {"dtype": key, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)


def load_checkpoint(path):
    """A vkclr checkpoint as a dict of numpy arrays: every named tensor, "optimizer.state", and
    "__metadata__" (a dict; its "config" parsed into "config_dict" when present)."""
    tensors, meta = read_safetensors(path)
    meta = dict(meta)
    if "config" in meta:
        meta["config_dict"] = json.loads(meta["config"])
    tensors["__metadata__"] = meta
    return tensors


# ---------------------------------------------------------------- configuration

DEFAULTS = {
    "encoder": "convnet", "width": 16, "head_layers": 2, "head_hidden": 0, "out_dim": 128,
    "image_channels": 1, "image_height": 28, "image_width": 28, "batch": 128, "epochs": 2,
    "optimizer": "adamw", "lr": 0.0, "lr_scaling": "linear", "weight_decay": -1.0, "warmup_epochs": 0.5,
    "temperature": 0.2, "loss": "ntxent", "nce_logz": "self", "tau_plus": 0.0, "ranks": 1, "limit": 0,
    "seed": 0, "stem": "cifar",
}

# vkc_optim_defaults (src/optim/optim.c)
OPTIM_DEFAULTS = {
    "lars": {"momentum": 0.9, "weight_decay": 1e-6, "eta": 0.001, "nesterov": False},
    "sgd": {"momentum": 0.9, "weight_decay": 5e-4, "nesterov": False},
    "adamw": {"weight_decay": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
}


def default_lr(optimizer, scaling):
    """vkc_train_default_lr."""
    if optimizer == "adamw":
        return 2e-3 / 16.0 if scaling == "sqrt" else 2e-3
    return 0.075 if scaling == "sqrt" else 0.3


def load_config(path_or_dict):
    """A run's config.json (path, run directory or dict) with vkclr's defaults filled in and lr /
    weight decay resolved the way vkc_train_run resolves them."""
    if isinstance(path_or_dict, dict):
        c = dict(path_or_dict)
    else:
        p = str(path_or_dict)
        if not p.endswith(".json"):
            p = p.rstrip("/") + "/config.json"
        with open(p) as f:
            c = json.load(f)
    for k, v in DEFAULTS.items():
        c.setdefault(k, v)
    if c["loss"] == "infonce":
        c["loss"] = "ntxent"
    if not c["lr"] or c["lr"] <= 0:
        c["lr"] = default_lr(c["optimizer"], c["lr_scaling"])
    if c["weight_decay"] is None or c["weight_decay"] < 0:
        c["weight_decay"] = OPTIM_DEFAULTS[c["optimizer"]]["weight_decay"]
    return c


def learned_logz(cfg):
    return cfg["loss"] == "nce" and cfg.get("nce_logz", "self") == "learned"


def features_of(cfg):
    return 4 * cfg["width"] if cfg["encoder"] == "convnet" else 8 * cfg["width"]


# ---------------------------------------------------------------- model


class KinkControl:
    """Parity tooling: where a ReLU input lies within float32 rounding of 0, vkclr and PyTorch
    may take opposite sides of the kink, which changes that element's gradient by a whole dy.
    With `with kinks(ctl):` every ReLU site (each batch norm with a fused ReLU, keyed by its
    module name, and each residual block's output ReLU, "<block>.relu") records its input in
    ctl.pre when ctl.record is set, and ctl.flips[site] (a bool mask) inverts the gradient mask
    of those elements (their forward output changes by less than the rounding that put them
    there)."""

    def __init__(self, record=False, flips=None):
        self.record, self.flips, self.pre = record, dict(flips or {}), {}


_KINK = None


class kinks:
    def __init__(self, ctl):
        self.ctl = ctl

    def __enter__(self):
        global _KINK
        self.prev, _KINK = _KINK, self.ctl
        return self.ctl

    def __exit__(self, *exc):
        global _KINK
        _KINK = self.prev


def _relu(x, site):
    ctl = _KINK
    if ctl is not None:
        if ctl.record:
            ctl.pre[site] = x.detach()
        f = ctl.flips.get(site)
        if f is not None:
            return x * ((x > 0) ^ f).to(x.dtype)
    return F.relu(x)


def _name_sites(model):
    for name, mod in model.named_modules():
        mod._site = name


class BatchNorm(nn.Module):
    """vkclr's batch norm (2-D maps or 1-D features) with an optional fused ReLU. Parameters
    weight/bias and buffers running_mean/running_var, nothing else (no num_batches_tracked)."""

    def __init__(self, channels, relu):
        super().__init__()
        self.relu = relu
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x):
        y = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, self.training, 0.1, 1e-5)
        return _relu(y, getattr(self, "_site", "")) if self.relu else y


class ConvBN(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn = BatchNorm(cout, True)


class ConvNet(nn.Module):
    """Three conv3x3-BN-ReLU blocks of width w, 2w, 4w, 2x2 max-pools between, global mean."""

    def __init__(self, channels, width):
        super().__init__()
        self.block1 = ConvBN(channels, width)
        self.block2 = ConvBN(width, 2 * width)
        self.block3 = ConvBN(2 * width, 4 * width)

    def forward(self, x):
        for i, b in enumerate((self.block1, self.block2, self.block3)):
            x = b.bn(b.conv(x))
            if i < 2:
                x = F.max_pool2d(x, 2)
        return x.mean((2, 3))


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = BatchNorm(planes, True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = BatchNorm(planes, False)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, 0, bias=False), BatchNorm(planes, False))

    def forward(self, x):
        y = self.bn2(self.conv2(self.bn1(self.conv1(x))))
        return _relu(y + (self.downsample(x) if self.downsample is not None else x), getattr(self, "_site", "") + ".relu")


class ResNet(nn.Module):
    """ResNet with the CIFAR stem (3x3 stride-1 conv, no max-pool) or the ImageNet stem (7x7
    stride-2 conv, BN, ReLU, 3x3 stride-2 max-pool with padding 1), stage widths w..8w."""
    BLOCKS = {"resnet10": (1, 1, 1, 1), "resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}

    def __init__(self, channels, width, depth, stem="cifar"):
        super().__init__()
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(channels, width, 7, 2, 3, bias=False)
            self.pool = nn.MaxPool2d(3, 2, 1)
        elif stem == "cifar":
            self.conv1 = nn.Conv2d(channels, width, 3, 1, 1, bias=False)
            self.pool = nn.Identity()
        else:
            raise ValueError(f"unknown stem {stem!r} (cifar, imagenet)")
        self.bn1 = BatchNorm(width, True)
        cin = width
        for s, n in enumerate(self.BLOCKS[depth]):
            planes = width << s
            blocks = []
            for k in range(n):
                blocks.append(BasicBlock(cin, planes, 2 if s > 0 and k == 0 else 1))
                cin = planes
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))

    def forward(self, x):
        x = self.pool(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x.mean((2, 3))


class HeadLayer(nn.Module):
    def __init__(self, cin, cout, relu):
        super().__init__()
        self.linear = nn.Linear(cin, cout, bias=False)
        self.bn = BatchNorm(cout, relu)

    def forward(self, x):
        return self.bn(self.linear(x))


class LossParams(nn.Module):
    """Holds "loss.logz" (nce with a learned log Z)."""

    def __init__(self):
        super().__init__()
        self.logz = nn.Parameter(torch.zeros(1))


class VkclrModel(nn.Module):
    """encoder -> head; state_dict() names, shapes and order equal vkclr's named-tensor table."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        c, w = cfg["image_channels"], cfg["width"]
        if cfg["encoder"] == "convnet":
            self.encoder = ConvNet(c, w)
        elif cfg["encoder"] in ResNet.BLOCKS:
            self.encoder = ResNet(c, w, cfg["encoder"], cfg["stem"])
        else:
            raise ValueError(f"unknown encoder {cfg['encoder']!r} (convnet, resnet10, resnet18, resnet34)")
        feat = features_of(cfg)
        hidden = cfg["head_hidden"] or feat
        L = cfg["head_layers"]
        if L not in (2, 3):
            raise ValueError(f"head layers must be 2 or 3, not {L}")
        self.head = nn.Sequential(*[HeadLayer(feat if i == 0 else hidden, cfg["out_dim"] if i == L - 1 else hidden,
                                              i != L - 1) for i in range(L)])
        if learned_logz(cfg):
            self.loss = LossParams()
        _name_sites(self)

    def forward(self, x, with_head=True):
        h = self.encoder(x)
        return self.head(h) if with_head else h

    def logz(self):
        return self.loss.logz if hasattr(self, "loss") else None


def build_model(cfg, init="vkclr", seed=None):
    """The model of a configuration (dict or config.json path). init="vkclr": the exact draws of
    vkc_model_init_params with cfg["seed"] (or `seed`); "none": torch's defaults (overwrite
    them with load_state)."""
    cfg = load_config(cfg)
    m = VkclrModel(cfg)
    if init == "vkclr":
        vkclr_init_(m, cfg["seed"] if seed is None else seed)
    return m


def param_count(model):
    """Parameter floats (vkclr prints nparams, which also counts the 256-byte alignment padding
    between tensors: see padded_param_count)."""
    return sum(p.numel() for p in model.parameters())


def padded_param_count(model):
    """vkclr's VkcModel.nparams: every parameter tensor rounded up to a multiple of 64 floats."""
    return sum((p.numel() + 63) // 64 * 64 for p in model.parameters())


def no_decay_names(model):
    """VKC_PARAM_NO_DECAY (src/nn/model.c): every batch norm's gamma and beta, and loss.logz."""
    out = set()
    for name, mod in model.named_modules():
        if isinstance(mod, BatchNorm):
            out |= {f"{name}.weight", f"{name}.bias"}
        elif isinstance(mod, LossParams):
            out.add(f"{name}.logz")
    return out


# ---- vkclr's generator (augment/ops.c): splitmix64 finaliser, counter-based

_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _mix64(z):
    z &= _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _rng_key(seed, epoch, index, view):
    key = _mix64(seed + _GOLDEN)
    key = _mix64(key ^ ((epoch + _GOLDEN) & _M64))
    key = _mix64(key ^ ((index + 2 * _GOLDEN) & _M64))
    return _mix64(key ^ ((view + 3 * _GOLDEN) & _M64))


def _mix64_np(z):
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def rng_uniform(key, n):
    """The first n draws of vkc_rng_uniform from a generator key: float32 in [0, 1)."""
    ctr = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = _mix64_np(np.uint64(key) + ctr * np.uint64(_GOLDEN))
    return (z >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 16777216.0)


def vkclr_init_(model, seed):
    """vkc_model_init_params: one generator stream per named tensor (its index in the table)."""
    sd = model.state_dict()
    with torch.no_grad():
        for i, (name, t) in enumerate(sd.items()):
            key = _rng_key(int(seed), 0x1417, i, 0)
            n = t.numel()
            if name.endswith("running_mean"):
                v = np.zeros(n, np.float32)
            elif name.endswith("running_var"):
                v = np.ones(n, np.float32)
            elif t.dim() == 4:
                std = math.sqrt(2.0 / (t.shape[0] * t.shape[2] * t.shape[3]))
                u = rng_uniform(key, 2 * n).astype(np.float64)
                u1, u2 = 1.0 - u[0::2], u[1::2]
                v = (std * np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)).astype(np.float32)
            elif t.dim() == 2:
                bound = np.float32(1.0) / np.sqrt(np.float32(t.shape[1]))
                u = rng_uniform(key, n)
                v = (-bound + (bound - -bound) * u).astype(np.float32)
            else:
                v = np.full(n, 1.0 if name.endswith(".weight") else 0.0, np.float32)
            t.copy_(torch.from_numpy(v.reshape(tuple(t.shape))))


def load_state(model, tensors, strict=True):
    """Copy a checkpoint's tensors (load_checkpoint's dict) into the model: every parameter and
    buffer by name, shapes checked; strict: no tensor of the model missing, none extra (besides
    optimizer.state and __metadata__)."""
    sd = model.state_dict()
    extra = [k for k in tensors if k not in sd and k not in ("optimizer.state", "__metadata__")]
    missing = [k for k in sd if k not in tensors]
    if strict and (extra or missing):
        raise ValueError(f"checkpoint does not match the model: missing {missing}, unexpected {extra}")
    with torch.no_grad():
        for k, t in sd.items():
            if k not in tensors:
                continue
            a = tensors[k]
            if tuple(a.shape) != tuple(t.shape):
                raise ValueError(f"tensor {k}: checkpoint shape {tuple(a.shape)}, model {tuple(t.shape)}")
            t.copy_(torch.from_numpy(np.ascontiguousarray(a)).to(t.dtype))


def state_numpy(model):
    return {k: v.detach().cpu().float().numpy().copy() for k, v in model.state_dict().items()}


# ---------------------------------------------------------------- losses


def _positives(n2, device):
    i = torch.arange(n2, device=device)
    return (i + n2 // 2) % n2


def contrastive_loss(z, cfg, logz=None):
    """Mean loss over the 2N anchors of L2-normalised embeddings z (2N x dim, view 1 rows then
    view 2 rows), for cfg["loss"]: ntxent, nce, dcl, dcl-debiased."""
    kind = cfg["loss"]
    tau = float(cfg["temperature"])
    n2 = z.shape[0]
    K = n2 - 2
    S = z @ z.t() / tau
    dev = z.device
    pos = _positives(n2, dev)
    eye = torch.eye(n2, dtype=torch.bool, device=dev)
    posmask = torch.zeros_like(eye)
    posmask[torch.arange(n2, device=dev), pos] = True
    sp = S[torch.arange(n2, device=dev), pos]
    if kind in ("ntxent", "infonce"):
        lse = torch.logsumexp(S.masked_fill(eye, float("-inf")), dim=1)
        return (lse - sp).mean()
    if kind == "dcl":
        lse = torch.logsumexp(S.masked_fill(eye | posmask, float("-inf")), dim=1)
        return (lse - sp).mean()
    if kind == "nce":
        b = logz.reshape(()) if (logz is not None and learned_logz(cfg)) else torch.zeros((), dtype=S.dtype, device=dev)
        noise = ~(eye | posmask)
        l = F.softplus(b - sp) + (F.softplus(S - b) * noise).sum(1)
        return l.mean()
    if kind == "dcl-debiased":
        tp = float(cfg["tau_plus"])
        noise = ~(eye | posmask)
        # shifted by m = max_{j != i} S_ij (the positive included), as dcl_debiased_rows.comp
        m = S.masked_fill(eye, float("-inf")).max(1).values.detach()
        e = (torch.exp(S - m[:, None]) * noise).sum(1)
        pp = torch.exp(sp - m)
        raw = (e - tp * K * pp) / (1.0 - tp)
        floor = K * torch.exp(-1.0 / tau - m)
        ng = torch.where(raw < floor, floor, raw)  # clamped rows: no gradient through the negatives
        return (m + torch.log(pp + ng) - sp).mean()
    raise ValueError(f"unknown loss {kind!r}")


def loss_fn(cfg):
    """f(embeddings, logz=None) -> mean loss: L2 normalisation (eps 1e-12) then cfg's loss."""
    cfg = load_config(cfg)

    def f(e, logz=None):
        return contrastive_loss(F.normalize(e, dim=1, eps=1e-12), cfg, logz)
    return f


# ---------------------------------------------------------------- learning rate


def _f32(x):
    return float(np.float32(x))


def peak_lr(cfg):
    """As vkc_train_run computes it, in float32: lr * gbatch / 256 (linear) or lr * sqrt(gbatch)."""
    cfg = load_config(cfg)
    lr = np.float32(cfg["lr"])
    gb = cfg["batch"] * cfg.get("ranks", 1)
    if cfg["lr_scaling"] == "sqrt":
        return np.float32(lr * np.sqrt(np.float32(gb)))
    return np.float32(np.float32(lr * np.float32(gb)) / np.float32(256.0))


def warmup_steps(cfg, steps_per_epoch):
    """llround(warmup_epochs * spe), the product in float as C computes float * int64."""
    w = np.float32(np.float32(cfg["warmup_epochs"]) * np.float32(steps_per_epoch))
    return int(math.floor(float(w) + 0.5)) if w >= 0 else -int(math.floor(-float(w) + 0.5))


def lr_at(cfg, step, steps_per_epoch):
    """Learning rate of step `step` (0-based) of the run: vkc_train_lr(peak, step, warmup, total)."""
    cfg = load_config(cfg)
    peak = peak_lr(cfg)
    warm = warmup_steps(cfg, steps_per_epoch)
    total = steps_per_epoch * cfg["epochs"]
    if step < warm:
        return np.float32(np.float32(peak * np.float32(step + 1)) / np.float32(warm))
    if total <= warm:
        return peak
    progress = (step - warm) / (total - warm)
    return np.float32(float(peak) * 0.5 * (1.0 + math.cos(math.pi * progress)))


# ---------------------------------------------------------------- optimizers


class VkclrOptimizer:
    """vkclr's SGD / LARS / AdamW over a model's parameters, in the parameters' dtype.

    step(lr, t): t is the 1-based update number (AdamW's bias corrections 1 - beta^t are computed
    in double and rounded to the parameter dtype, as vkc_optim_set_step does).
    State layout of vkclr's "optimizer.state": per parameter tensor in table order, packed without
    padding; momentum (sgd, lars), or every m then every v (adamw)."""

    def __init__(self, cfg, model):
        cfg = load_config(cfg)
        self.kind = cfg["optimizer"]
        self.h = dict(OPTIM_DEFAULTS[self.kind])
        self.h["weight_decay"] = float(cfg["weight_decay"])
        self.named = [(n, p) for n, p in model.named_parameters()]
        nd = no_decay_names(model)
        self.decay = {n: n not in nd for n, _ in self.named}
        self.state = {}
        for n, p in self.named:
            self.state[n] = [torch.zeros_like(p)] if self.kind != "adamw" else [torch.zeros_like(p), torch.zeros_like(p)]
        self.last_trust = {}

    def load_state_flat(self, flat):
        flat = np.asarray(flat, np.float32)
        total = sum(p.numel() for _, p in self.named)
        want = total * (2 if self.kind == "adamw" else 1)
        if flat.size != want:
            raise ValueError(f"optimizer.state has {flat.size} floats, {self.kind} over this model needs {want}")
        off = 0
        for n, p in self.named:
            k = p.numel()
            self.state[n][0].copy_(torch.from_numpy(flat[off:off + k].reshape(p.shape)).to(p.dtype))
            if self.kind == "adamw":
                self.state[n][1].copy_(torch.from_numpy(flat[total + off:total + off + k].reshape(p.shape)).to(p.dtype))
            off += k

    def state_flat(self):
        parts = [self.state[n][0].detach().cpu().float().numpy().ravel() for n, _ in self.named]
        if self.kind == "adamw":
            parts += [self.state[n][1].detach().cpu().float().numpy().ravel() for n, _ in self.named]
        return np.concatenate(parts)

    @torch.no_grad()
    def step(self, lr, t):
        h = self.h
        dt = self.named[0][1].dtype
        lr_t = torch.tensor(float(lr), dtype=dt)
        if self.kind == "adamw":
            b1, b2, eps = (torch.tensor(h[k], dtype=dt) for k in ("beta1", "beta2", "eps"))
            bc1 = torch.tensor(1.0 - h["beta1"] ** t, dtype=torch.float64).to(dt)
            bc2 = torch.tensor(1.0 - h["beta2"] ** t, dtype=torch.float64).to(dt)
        for n, p in self.named:
            g = p.grad if p.grad is not None else torch.zeros_like(p)
            wd = torch.tensor(h["weight_decay"] if self.decay[n] else 0.0, dtype=dt)
            if self.kind == "sgd":
                v = self.state[n][0]
                gi = g + wd * p
                v.mul_(h["momentum"]).add_(gi)
                p.sub_(lr_t * (gi + h["momentum"] * v if h["nesterov"] else v))
            elif self.kind == "lars":
                v = self.state[n][0]
                gi = g + wd * p
                trust = torch.ones((), dtype=dt)
                if self.decay[n]:
                    wn, gn = torch.sqrt((p * p).sum()), torch.sqrt((gi * gi).sum())
                    if wn > 0 and gn > 0:
                        trust = h["eta"] * wn / gn
                self.last_trust[n] = float(trust)
                gs = (lr_t * trust) * gi
                v.mul_(h["momentum"]).add_(gs)
                p.sub_(h["momentum"] * v + gs if h["nesterov"] else v)
            else:
                m, v = self.state[n]
                m.copy_(b1 * m + (1.0 - b1) * g)
                v.copy_(b2 * v + (1.0 - b2) * g * g)
                p.sub_(lr_t * ((m / bc1) / (torch.sqrt(v / bc2) + eps) + wd * p))

    def zero_grad(self):
        for _, p in self.named:
            p.grad = None


def make_optimizer(cfg, model):
    """vkclr's optimizer, tensor by tensor (the parity oracle: any dtype, readable)."""
    return VkclrOptimizer(cfg, model)


class FlatOptimizer:
    """The same update rules over ONE flat parameter buffer and ONE flat gradient buffer, as vkclr
    keeps them (every parameter and its .grad become views into them, strides kept, so
    channels_last weights stay channels_last): a fixed handful of kernels per step whatever the
    number of tensors, for the speed peer. LARS's per-tensor norms are segment sums (index_add_).
    Call zero_grad() before backward (it zeroes the flat gradient; autograd then accumulates into
    the views in place)."""

    def __init__(self, cfg, model):
        cfg = load_config(cfg)
        self.kind = cfg["optimizer"]
        self.h = dict(OPTIM_DEFAULTS[self.kind])
        self.h["weight_decay"] = float(cfg["weight_decay"])
        named = list(model.named_parameters())
        p0 = named[0][1]
        dev, dt = p0.device, p0.dtype
        total = sum(p.numel() for _, p in named)
        self.w = torch.empty(total, device=dev, dtype=dt)
        self.g = torch.zeros(total, device=dev, dtype=dt)
        nd = no_decay_names(model)
        seg, decay, off = [], [], 0
        with torch.no_grad():
            for i, (n, p) in enumerate(named):
                k = p.numel()
                view = torch.as_strided(self.w, p.shape, p.stride(), off)
                view.copy_(p.detach())
                p.data = view
                p.grad = torch.as_strided(self.g, p.shape, p.stride(), off)
                seg.append(torch.full((k,), i, dtype=torch.long))
                decay.append(0.0 if n in nd else 1.0)
                off += k
        self.T = len(named)
        self.seg = torch.cat(seg).to(dev)
        self.decay_t = torch.tensor(decay, device=dev, dtype=dt)
        self.wd_el = (self.decay_t * self.h["weight_decay"])[self.seg]
        self.state = [torch.zeros_like(self.w)] + ([torch.zeros_like(self.w)] if self.kind == "adamw" else [])

    def zero_grad(self):
        self.g.zero_()

    @torch.no_grad()
    def step(self, lr, t):
        h, w, g = self.h, self.w, self.g
        lr = float(lr)
        if self.kind == "sgd":
            v = self.state[0]
            gi = torch.addcmul(g, self.wd_el, w)
            v.mul_(h["momentum"]).add_(gi)
            w.sub_(gi.add_(v, alpha=h["momentum"]) if h["nesterov"] else v, alpha=lr)
        elif self.kind == "lars":
            v = self.state[0]
            gi = torch.addcmul(g, self.wd_el, w)
            wn = torch.zeros(self.T, device=w.device, dtype=w.dtype).index_add_(0, self.seg, w * w).sqrt_()
            gn = torch.zeros(self.T, device=w.device, dtype=w.dtype).index_add_(0, self.seg, gi * gi).sqrt_()
            use = (self.decay_t > 0) & (wn > 0) & (gn > 0)
            trust = torch.where(use, h["eta"] * wn / torch.where(use, gn, torch.ones_like(gn)), torch.ones_like(wn))
            gi.mul_(trust[self.seg]).mul_(lr)
            v.mul_(h["momentum"]).add_(gi)
            w.sub_(gi.add_(v, alpha=h["momentum"]) if h["nesterov"] else v)
        else:
            m, v = self.state
            bc1, bc2 = 1.0 - h["beta1"] ** t, 1.0 - h["beta2"] ** t
            m.mul_(h["beta1"]).add_(g, alpha=1.0 - h["beta1"])
            v.mul_(h["beta2"]).addcmul_(g, g, value=1.0 - h["beta2"])
            upd = (m / bc1).div_((v / bc2).sqrt_().add_(h["eps"])).addcmul_(self.wd_el, w)
            w.sub_(upd, alpha=lr)


# ---------------------------------------------------------------- cost


def flops_per_image(model, cfg):
    """Forward multiply-adds of every convolution and linear layer for one image (2 views count
    as 2 images), counted from the shapes. Training FLOPs per image ~ 2 x 3 x this (fwd + 2 bwd)."""
    cfg = load_config(cfg)
    macs = []

    def conv_hook(mod, inp, out):
        macs.append(out[0].numel() * mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1] // mod.groups)

    def lin_hook(mod, inp, out):
        macs.append(mod.in_features * mod.out_features)
    hs = []
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            hs.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, nn.Linear):
            hs.append(mod.register_forward_hook(lin_hook))
    was = model.training
    model.eval()
    p = next(model.parameters())
    with torch.no_grad():
        model(torch.zeros(1, cfg["image_channels"], cfg["image_height"], cfg["image_width"], dtype=p.dtype,
                          device=p.device))
    model.train(was)
    for h in hs:
        h.remove()
    return sum(macs)
