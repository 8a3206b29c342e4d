"""The engine's overhead: minigen against hand-written NumPy (forward and manual backward) and PyTorch CPU.

    python bench/overhead.py                 # prints a table, writes bench/results/overhead.json
    python bench/overhead.py --quick         # fewer repeats (a smoke run)
    python bench/overhead.py --out FILE      # writes FILE instead

Without PyTorch the torch columns and the minigen/torch target are skipped (the table says so), and the
results go to runs/bench/overhead.json unless --out is given, so that the recorded
bench/results/overhead.json (with PyTorch beside minigen) is never replaced by a run that lacks them.

(a) a graph of 10 small elementwise ops on 64x64 float32, forward + backward: time per op, and the
    overhead per op over the NumPy version of the same computation;
(b) forward + backward of a 3-layer MLP (F.linear, relu, a mean loss), batch 64, widths 256 and 1024.
Every number is the median over repeats of a timed block of calls, in CPU time of this single-threaded
process; the frameworks are interleaved in each repeat so that a busy machine hits them alike. PyTorch
runs only when it is importable.
"""
from __future__ import annotations

import os

# One thread everywhere (set before NumPy and PyTorch load their BLAS): this compares the engines, not
# thread pools, and keeps a shared 2-core machine from turning thread contention into noise.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import minigen as mg  # noqa: E402
import minigen.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RECORDED = os.path.join(HERE, "results", "overhead.json")
WITHOUT_TORCH = os.path.join("runs", "bench", "overhead.json")  # beside other untracked outputs
N_OPS = 10  # elementwise ops in the graph of (a); the final sum is not counted
TARGET_MLP_RATIO = 1.15

try:
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
except ImportError:
    torch = None


# ------------------------------------------------------------------------- (a) 10 elementwise ops

def elementwise_graph(x, y):
    """The 10-op graph and its backward; the same code runs on minigen and on PyTorch tensors."""
    a = x * y
    b = a + x
    c = b.tanh()
    d = c * y
    e = d - x
    f = e.sigmoid()
    g = f * 2.0
    h = g + y
    i = h.relu()
    j = i * x
    j.sum().backward()
    return x.grad, y.grad


def elementwise_numpy(x, y):
    """The same graph with its backward written out by hand (the floor for any engine on NumPy)."""
    a = x * y
    b = a + x
    c = np.tanh(b)
    d = c * y
    e = d - x
    f = 1 / (1 + np.exp(-e))
    g = f * np.float32(2.0)
    h = g + y
    pos = h > 0
    i = h * pos
    gj = np.ones_like(i)
    gi, gx = gj * x, gj * i
    gh = gi * pos
    gg, gy = gh, gh.copy()
    gf = gg * np.float32(2.0)
    ge = gf * f * (1 - f)
    gd, gx = ge, gx - ge
    gc, gy = gd * y, gy + gd * c
    gb = gc * (1 - c * c)
    ga, gx = gb, gx + gb
    return gx + ga * y, gy + ga * x


# --------------------------------------------------------------------------------------- (b) MLP

def mlp_minigen(x, params):
    for p in params:
        p.grad = None
    (w1, b1), (w2, b2), (w3, b3) = params[0:2], params[2:4], params[4:6]
    h = F.relu(F.linear(x, w1, b1))
    h = F.relu(F.linear(h, w2, b2))
    F.linear(h, w3, b3).mean().backward()
    return [p.grad for p in params]


def mlp_torch(x, params):
    for p in params:
        p.grad = None
    (w1, b1), (w2, b2), (w3, b3) = params[0:2], params[2:4], params[4:6]
    tf = torch.nn.functional
    h = tf.relu(tf.linear(x, w1, b1))
    h = tf.relu(tf.linear(h, w2, b2))
    tf.linear(h, w3, b3).mean().backward()
    return [p.grad for p in params]


