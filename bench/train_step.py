"""Time one training step of two models in minigen and in PyTorch, the contenders interleaved.

    python bench/train_step.py --device cuda [--rounds 7] [--steps 10] [--out bench/results]
    python bench/train_step.py --device cpu --quick          # a smoke check: tiny sizes, 2 rounds of 1 step

- DCGAN on 32x32 RGB, batch 64: a discriminator step (real and fake, BCE with logits) and a generator
  step, Adam(2e-4, betas (0.5, 0.999)); 64 base channels, BatchNorm, LeakyReLU 0.2.
- PixelCNN on 28x28 binary images, batch 64: a 7x7 mask-A layer and six 3x3 mask-B layers of 64 channels
  (7 masked layers), ReLU, a 1x1 output convolution, BCE with logits, Adam(1e-3).

The same module tree is built from minigen.nn and torch.nn for each contender:
- "minigen": minigen.kernels.enabled = False, the plain CuPy (or NumPy) composition;
- "minigen+kernels": kernels on (what a user gets on the GPU), conv_algorithm "implicit_gemm" (the
  default): the convolutions and the PixelCNN's masked convolutions (over the unmasked taps) through the
  implicit-GEMM kernels, and each optimizer's update as one multi-tensor Adam launch (on the CPU the
  kernels do not run, so the three minigen contenders compute the same thing there);
- "minigen+kernels-im2col": the same with conv_algorithm "im2col" (im2col/col2im kernels + cuBLAS) for
  the plain convolutions (the masked ones keep their own kernel, implicit GEMM over the unmasked taps);
- "torch": PyTorch's defaults (cuDNN convolutions in TF32), the flags recorded as they are at start;
- "torch-fp32": torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False.
Every step function first sets its contender's switches (minigen.kernels.enabled/conv_algorithm or the
torch flags), so the contenders can be interleaved. Each step function is warmed up (3 steps, past
compilation and autotuning), then `--rounds` rounds (at least 5, default 7) each time every contender
once, round r starting at contender r mod count, each model over `--steps` back-to-back steps (default
10). Timers: CUDA events on --device cuda (CuPy's for minigen, torch's for PyTorch; the end event is
synchronised), time.perf_counter on cpu. The table and JSON report the median ms per step over rounds and
each minigen contender's ratio to "torch" and to "torch-fp32" (minigen / torch: the target is <= 1.5).

Writes bench/results/train_step-<gpu>.json (not with --quick unless --out is given) with "device", "gpu",
"sizes", "rounds", "steps", "warmup", "ms_per_step" {contender: {model: median}}, "ms_per_round"
{contender: {model: [ms per step, one per round]}}, "ratio_to_torch" and "ratio_to_torch_fp32"
{minigen contender: {model: ratio}}, "flags" {contender: the switches it ran with} and "versions"
(python, numpy, minigen, cupy, CUDA runtime and driver, torch, torch.version.cuda, cuDNN).
PyTorch is optional: without it only minigen is timed and the ratios are empty.
"""
from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

import minigen as mg
import minigen.kernels
import minigen.functional as F
from minigen import nn, optim

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = ("dcgan", "pixelcnn")
MINIGEN = {"minigen": (False, "implicit_gemm"), "minigen+kernels": (True, "implicit_gemm"),
           "minigen+kernels-im2col": (True, "im2col")}  # contender: (kernels.enabled, kernels.conv_algorithm)
TORCH_FLAGS = ("cudnn.allow_tf32", "cuda.matmul.allow_tf32", "cudnn.benchmark", "cudnn.deterministic")
STRICT_FP32 = {"cudnn.allow_tf32": False, "cuda.matmul.allow_tf32": False}


