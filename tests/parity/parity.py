#!/usr/bin/env python3
"""End-to-end parity of a vkclr run with its PyTorch twin (python/vkclr_torch.py).

    vkclr train ... --dump-steps K --log-every 1 --out RUN_DIR
    python3 tests/parity/parity.py RUN_DIR

RUN_DIR holds config.json, init.safetensors (the state before the first step), views.npy (the
exact views of the K steps), steps/NNNNNN.safetensors (vkclr's state after each step),
metrics.jsonl (one line per step: --log-every 1) and checkpoint.safetensors (the end of the run,
which must be exactly those K steps). The PyTorch model is built from config.json and runs the
same steps with vkclr's optimizer and learning-rate schedule, in float64 by default: the exact
math, against which vkclr's float32 (with its own summation orders) is measured; --dtype
float32 replays in torch's float32 instead. Two comparisons:

1. Step by step (teacher-forced): step k replayed from vkclr's own state after step k-1, its
   loss and resulting state compared with vkclr's. This is the test of "same math": each step's
   error is one step's float32 rounding and cannot be amplified by the training dynamics. Where
   a ReLU input lies within rounding of 0, vkclr and the replay may take opposite sides of the
   kink, which changes that element's gradient by a whole dy (one sample of 2N in the head's
   1-D batch norms: percent-level in a tensor's update). A step that does not match is retried
   with the closest such elements flipped (greedily, up to 4, each within 3e-5 x the RMS of its
   site's inputs); a step that then matches passes and the table names the flipped elements.
2. Free-running: K steps from init.safetensors, the per-step losses and the final state compared
   with metrics.jsonl and checkpoint.safetensors. Two float32 trajectories of the same math may
   part: training can amplify rounding chaotically (a 1e-6 relative perturbation of the weights
   can move the loss a few steps later by 1e-3 or more at high learning rates on tiny models),
   and where one trajectory crosses a ReLU kink that the other does not, they differ by a
   discrete step that later steps carry on. Where the replay parts from vkclr, the table also
   shows, for scale, two other rounding-level trajectories: torch in float32, and the float64
   replay from init.safetensors perturbed by one float32 rounding (relative 2^-24 noise). This comparison decides the verdict only with
   --strict, or when the run has no steps/ dump (comparison 1 is the test of the math).

Criteria:
  loss        |l_vkclr - l_torch| <= loss_tol * max(|l_torch|, 1)   (relative, with an absolute
              floor where a loss is near 0: dcl and nce losses can cross zero); the learning
              rate vkclr logged for the step must equal the schedule's bit for bit
  tensors     norm-wise relative, per tensor: ||a_vkclr - a_torch|| <= param_tol ||a_torch||,
              for every parameter, running statistic and the optimizer state (momentum, or
              AdamW's m and v). Norm-wise because single elements may legitimately differ
              (AdamW's m / sqrt(v) turns the sign of a near-zero gradient into a full +-lr step),
              while a wrong op moves a whole tensor.
  step update in comparison 1 also (||a_vkclr - a_torch|| - 2^-22 ||a_torch||) <= update_tol
              ||a_torch - a_before||: the error beyond float32 storage of the result (a couple
              of roundings), relative to what the step changed; far stricter than the above for
              tensors a step hardly moves (LARS moves weights by ~lr * eta per step).

Exit status 0 when everything matches, 1 on a mismatch, 2 on bad input.
"""

import argparse
import json
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))  # vkclr_torch

import torch  # noqa: E402

import vkclr_torch as V  # noqa: E402

DATASET_TRAIN = {"fashion-mnist": 60000, "mnist": 60000, "cifar10": 50000, "cifar100": 50000}


def train_images(cfg):
    spec = cfg.get("data", "fashion-mnist")
    m = re.match(r"synthetic:(\d+)x(\d+)x(\d+)(?::(\d+))?$", spec)
    n = int(m.group(4) or 10240) if m else DATASET_TRAIN.get(spec.split(":")[0])
    if n is None:
        return None
    lim = int(cfg.get("limit", 0))
    return min(n, lim) if lim > 0 else n


def read_metrics(path):
    out = {}
    with open(path) as f:
        for line in f:
            j = json.loads(line)
            if "loss" not in j:
                continue
            if j.get("steps_averaged", 1) != 1:
                raise SystemExit(f"parity: {path}: step {j['step']} averages {j['steps_averaged']} steps; "
                                 "run vkclr train with --log-every 1")
            out[int(j["step"])] = (float(j["loss"]), float(j["lr"]))
    return out