def mlp_numpy(x, params):
    """Forward and the hand-written backward of the same MLP."""
    w1, b1, w2, b2, w3, b3 = params
    h1 = x @ w1.T + b1
    a1 = np.maximum(h1, 0)
    h2 = a1 @ w2.T + b2
    a2 = np.maximum(h2, 0)
    y = a2 @ w3.T + b3
    y.mean()
    gy = np.full_like(y, 1 / y.size)
    gw3, gb3, ga2 = gy.T @ a2, gy.sum(0), gy @ w3
    gh2 = ga2 * (h2 > 0)
    gw2, gb2, ga1 = gh2.T @ a1, gh2.sum(0), gh2 @ w2
    gh1 = ga1 * (h1 > 0)
    gw1, gb1 = gh1.T @ x, gh1.sum(0)
    return [gw1, gb1, gw2, gb2, gw3, gb3]


# ------------------------------------------------------------------------------------------- timing

def _block_seconds(fn, args, calls: int) -> float:
    """CPU seconds per call (process time: with one thread it is the work done, whatever else the
    machine is running)."""
    t0 = time.process_time()
    for _ in range(calls):
        fn(*args)
    return (time.process_time() - t0) / calls


def measure(cases: dict, calls: int, repeats: int) -> dict:
    """Median seconds per call of each case {name: (fn, args)}, interleaved over `repeats` rounds."""
    for fn, args in cases.values():
        _block_seconds(fn, args, max(1, calls // 4))  # warm up
    samples = {name: [] for name in cases}
    for _ in range(repeats):
        for name, (fn, args) in cases.items():
            samples[name].append(_block_seconds(fn, args, calls))
    return {name: statistics.median(s) for name, s in samples.items()}


def _elementwise_cases(rng) -> dict:
    x, y = (rng.standard_normal((64, 64)).astype(np.float32) for _ in range(2))
    cases = {"numpy": (elementwise_numpy, (x, y)),
             "minigen": (lambda a, b: elementwise_graph(mg.tensor(a, requires_grad=True),
                                                          mg.tensor(b, requires_grad=True)), (x, y))}
    if torch is not None:
        cases["torch"] = (lambda a, b: elementwise_graph(a.clone().requires_grad_(), b.clone().requires_grad_()),
                          (torch.from_numpy(x), torch.from_numpy(y)))
    return cases


def _mlp_cases(rng, width: int) -> dict:
    x = rng.standard_normal((64, width)).astype(np.float32)
    arrays = []
    for _ in range(3):
        arrays += [(rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32),
                   np.zeros(width, np.float32)]
    cases = {"numpy": (mlp_numpy, (x, arrays)),
             "minigen": (mlp_minigen, (mg.tensor(x), [mg.tensor(a, requires_grad=True) for a in arrays]))}
    if torch is not None:
        cases["torch"] = (mlp_torch, (torch.from_numpy(x),
                                      [torch.from_numpy(a.copy()).requires_grad_() for a in arrays]))
    return cases


def check_agreement(rng) -> None:
    """The three implementations compute the same gradients (so the timings compare like with like)."""
    for cases in (_elementwise_cases(rng), _mlp_cases(rng, 32)):
        ref = [np.asarray(g) for g in cases["numpy"][0](*cases["numpy"][1])]
        for name in ("minigen", "torch"):
            if name in cases:
                got = cases[name][0](*cases[name][1])
                for r, g in zip(ref, got):
                    g = g.numpy() if hasattr(g, "numpy") else g
                    np.testing.assert_allclose(g, r, rtol=2e-4, atol=1e-6, err_msg=name)


# -------------------------------------------------------------------------------------------- report

def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def machine_info() -> dict:
    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": sys.version.split()[0]}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return info


def versions() -> dict:
    v = {"minigen": mg.__version__, "numpy": np.__version__, "commit": _git_commit(),
         "threads": int(os.environ["OMP_NUM_THREADS"])}
    if torch is not None:
        v["torch"] = torch.__version__
        v["torch_threads"] = torch.get_num_threads()
    return v


def run(quick: bool) -> dict:
    rng = np.random.default_rng(0)
    check_agreement(rng)
    repeats = 5 if quick else 21
    t = measure(_elementwise_cases(rng), calls=20 if quick else 200, repeats=repeats)
    us = {k: v * 1e6 for k, v in t.items()}
    elementwise = {"shape": [64, 64], "dtype": "float32", "ops": N_OPS,
                   "us_forward_backward": us,
                   "us_per_op": {k: v / N_OPS for k, v in us.items()},
                   "overhead_us_per_op": {k: (v - us["numpy"]) / N_OPS for k, v in us.items() if k != "numpy"}}
    mlp = {}
    for width in (256, 1024):
        calls = (5 if quick else 20) if width == 1024 else (10 if quick else 100)
        t = measure(_mlp_cases(rng, width), calls=calls, repeats=repeats)
        mlp[str(width)] = {"batch": 64, "layers": 3, "width": width,
                           "ms_forward_backward": {k: v * 1e3 for k, v in t.items()},
                           "minigen_over_numpy": t["minigen"] / t["numpy"]}
        if "torch" in t:
            mlp[str(width)]["minigen_over_torch"] = t["minigen"] / t["torch"]
    ratio = mlp["1024"]["minigen_over_numpy"]
    targets = {"mlp_1024_minigen_over_numpy": {"value": ratio, "target": TARGET_MLP_RATIO,
                                                "met": ratio <= TARGET_MLP_RATIO}}
    if torch is not None:
        mine, theirs = elementwise["overhead_us_per_op"]["minigen"], elementwise["overhead_us_per_op"]["torch"]
        targets["elementwise_overhead_minigen_over_torch"] = {"value": mine / theirs, "target": 1.0,
                                                              "met": mine < theirs}
    return {"machine": machine_info(), "versions": versions(), "repeats": repeats, "statistic": "median",
            "elementwise": elementwise, "mlp": mlp, "targets": targets}


def table(r: dict) -> str:
    names = ["numpy", "minigen"] + (["torch"] if torch is not None else [])
    head = f"{'benchmark':<34}" + "".join(f"{n:>11}" for n in names) + f"{'mg/numpy':>10}{'mg/torch':>10}"
    lines = [head, "-" * len(head)]

    def ratio(a, b) -> str:
        return f"{a / b:>10.2f}" if b else f"{'-':>10}"

    def row(label, values, ratio_base=None):
        cells = "".join(f"{values[n]:>11.2f}" for n in names)
        mg_np = ratio(values["minigen"], values["numpy"]) if ratio_base is None else f"{'-':>10}"
        lines.append(f"{label:<34}{cells}{mg_np}{ratio(values['minigen'], values.get('torch'))}")

    e = r["elementwise"]
    row("10 elementwise ops 64x64, us/op", e["us_per_op"])
    over = {"numpy": 0.0, **e["overhead_us_per_op"]}
    cells = "".join(f"{over[n]:>11.2f}" for n in names)
    lines.append(f"{'  overhead over NumPy, us/op':<34}{cells}{'':>10}{ratio(over['minigen'], over.get('torch'))}")
    for width, m in r["mlp"].items():
        row(f"3-layer MLP width {width}, ms", m["ms_forward_backward"])
    lines.append("")
    for name, t in r["targets"].items():
        lines.append(f"target {name}: {t['value']:.3f} (target {t['target']}) {'met' if t['met'] else 'MISSED'}")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--out", help=f"the JSON to write (default: {os.path.relpath(RECORDED)} with PyTorch, "
                                      f"{WITHOUT_TORCH} without)")
    parser.add_argument("--label", help="a note stored in the JSON (e.g. which version of the engine ran)")
    args = parser.parse_args(argv)
    result = run(args.quick)
    if args.label:
        result["label"] = args.label
    print(table(result))
    out = args.out or (RECORDED if torch is not None else WITHOUT_TORCH)
    if torch is None:
        result["skipped"] = "PyTorch is not importable: no torch columns, no minigen/torch target"
        print("PyTorch is not importable: skipped its columns and the minigen/torch target"
              + ("" if args.out else f"; {os.path.relpath(RECORDED)} is kept, this run goes to {out}"))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