def _bench_kernels():
    """bench/kernels.py as a module (for its GPU-name, torch, timer and version helpers), loaded by path."""
    spec = importlib.util.spec_from_file_location("bench_kernels", Path(__file__).resolve().parent / "kernels.py")
    module = sys.modules["bench_kernels"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_helpers = _bench_kernels()
gpu_name, import_torch, slug = _helpers.gpu_name, _helpers.import_torch, _helpers.slug


# ------------------------------------------------------------------------------------------- models

def dcgan(tnn, ch: int, nz: int):
    """(generator, discriminator) from a torch.nn-like namespace (minigen.nn or torch.nn)."""
    g = tnn.Sequential(
        tnn.ConvTranspose2d(nz, ch * 4, 4, 1, 0, bias=False), tnn.BatchNorm2d(ch * 4), tnn.ReLU(),
        tnn.ConvTranspose2d(ch * 4, ch * 2, 4, 2, 1, bias=False), tnn.BatchNorm2d(ch * 2), tnn.ReLU(),
        tnn.ConvTranspose2d(ch * 2, ch, 4, 2, 1, bias=False), tnn.BatchNorm2d(ch), tnn.ReLU(),
        tnn.ConvTranspose2d(ch, 3, 4, 2, 1, bias=False), tnn.Tanh())
    d = tnn.Sequential(
        tnn.Conv2d(3, ch, 4, 2, 1, bias=False), tnn.LeakyReLU(0.2),
        tnn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), tnn.BatchNorm2d(ch * 2), tnn.LeakyReLU(0.2),
        tnn.Conv2d(ch * 2, ch * 4, 4, 2, 1, bias=False), tnn.BatchNorm2d(ch * 4), tnn.LeakyReLU(0.2),
        tnn.Conv2d(ch * 4, 1, 4, 1, 0, bias=False))
    return g, d


def pixelcnn(tnn, masked, ch: int):
    """7 masked layers (7x7 "A", then six 3x3 "B") of `ch` channels, ReLU, a 1x1 output convolution."""
    layers = [masked(1, ch, 7, "A"), tnn.ReLU()]
    for _ in range(6):
        layers += [masked(ch, ch, 3, "B"), tnn.ReLU()]
    return tnn.Sequential(*layers, tnn.Conv2d(ch, 1, 1))


# ------------------------------------------------------------------------------------- frameworks

def minigen_steps(device: str, sizes: dict) -> dict:
    """{model: step function} in minigen: the same nn layers and optim.Adam for every contender, which
    pick the fused kernels by themselves on CUDA arrays while minigen.kernels.enabled is set."""
    mg.manual_seed(0)
    rng = np.random.default_rng(0)

    def adam(params, lr, betas):
        return optim.Adam(params, lr=lr, betas=betas)
    b, ch, nz = sizes["batch"], sizes["dcgan_ch"], 100
    g, d = (m.to(device) for m in dcgan(nn, ch, nz))
    opt_g, opt_d = adam(g.parameters(), 2e-4, (0.5, 0.999)), adam(d.parameters(), 2e-4, (0.5, 0.999))
    real = mg.tensor(rng.uniform(-1, 1, (b, 3, 32, 32)).astype(np.float32), device=device)
    ones, zeros = mg.ones(b, 1, 1, 1, device=device), mg.zeros(b, 1, 1, 1, device=device)

    def dcgan_step():
        fake = g(mg.randn(b, nz, 1, 1, device=device))
        loss_d = F.binary_cross_entropy_with_logits(d(real), ones) + \
            F.binary_cross_entropy_with_logits(d(fake.detach()), zeros)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = F.binary_cross_entropy_with_logits(d(fake), ones)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

    net = pixelcnn(nn, nn.MaskedConv2d, sizes["pixelcnn_ch"]).to(device)
    opt = adam(net.parameters(), 1e-3, (0.9, 0.999))
    x = mg.tensor((rng.random((b, 1, 28, 28)) < 0.5).astype(np.float32), device=device)

    def pixelcnn_step():
        loss = F.binary_cross_entropy_with_logits(net(x), x)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return {"dcgan": dcgan_step, "pixelcnn": pixelcnn_step}