def norm_rel(got, want, floor=1e-30):
    return float(np.linalg.norm((got - want).ravel()) / max(np.linalg.norm(want.ravel()), floor))


class Replay:
    """The PyTorch side: a model and optimizer in `dtype`, stepped on dumped views."""

    def __init__(self, cfg, state, dtype, spe):
        self.cfg, self.dtype, self.spe = cfg, dtype, spe
        self.model = V.build_model(cfg, init="none")
        V.load_state(self.model, state, strict=True)
        self.model = self.model.to(dtype).train()
        self.opt = V.make_optimizer(cfg, self.model)
        self.opt.load_state_flat(state["optimizer.state"])
        self.lossf = V.loss_fn(cfg)

    def step(self, views, t, ctl=None):
        """Global step t (0-based): forward, loss, backward, update. Returns (loss, lr). ctl: a
        vkclr_torch.KinkControl (record ReLU inputs, flip chosen ReLU decisions)."""
        x = torch.from_numpy(np.array(views)).to(self.dtype)
        self.opt.zero_grad()
        with V.kinks(ctl):
            loss = self.lossf(self.model(x), self.model.logz())
        loss.backward()
        lr = V.lr_at(self.cfg, t, self.spe)
        self.opt.step(lr, t + 1)
        return float(loss), lr

    def state(self):
        s = {k: v.astype(np.float64) for k, v in V.state_numpy(self.model).items()}
        s["optimizer.state"] = self.opt.state_flat().astype(np.float64)
        return s


def kink_candidates(pre, rel=3e-5, per_site=4, limit=32):
    """ReLU inputs within rel x (the site's RMS input) of the kink, the closest few of every site:
    (|x| / rms, site, flat index)."""
    out = []
    for site, x in pre.items():
        a = x.abs().flatten()
        rms = float(torch.sqrt((x.double() ** 2).mean()))
        if rms == 0:
            continue
        close = torch.nonzero(a < rel * rms).flatten()
        out += sorted((float(a[i]) / rms, site, int(i)) for i in close)[:per_site]
    return sorted(out)[:limit]


def flips_of(cands, pre):
    flips = {}
    for _, site, i in cands:
        f = flips.get(site)
        if f is None:
            f = torch.zeros(pre[site].numel(), dtype=torch.bool)
        f[i] = True
        flips[site] = f
    return {k: v.reshape(pre[k].shape) for k, v in flips.items()}


