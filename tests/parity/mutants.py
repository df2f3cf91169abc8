#!/usr/bin/env python3
"""Does the parity check have teeth? Replays runs with a deliberately wrong PyTorch twin (one
small change of the math each) and expects parity.py's step-by-step comparison to fail.

    KEEP=1 CASES='convnet:lars:ntxent convnet:adamw:ntxent convnet:sgd:dcl-debiased:0.1 ...' \\
        tests/parity/run_parity.sh build/vkclr          # keeps the run directories
    /usr/bin/python3 tests/parity/mutants.py RUN_DIR...

Each mutant applies to the runs it can affect (an optimizer's mutant to that optimizer's runs,
a loss's to that loss's). Exit status 0 when every applicable mutant is caught. What is below
the tolerances is not caught: x / (|x| + 1e-3) for the L2 normalisation, a 1e-4 relative change
on these embeddings (|x| ~ 11), passed the ntxent runs; + 1e-2 is caught everywhere.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))  # vkclr_torch
sys.path.insert(0, HERE)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import parity  # noqa: E402
import vkclr_torch as V  # noqa: E402


def bn_forward(eps=1e-5, momentum=0.1):
    def forward(self, x):
        y = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, self.training, momentum, eps)
        return F.relu(y) if self.relu else y
    return forward


def bn_biased_running_var(self, x):
    dims = [0] + list(range(2, x.dim()))
    if self.training:
        with torch.no_grad():
            m = x.mean(dims)
            v = x.var(dims, unbiased=False)
            self.running_mean.mul_(0.9).add_(0.1 * m)
            self.running_var.mul_(0.9).add_(0.1 * v)
        y = F.batch_norm(x, None, None, self.weight, self.bias, True, 0.1, 1e-5)
    else:
        y = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.1, 1e-5)
    return F.relu(y) if self.relu else y


MUTANTS = {
    # name: (applies to (optimizer, loss) or None for all, patch, unpatch)
    "batch-norm eps 1e-4": (None, lambda: setattr(V.BatchNorm, "forward", bn_forward(eps=1e-4))),
    "batch-norm momentum 0.11": (None, lambda: setattr(V.BatchNorm, "forward", bn_forward(momentum=0.11))),
    "biased running_var": (None, lambda: setattr(V.BatchNorm, "forward", bn_biased_running_var)),
    "L2 norm: x / (|x| + 1e-2)": (None, lambda: setattr(V, "loss_fn", lambda cfg: (
        lambda e, logz=None: V.contrastive_loss(e / (e.norm(dim=1, keepdim=True) + 1e-2), V.load_config(cfg), logz)))),
    "temperature x 1.01": (None, lambda: setattr(V, "contrastive_loss", lambda z, cfg, logz=None, _f=V.contrastive_loss:
                                                  _f(z, dict(cfg, temperature=cfg["temperature"] * 1.01), logz))),
    "weight decay on batch norm": (None, lambda: setattr(V, "no_decay_names", lambda model: {"loss.logz"})),
    "sgd: nesterov": (("sgd", None), lambda: V.OPTIM_DEFAULTS["sgd"].update(nesterov=True)),
    "lars: eta 0.0011": (("lars", None), lambda: V.OPTIM_DEFAULTS["lars"].update(eta=0.0011)),
    "adamw: eps 1e-6": (("adamw", None), lambda: V.OPTIM_DEFAULTS["adamw"].update(eps=1e-6)),
    "adamw: beta2 0.99": (("adamw", None), lambda: V.OPTIM_DEFAULTS["adamw"].update(beta2=0.99)),
    "dcl-debiased: no clamp": ((None, "dcl-debiased"), None),
}


def dcl_no_clamp(z, cfg, logz=None, _f=V.contrastive_loss):
    if cfg["loss"] != "dcl-debiased":
        return _f(z, cfg, logz)
    tau, tp = float(cfg["temperature"]), float(cfg["tau_plus"])
    n2 = z.shape[0]
    K = n2 - 2
    S = z @ z.t() / tau
    pos = (torch.arange(n2) + n2 // 2) % n2
    eye = torch.eye(n2, dtype=torch.bool)
    pm = torch.zeros_like(eye)
    pm[torch.arange(n2), pos] = True
    sp = S[torch.arange(n2), pos]
    e = (torch.exp(S) * ~(eye | pm)).sum(1)
    ng = (e - tp * K * torch.exp(sp)) / (1 - tp)
    ng = torch.where(ng > 0, ng, torch.full_like(ng, 1e-30))
    return (torch.log(torch.exp(sp) + ng) - sp).mean()


def nce_shifted(z, cfg, logz=None, _f=V.contrastive_loss):
    """nce with log Z off by 0.01"""
    if cfg["loss"] != "nce":
        return _f(z, cfg, logz)
    b = (logz if logz is not None and V.learned_logz(cfg) else torch.zeros(1, dtype=z.dtype)) + 0.01
    return _f(z, dict(cfg, nce_logz="learned"), b)


MUTANTS["dcl-debiased: no clamp"] = ((None, "dcl-debiased"), lambda: setattr(V, "contrastive_loss", dcl_no_clamp))
MUTANTS["nce: log Z + 0.01"] = ((None, "nce"), lambda: setattr(V, "contrastive_loss", nce_shifted))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", nargs="+")
    ap.add_argument("--only", help="only the mutants whose name contains this")
    a = ap.parse_args()
    saved = {k: getattr(V, k) for k in ("loss_fn", "contrastive_loss", "no_decay_names")}
    saved_bn = V.BatchNorm.forward
    saved_opt = {k: dict(v) for k, v in V.OPTIM_DEFAULTS.items()}
    missed = 0
    print(f"{'mutant':<30} {'run':<40} result")
    for name, (scope, patch) in MUTANTS.items():
        if a.only and a.only not in name:
            continue
        for d in a.run_dir:
            cfg = V.load_config(os.path.join(d, "config.json"))
            if scope and ((scope[0] and scope[0] != cfg["optimizer"]) or (scope[1] and scope[1] != cfg["loss"])):
                continue
            patch()
            args = argparse.Namespace(dtype="float64", loss_tol=1e-4, param_tol=1e-3, update_tol=1e-3, strict=False,
                                      steps_per_epoch=0, threads=1, quiet=True, json=None, no_scale=True,
                                      no_step_by_step=False)
            with open(os.devnull, "w") as null:
                out, sys.stdout = sys.stdout, null
                try:
                    code = parity.check_run(d.rstrip("/"), args, None)
                finally:
                    sys.stdout = out
            for k, v in saved.items():
                setattr(V, k, v)
            V.BatchNorm.forward = saved_bn
            for k, v in saved_opt.items():
                V.OPTIM_DEFAULTS[k].clear()
                V.OPTIM_DEFAULTS[k].update(v)
            caught = code != 0
            missed += not caught
            print(f"{name:<30} {os.path.basename(d.rstrip('/')):<40} {'caught' if caught else 'MISSED'}")
    print(f"mutants: {missed} missed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