def torch_steps(torch, device: str, sizes: dict) -> dict:
    """{model: step function} in PyTorch, the same architectures."""
    tnn, tF = torch.nn, torch.nn.functional
    torch.manual_seed(0)

    class MaskedConv2d(tnn.Conv2d):
        def __init__(self, i, o, k, mask_type):
            super().__init__(i, o, k, padding=k // 2)
            mask = torch.ones(k, k)
            mask[k // 2, k // 2 + (mask_type == "B"):] = 0
            mask[k // 2 + 1:] = 0
            self.register_buffer("mask", mask)

        def forward(self, x):
            return tF.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)

    b, ch, nz = sizes["batch"], sizes["dcgan_ch"], 100
    g, d = (m.to(device) for m in dcgan(tnn, ch, nz))
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = torch.rand(b, 3, 32, 32, device=device) * 2 - 1
    ones, zeros = torch.ones(b, 1, 1, 1, device=device), torch.zeros(b, 1, 1, 1, device=device)

    def dcgan_step():
        fake = g(torch.randn(b, nz, 1, 1, device=device))
        loss_d = tF.binary_cross_entropy_with_logits(d(real), ones) + \
            tF.binary_cross_entropy_with_logits(d(fake.detach()), zeros)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = tF.binary_cross_entropy_with_logits(d(fake), ones)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

    net = pixelcnn(tnn, MaskedConv2d, sizes["pixelcnn_ch"]).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = (torch.rand(b, 1, 28, 28, device=device) < 0.5).float()

    def pixelcnn_step():
        loss = tF.binary_cross_entropy_with_logits(net(x), x)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return {"dcgan": dcgan_step, "pixelcnn": pixelcnn_step}


# -------------------------------------------------------------------------------------- contenders

@dataclass
class Contender:
    """One framework configuration: {model: step function}, its timer and the switches it runs with."""

    steps: dict
    timer: Callable  # measure(fn, reps) -> ms per call
    flags: dict


def switched(steps: dict, switch: Callable) -> dict:
    """Each step function calling `switch()` first (it sets the contender's flags: contenders interleave)."""
    def run(step):
        switch()
        step()
    return {model: functools.partial(run, step) for model, step in steps.items()}


def torch_flag(torch, name: str) -> tuple:
    """(owner, attribute) of a flag named below torch.backends, e.g. "cuda.matmul.allow_tf32"."""
    *path, attr = name.split(".")
    return functools.reduce(getattr, path, torch.backends), attr


def torch_flags(torch) -> dict:
    """The TORCH_FLAGS as they are now."""
    return {name: getattr(*torch_flag(torch, name)) for name in TORCH_FLAGS}


def minigen_contender(device: str, sizes: dict, enabled: bool, algorithm: str, timer: Callable) -> Contender:
    """minigen with minigen.kernels.enabled = `enabled` and conv_algorithm = `algorithm`."""
    def switch():
        minigen.kernels.enabled, minigen.kernels.conv_algorithm = enabled, algorithm
    flags = {"kernels.enabled": enabled, "kernels.conv_algorithm": algorithm,
             "CUPY_TF32": os.environ.get("CUPY_TF32", "0")}  # CuPy's cuBLAS GEMMs use TF32 only when "1"
    return Contender(switched(minigen_steps(device, sizes), switch), timer, flags)


def torch_contender(torch, device: str, sizes: dict, flags: dict, timer: Callable) -> Contender:
    """PyTorch with the given TORCH_FLAGS; records them and float32_matmul_precision as they then read."""
    def switch():
        for name, value in flags.items():
            setattr(*torch_flag(torch, name), value)
    switch()
    used = {**torch_flags(torch), "float32_matmul_precision": torch.get_float32_matmul_precision()}
    return Contender(switched(torch_steps(torch, device, sizes), switch), timer, used)


def wall_timer(fn: Callable, reps: int) -> float:
    """Milliseconds per call of `fn` over `reps` back-to-back calls, by time.perf_counter (CPU)."""
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) * 1e3 / reps


def timer_for(device: str, cp=None, torch=None) -> Callable:
    """The measure(fn, reps) -> ms per call: on cuda CUDA events (torch's when `torch` is given, else
    CuPy's; bench/kernels.py's timers), on cpu time.perf_counter."""
    if device == "cpu":
        return wall_timer
    return _helpers.torch_timer(torch) if torch is not None else _helpers.cupy_timer(cp)


def build(device: str, sizes: dict, cp, torch) -> dict[str, Contender]:
    """Every contender: the MINIGEN ones, then (when PyTorch is there) "torch" and "torch-fp32"."""
    out = {name: minigen_contender(device, sizes, enabled, algorithm, timer_for(device, cp=cp))
           for name, (enabled, algorithm) in MINIGEN.items()}
    if torch is not None:
        defaults = torch_flags(torch)
        for name, flags in (("torch", defaults), ("torch-fp32", {**defaults, **STRICT_FP32})):
            out[name] = torch_contender(torch, device, sizes, flags, timer_for(device, torch=torch))
    return out


def interleaved(contenders: dict[str, Contender], rounds: int, steps: int, warmup: int) -> dict:
    """{contender: {model: [ms per step, one per round]}}: every step function is run `warmup` times,
    then round r times each contender once, starting at contender r mod count, each model over `steps`
    back-to-back steps."""
    for contender in contenders.values():
        for step in contender.steps.values():
            for _ in range(warmup):
                step()
    names = list(contenders)
    times = {name: {model: [] for model in MODELS} for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            for model, step in contenders[name].steps.items():
                times[name][model].append(contenders[name].timer(step, steps))
    return times


def ratios(ms: dict, base: str) -> dict:
    """{minigen contender: {model: its ms / base's ms}}; empty when `base` was not timed."""
    if base not in ms:
        return {}
    return {name: {m: ms[name][m] / ms[base][m] for m in MODELS} for name in ms if name in MINIGEN}


# ----------------------------------------------------------------------------------------------- run

def run_versions(cp, torch) -> dict:
    """bench/kernels.py's versions on cuda (CuPy, CUDA runtime/driver, torch, its CUDA and cuDNN); on cpu
    python, numpy, minigen and torch."""
    if cp is not None:
        return _helpers.versions(cp, torch)
    return {"python": platform.python_version(), "numpy": np.__version__, "minigen": mg.__version__,
            "torch": torch.__version__ if torch is not None else None}


def load_torch(device: str):
    """torch when it is installed (and, for cuda, sees a GPU), else None."""
    if device == "cuda":
        return import_torch()
    try:
        import torch
    except ImportError:
        return None
    return torch


def print_table(result: dict) -> None:
    """Rows: contenders; columns: each model's median ms, then the minigen rows' ratios to torch/torch-fp32."""
    print(f"{result['device']} ({result['gpu'] or 'no GPU'}): median ms per step; rounds {result['rounds']} "
          f"(interleaved), steps {result['steps']} per timing; x torch = minigen ms / torch ms")
    header = f"{'contender':<24} {'dcgan ms':>9} {'pixelcnn ms':>12} {'dcgan x torch':>14} {'x torch-fp32':>13} " \
             f"{'pixelcnn x torch':>17} {'x torch-fp32':>13}"
    print(header)
    print("-" * len(header))

    def ratio(key, name, model):
        value = result[key].get(name, {}).get(model)
        return f"{value:.2f}" if value is not None else "-"
    for name, row in result["ms_per_step"].items():
        print(f"{name:<24} {row['dcgan']:9.2f} {row['pixelcnn']:12.2f} "
              f"{ratio('ratio_to_torch', name, 'dcgan'):>14} {ratio('ratio_to_torch_fp32', name, 'dcgan'):>13} "
              f"{ratio('ratio_to_torch', name, 'pixelcnn'):>17} {ratio('ratio_to_torch_fp32', name, 'pixelcnn'):>13}")


def parse(argv) -> argparse.Namespace:
    """The arguments; --quick defaults to 2 rounds of 1 step, otherwise 7 rounds (at least 5) of 10."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved timing rounds (default 7, at least 5)")
    parser.add_argument("--steps", type=int, default=None, help="back-to-back steps per timing (default 10)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 2 rounds of 1 step (a smoke check)")
    parser.add_argument("--out", type=Path, default=None, help=f"folder for the JSON (default {RESULTS})")
    args = parser.parse_args(argv)
    args.rounds = args.rounds if args.rounds is not None else (2 if args.quick else 7)
    args.steps = args.steps if args.steps is not None else (1 if args.quick else 10)
    if args.rounds < (1 if args.quick else 5) or args.steps < 1:
        parser.error("--rounds must be at least 5 (1 with --quick) and --steps at least 1")
    return args


def main(argv=None) -> dict:
    args = parse(argv)
    if args.device == "cuda" and not mg.cuda.is_available():
        sys.exit("bench/train_step.py: --device cuda but no CUDA GPU is available (mg.cuda.is_available() is "
                 "False); run with --device cpu --quick for a CPU smoke check")
    sizes = dict(batch=2, dcgan_ch=8, pixelcnn_ch=8) if args.quick else dict(batch=64, dcgan_ch=64, pixelcnn_ch=64)
    warmup = 1 if args.quick else 3
    cp = mg.backend.xp_for("cuda") if args.device == "cuda" else None
    torch = load_torch(args.device)
    if torch is None:
        print("PyTorch is not available: only minigen is timed")
    versions = run_versions(cp, torch)  # before any contender touches the torch flags
    contenders = build(args.device, sizes, cp, torch)
    per_round = interleaved(contenders, args.rounds, args.steps, warmup)
    ms = {name: {m: statistics.median(t) for m, t in row.items()} for name, row in per_round.items()}
    result = {"device": args.device, "gpu": gpu_name(cp) if cp is not None else None, "sizes": sizes,
              "rounds": args.rounds, "steps": args.steps, "warmup": warmup, "ms_per_step": ms,
              "ms_per_round": per_round, "ratio_to_torch": ratios(ms, "torch"),
              "ratio_to_torch_fp32": ratios(ms, "torch-fp32"),
              "flags": {name: c.flags for name, c in contenders.items()}, "versions": versions}
    print_table(result)
    out = args.out if args.out is not None else (None if args.quick else RESULTS)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"train_step-{slug(result['gpu']) if result['gpu'] else 'cpu'}.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
