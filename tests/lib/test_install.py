#!/usr/bin/env python3
"""libvkclr as a user gets it: installed, found by pkg-config, linked, run.

    test_install.py MESON BUILD_DIR SOURCE_DIR

1. `meson install --destdir` into a temporary root; the installed tree must hold the shared and
   static libraries, vkclr.h and vkclr.pc, and libvkclr.so must export vkclr_* and nothing else.
2. examples/embed.c compiled against the installation with `pkg-config --cflags --libs vkclr`
   (and once more statically: `pkg-config --static`, libvkclr.a).
3. A tiny run trained with the installed vkclr (synthetic 3-channel images, --image-size 16); a
   folder of PNGs of other sizes and shapes (so that the evaluation transform resizes and crops),
   RGB and gray ones; `vkclr export` on it and the example on it
   (--print-features, with the validation layer): both binaries' features equal the export's
   (1e-5 relative per image), and the neighbours the example prints are those the exported
   features give.
Standard library only (the .npy and .png formats written and read here). Exit 0 pass, 1 fail,
77 skipped (no meson, pkg-config or C compiler)."""

import ast
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

meson, build, source = sys.argv[1:4]
failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def run(cmd, env=None, **kw):
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if r.returncode:
        sys.exit(f"FAIL  {' '.join(cmd)} exited {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def write_png(path, pixels, h, w, c):
    """8-bit gray (c 1) or RGB (c 3) PNG; pixels: bytes, HWC."""
    raw = b"".join(b"\0" + pixels[y * w * c:(y + 1) * w * c] for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0 if c == 1 else 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def read_npy_f32(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:6] == b"\x93NUMPY", path
    n = struct.unpack("<H", data[8:10])[0]
    header = ast.literal_eval(data[10:10 + n].decode())
    assert header["descr"] == "<f4" and not header["fortran_order"], header
    rows, dim = header["shape"]
    values = struct.unpack(f"<{rows * dim}f", data[10 + n:10 + n + 4 * rows * dim])
    return [list(values[i * dim:(i + 1) * dim]) for i in range(rows)]


for tool in ("pkg-config", "cc"):
    if not shutil.which(tool):
        print(f"test_install: {tool} is missing; skipped")
        sys.exit(77)
if not shutil.which(meson) and not os.path.exists(meson):
    print("test_install: meson is missing; skipped")
    sys.exit(77)

tmp = tempfile.mkdtemp(prefix="vkclr-install-")
try:
    # 1. the installed tree
    root = os.path.join(tmp, "root")
    run([meson, "install", "-C", build, "--no-rebuild", "--destdir", root, "--quiet"])
    found = {os.path.relpath(os.path.join(d, f), root): os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs}
    by_name = {os.path.basename(k): v for k, v in found.items()}
    for name in ("vkclr.h", "vkclr.pc", "libvkclr.a", "vkclr"):
        check(name in by_name, f"installed {name}")
    shared = [v for k, v in by_name.items() if re.fullmatch(r"libvkclr\.so\.\d+\.\d+\.\d+", k)]
    check(len(shared) == 1, "installed libvkclr.so.X.Y.Z")
    check(not any(k.startswith("vkclr/") or "/vkclr/" in k for k in found if k.endswith(".h")),
          "the internal headers are not installed")
    if failures:
        sys.exit(1)
    nm = run(["nm", "-D", "--defined-only", shared[0]]).stdout.split("\n")
    exported = [line.split()[-1].split("@")[0] for line in nm if len(line.split()) == 3 and line.split()[1] in "TDBR"]
    check(exported and all(s.startswith("vkclr_") for s in exported),
          f"libvkclr.so exports only vkclr_* ({len(exported)} symbols; others: "
          f"{[s for s in exported if not s.startswith('vkclr_')][:5]})")

    # 2. the example, compiled as the README says
    pcdir = os.path.dirname(by_name["vkclr.pc"])
    env = dict(os.environ, PKG_CONFIG_PATH=pcdir, PKG_CONFIG_SYSROOT_DIR=root)
    flags = run(["pkg-config", "--cflags", "--libs", "vkclr"], env=env).stdout.split()
    static_flags = run(["pkg-config", "--cflags", "--libs", "--static", "vkclr"], env=env).stdout.split()
    static_flags = [f if f != "-lvkclr" else "-l:libvkclr.a" for f in static_flags]
    example = os.path.join(source, "examples", "embed.c")
    exe, exe_static = os.path.join(tmp, "embed"), os.path.join(tmp, "embed-static")
    warn = ["-std=c11", "-Wall", "-Wextra", "-Werror"]
    run(["cc"] + warn + [example, "-o", exe] + flags + ["-lm"])
    run(["cc"] + warn + [example, "-o", exe_static] + static_flags + ["-lm"])
    check(True, "examples/embed.c compiled with pkg-config (shared and --static)")
    libdir = os.path.dirname(shared[0])
    run_env = dict(os.environ, LD_LIBRARY_PATH=libdir)
    ldd = run(["ldd", exe_static], env=run_env).stdout
    check("libvkclr" not in ldd, "the static example does not load libvkclr.so")

    # 3. a tiny run, a folder of images, the export and the example on them
    vkclr = by_name["vkclr"]
    run_dir = os.path.join(tmp, "run")
    run([vkclr, "train", "--data", "synthetic:24x24x3:128", "--image-size", "16", "--encoder", "convnet", "--width", "4",
         "--batch", "32", "--epochs", "1", "--precision", "fp32", "--probe-epochs", "0", "--knn-k", "0", "--quiet",
         "--out", run_dir], env=run_env)
    images = os.path.join(tmp, "images")
    names = []
    sizes = [(24, 24), (24, 31), (31, 20), (16, 16), (12, 40), (45, 33)]  # h, w
    for k in range(12):
        cls = os.path.join(images, "train", "all")  # one class: export keeps the files' order
        os.makedirs(cls, exist_ok=True)
        c = 1 if k % 4 == 3 else 3  # a few gray files: converted to RGB on reading
        h, w = sizes[k % len(sizes)]
        px = bytes((x * (k + 1) * 7 + y * (13 - k) * 5 + ch * 40 + (x * y * k) % 31) % 256
                   for y in range(h) for x in range(w) for ch in range(c))
        path = os.path.join(cls, f"img{k:02d}.png")
        write_png(path, px, h, w, c)
        names.append(path)
    names.sort()
    npy = os.path.join(tmp, "export", "features.npy")
    run([vkclr, "export", "--out", os.path.dirname(npy), "--checkpoint", run_dir, "--data", "folder:" + images, "--split", "train"],
        env=dict(run_env, VKCLR_QUIET="1"))
    want = read_npy_f32(npy)
    check(len(want) == len(names), f"vkclr export wrote {len(want)} rows for {len(names)} images")

    for binary in (exe, exe_static):
        out = run([binary, "--k", "3", "--print-features", "--validation", run_dir, images], env=run_env).stdout
        got = {}
        neighbours = {}
        for line in out.split("\n"):
            parts = line.split()
            if line.startswith("features "):
                got[parts[1]] = [float(v) for v in parts[2:]]
            elif line.startswith(images):
                neighbours[parts[0].rstrip(":")] = [(parts[i], float(parts[i + 1])) for i in range(1, len(parts), 2)]
        label = os.path.basename(binary)
        check(sorted(got) == names, f"{label}: features of every image, in the export's order")
        worst = 0.0
        for i, name in enumerate(names):
            a, b = got.get(name, []), want[i]
            if len(a) != len(b):
                worst = float("inf")
                continue
            diff = sum((x - y) ** 2 for x, y in zip(a, b)) ** 0.5
            worst = max(worst, diff / max(sum(y * y for y in b) ** 0.5, 1e-30))
        check(worst <= 1e-5, f"{label}: features equal vkclr export's (worst relative error {worst:.2e} <= 1e-5)")

        # neighbours by cosine similarity of the exported features
        def unit(v):
            n = sum(x * x for x in v) ** 0.5
            return [x / n for x in v]

        U = [unit(v) for v in want]
        ok = True
        for i, name in enumerate(names):
            sims = sorted(((sum(x * y for x, y in zip(U[i], U[o])), o) for o in range(len(names)) if o != i),
                          key=lambda t: -t[0])
            top = neighbours.get(name, [])
            for rank, (path, s) in enumerate(top):
                want_s, o = sims[rank]
                gap = min([abs(want_s - t[0]) for t in sims if t[1] != o] + [1.0])
                if abs(s - want_s) > 2e-4 or (gap > 1e-4 and path != names[o]):
                    ok = False
                    print(f"      {name} neighbour {rank}: printed {path} {s}, export gives {names[o]} {want_s:.4f}")
            ok &= len(top) == 3
        check(ok, f"{label}: the nearest neighbours it prints are the exported features' (3 each)")
finally:
    if os.environ.get("KEEP") != "1":
        shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if failures else 0)