def compare_states(got, want, before=None):
    """Per tensor: (name, norm-wise rel err, err / change since `before`, max |diff|)."""
    rows = []
    for name, w in want.items():
        g = got[name].astype(np.float64)
        e = norm_rel(g, w)
        u, moved = float("nan"), 0.0
        if before is not None:
            moved = float(np.linalg.norm((w - before[name]).ravel()))
            # the error beyond float32 storage of the result (a couple of roundings, 2^-22 ||w||),
            # relative to what the step changed
            err = max(0.0, float(np.linalg.norm((g - w).ravel())) - 2.0 ** -22 * float(np.linalg.norm(w.ravel())))
            u = err / moved if moved > 0 else (0.0 if err == 0 else float("inf"))
        rows.append((name, e, u, float(np.max(np.abs(g - w))) if g.size else 0.0))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", nargs="+", help="one or more run directories")
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                    help="precision of the PyTorch replay (default float64)")
    ap.add_argument("--loss-tol", type=float, default=1e-4)
    ap.add_argument("--param-tol", type=float, default=1e-3)
    ap.add_argument("--update-tol", type=float, default=1e-3)
    ap.add_argument("--strict", action="store_true", help="a CHAOTIC free-running comparison fails too")
    ap.add_argument("--steps-per-epoch", type=int, default=0, help="override (default: from the data spec)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-scale", action="store_true",
                    help="skip the two extra free-running trajectories (torch float32, perturbed): long runs")
    ap.add_argument("--no-step-by-step", action="store_true", help="skip comparison 1 even if steps/ is there")
    ap.add_argument("--quiet", action="store_true", help="only the summary line unless something fails")
    ap.add_argument("--json", help="write the comparison here (one run directory), or into each run "
                                   "directory under this name (several)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.use_deterministic_algorithms(True)
    codes = []
    for d in a.run_dir:
        js = a.json if len(a.run_dir) == 1 or not a.json else os.path.join(d, os.path.basename(a.json))
        codes.append(check_run(d.rstrip("/"), a, js))
    if len(codes) > 1:
        print(f"parity: {codes.count(0)} of {len(codes)} runs match")
    return max(codes)


def check_run(d, a, json_path):
    dtype = torch.float64 if a.dtype == "float64" else torch.float32
    for f in ("config.json", "init.safetensors", "views.npy", "metrics.jsonl", "checkpoint.safetensors"):
        if not os.path.exists(os.path.join(d, f)):
            print(f"parity: {d}/{f} is missing (vkclr train --dump-steps K --log-every 1 --out {d})", file=sys.stderr)
            return 2
    cfg = V.load_config(os.path.join(d, "config.json"))
    if cfg.get("ranks", 1) != 1:
        print("parity: only single-rank runs can be replayed", file=sys.stderr)
        return 2
    if cfg.get("precision", "fp32") != "fp32":
        print(f"parity: note: {d} trained with {cfg['precision']} activations; the twin computes in "
              f"{a.dtype}, so expect differences of that precision, not float32's")
    init = V.load_checkpoint(os.path.join(d, "init.safetensors"))
    final = V.load_checkpoint(os.path.join(d, "checkpoint.safetensors"))
    start, end = int(init["__metadata__"].get("step", 0)), int(final["__metadata__"]["step"])
    views = np.load(os.path.join(d, "views.npy"), mmap_mode="r")
    K = views.shape[0]
    shape = (2 * cfg["batch"], cfg["image_channels"], cfg["image_height"], cfg["image_width"])
    if tuple(views.shape[1:]) != shape:
        print(f"parity: views.npy has shape {views.shape}, the config needs (K,) + {shape}", file=sys.stderr)
        return 2
    if end != start + K:
        print(f"parity: the final checkpoint is at step {end}, the dump covers steps {start + 1}..{start + K}: "
              "run exactly the dumped steps (choose --epochs/--limit so the schedule is K steps)", file=sys.stderr)
        return 2
    spe = a.steps_per_epoch
    if not spe:
        n = train_images(cfg)
        spe = n // (cfg["batch"] * cfg.get("ranks", 1)) if n else 0
    if not spe:
        print("parity: cannot tell the steps per epoch from the data spec; pass --steps-per-epoch", file=sys.stderr)
        return 2
    if int(final["__metadata__"]["epoch"]) != end // spe:
        print(f"parity: {spe} steps per epoch disagrees with the checkpoint (step {end}, epoch "
              f"{final['__metadata__']['epoch']})", file=sys.stderr)
        return 2
    metrics = read_metrics(os.path.join(d, "metrics.jsonl"))
    for t in range(start + 1, end + 1):
        if t not in metrics:
            print(f"parity: metrics.jsonl has no line for step {t}", file=sys.stderr)
            return 2
    step_files = {t: os.path.join(d, "steps", f"{t:06d}.safetensors") for t in range(start + 1, end + 1)}
    have_steps = not a.no_step_by_step and all(os.path.exists(p) for p in step_files.values())

    init_draws = None
    if start == 0:  # the initialisation itself: build_model's draws against vkclr's
        sd0 = V.state_numpy(V.build_model(cfg, init="vkclr"))
        init_draws = max(float(np.max(np.abs(sd0[k] - init[k]))) for k in sd0)

    def loss_ok(lv, lt):
        return abs(lv - lt) / max(abs(lt), 1.0)

    # ---- 1. step by step, from vkclr's own states
    step_rows, ok1 = [], True
    if have_steps:
        prev = init

        def one_step(k, t, cur, ctl):
            r = Replay(cfg, prev, dtype, spe)
            before = r.state()
            lt, lr = r.step(views[k], t, ctl)
            lv, lr_vk = metrics[t + 1]
            rows = compare_states(cur, r.state(), before)
            le = loss_ok(lv, lt)
            # float32 storage: a tensor's error may also be a few roundings of its values (2^-22)
            worst = max(rows, key=lambda x: x[1])
            worst_u = max((x for x in rows if x[0] != "optimizer.state"), key=lambda x: x[2])
            good = (le <= a.loss_tol and np.float32(lr_vk) == np.float32(lr) and worst[1] <= a.param_tol
                    and worst_u[2] <= a.update_tol)
            return {"step": t + 1, "lr": float(lr), "lr_ok": bool(np.float32(lr_vk) == np.float32(lr)),
                    "vkclr": lv, "torch": lt, "loss_err": le, "worst": worst[0], "worst_err": worst[1],
                    "worst_update": worst_u[0], "worst_update_err": worst_u[2], "ok": bool(good),
                    "tensors": rows, "flipped": []}

        for k in range(K):
            t = start + k
            cur = V.load_checkpoint(step_files[t + 1])
            ctl = V.KinkControl(record=True)
            row = one_step(k, t, cur, ctl)
            if not row["ok"]:
                # ReLU inputs within rounding of 0 that vkclr put on the other side of the kink:
                # greedily flip the candidate that brings the step closest, up to 4 of them.
                cands, chosen, best = kink_candidates(ctl.pre), [], row
                for _ in range(4):
                    tries = [(one_step(k, t, cur, V.KinkControl(flips=flips_of(chosen + [c], ctl.pre))), c)
                             for c in cands if c not in chosen]
                    if not tries:
                        break
                    r2, c = min(tries, key=lambda x: (x[0]["worst_update_err"], x[0]["worst_err"]))
                    if r2["worst_update_err"] >= best["worst_update_err"]:
                        break
                    chosen.append(c)
                    best = r2
                    if r2["ok"]:
                        r2["flipped"] = [f"{site}[{i}] (|x| = {q:.1e} rms)" for q, site, i in chosen]
                        r2["unflipped_worst_update_err"] = row["worst_update_err"]
                        row = r2
                        break
            ok1 &= row["ok"]
            step_rows.append(row)
            prev = cur

    # ---- 2. free-running from init; where it parts from vkclr, for scale, two other
    # rounding-level trajectories: torch in the other precision, and the replay from init
    # perturbed by one float32 rounding (relative 2^-24 noise)
    ref = Replay(cfg, init, dtype, spe)
    init_sd = ref.state()
    free_rows, ok2 = [], True
    for k in range(K):
        t = start + k
        lt, lr = ref.step(views[k], t)
        lv, lr_vk = metrics[t + 1]
        le = loss_ok(lv, lt)
        good = le <= a.loss_tol and np.float32(lr_vk) == np.float32(lr)
        ok2 &= bool(good)
        free_rows.append({"step": t + 1, "lr": float(lr), "lr_ok": bool(np.float32(lr_vk) == np.float32(lr)),
                          "vkclr": lv, "torch": lt, "others": {}, "err": le, "ok": bool(good)})
    final_rows = compare_states(final, ref.state(), init_sd)
    for x in final_rows:
        ok2 &= x[1] <= a.param_tol
    others = {}
    if not ok2 and not a.no_scale:
        others = {"torch float32" if dtype == torch.float64 else "torch float64":
                  Replay(cfg, init, torch.float32 if dtype == torch.float64 else torch.float64, spe),
                  "perturbed": Replay(cfg, init, dtype, spe)}
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in others["perturbed"].model.parameters():
                p.mul_(1 + 2.0 ** -24 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
        for k in range(K):
            for n, r in others.items():
                free_rows[k]["others"][n] = r.step(views[k], start + k)[0]
    spread_loss = {n: max(loss_ok(r["others"][n], r["torch"]) for r in free_rows) for n in others}
    spread_param = {n: max(x[1] for x in compare_states(r.state(), ref.state())) for n, r in others.items()}
    # The verdict rests on comparison 1 (same math, step by step). The free-running comparison
    # fails a case only with --strict or when there is no steps/ dump: trajectories of equal
    # math in float32 may part (chaotic dynamics, a ReLU kink crossed by one trajectory and not
    # the other); the other trajectories above show how far rounding alone carries this run.
    first_bad = next((r["step"] for r in free_rows if not r["ok"]), end + 1)
    kink_steps = [r["step"] for r in step_rows if r["flipped"]]
    ok = (ok1 and (ok2 or not a.strict)) if have_steps else ok2

    title = (f"{d}: {cfg['encoder']} w{cfg['width']} {cfg['optimizer']} {cfg['loss']}"
             f"{' (learned log Z)' if V.learned_logz(cfg) else ''}{(' tau+ %g' % cfg['tau_plus']) if cfg['loss'] == 'dcl-debiased' else ''}"
             f", batch {cfg['batch']}, {K} steps, torch {a.dtype}")
    s1 = (f"step-by-step {'ok' if ok1 else 'MISMATCH'}: loss {max(r['loss_err'] for r in step_rows):.1e}, "
          f"tensor {max(r['worst_err'] for r in step_rows):.1e}, err/update "
          f"{max(r['worst_update_err'] for r in step_rows):.1e}"
          + (f", ReLU kink flips at step {','.join(map(str, kink_steps))}" if kink_steps else "")
          if have_steps else "step-by-step: no steps/ dumped")
    verdict = "ok" if ok2 else f"parts from step {first_bad}" if first_bad <= end else "parts in the final state"
    # mean loss per epoch of the run, vkclr and the free-running replay
    epochs = {}
    for r in free_rows:
        epochs.setdefault((r["step"] - 1) // spe + 1, []).append((r["vkclr"], r["torch"]))
    epoch_means = {e: (float(np.mean([x[0] for x in v])), float(np.mean([x[1] for x in v]))) for e, v in epochs.items()}
    s2 = (f"free-running {verdict}: loss {max(r['err'] for r in free_rows):.1e}, final tensor "
          f"{max(x[1] for x in final_rows):.1e}"
          + ("; for scale, " + ", ".join(f"{n}: loss {spread_loss[n]:.1e}, tensor {spread_param[n]:.1e}"
                                         for n in others) if others else "")
          + "; mean loss per epoch vkclr/torch " + ", ".join(f"{e}: {v[0]:.4f}/{v[1]:.4f}"
                                                            for e, v in sorted(epoch_means.items())))
    summary = f"{'PASS' if ok else 'FAIL'} {title}: {s1}; {s2}" + (
        f"; init draws {'identical' if init_draws == 0 else 'max diff %.1e' % init_draws}" if init_draws is not None else "")

    if not a.quiet or not ok:
        print(title)
        if have_steps:
            print("1. step by step from vkclr's state (loss, and the tensor with the largest error)")
            print(f"{'step':>5} {'lr':>11} {'vkclr loss':>13} {'torch loss':>13} {'rel err':>8}  "
                  f"{'worst tensor (rel err)':<44} {'worst err/update':<40}")
            for r in step_rows:
                print(f"{r['step']:>5} {r['lr']:>11.4g}{' ' if r['lr_ok'] else '!'}{r['vkclr']:>13.7f} {r['torch']:>13.7f} "
                      f"{r['loss_err']:>8.1e}  {r['worst'][:34]:<34} {r['worst_err']:>8.1e}  "
                      f"{r['worst_update'][:30]:<30} {r['worst_update_err']:>8.1e}{'' if r['ok'] else '  <-- MISMATCH'}")
                if r["flipped"]:
                    print(f"{'':>6}matches with the other side of the ReLU kink at {', '.join(r['flipped'])} "
                          f"(err/update {r['unflipped_worst_update_err']:.1e} without)")
        print(f"2. free-running from init.safetensors (torch {a.dtype}; 'perturbed': the same from init x (1 + 2^-24 noise))")
        print(f"{'step':>5} {'lr':>11} {'vkclr loss':>13} {'torch loss':>13} {'rel err':>8} "
              + " ".join(f"{n:>14}" for n in others))
        for r in free_rows:
            print(f"{r['step']:>5} {r['lr']:>11.4g}{' ' if r['lr_ok'] else '!'}{r['vkclr']:>13.7f} {r['torch']:>13.7f} "
                  f"{r['err']:>8.1e} " + " ".join(f"{r['others'][n]:>14.7f}" for n in others)
                  + ("" if r["ok"] else "  <-- differs"))
        print(f"{'final tensor':<44} {'rel err':>8} {'err/change':>10} {'max |diff|':>10}")
        for name, e, u, mx in final_rows:
            print(f"{name:<44} {e:>8.1e} {u:>10.1e} {mx:>10.1e}{'' if e <= a.param_tol else '  <-- differs'}")
    print(summary)
    if json_path:
        for r in step_rows:
            r["tensors"] = [list(x) for x in r["tensors"]]  # name, rel err, err/update, max |diff|
        with open(json_path, "w") as f:
            json.dump({"ok": bool(ok), "step_by_step_ok": bool(ok1), "free_running_ok": bool(ok2),
                       "free_running_spread_loss": spread_loss, "free_running_spread_tensor": spread_param,
                       "kink_steps": kink_steps, "epoch_mean_loss_vkclr_torch": epoch_means,
                       "title": title, "step_by_step": step_rows, "free_running": free_rows,
                       "final": [list(x) for x in final_rows], "init_draws_max_diff": init_draws,
                       "summary": summary}, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
