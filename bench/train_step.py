"""Time one training step of two models in minigen and in PyTorch.

    python bench/train_step.py --device cuda [--steps 20] [--out bench/results]
    python bench/train_step.py --device cpu --quick          # a smoke check with tiny sizes

- DCGAN on 32x32 RGB, batch 64: a discriminator step (real and fake, BCE with logits) and a generator
  step, Adam(2e-4, betas (0.5, 0.999)); 64 base channels, BatchNorm, LeakyReLU 0.2.
- PixelCNN on 28x28 binary images, batch 64: a 7x7 mask-A layer and six 3x3 mask-B layers of 64 channels
  (7 masked layers), ReLU, a 1x1 output convolution, BCE with logits, Adam(1e-3).

Variants: "minigen" (nn layers and optim.Adam as they are), "minigen+kernels" (the PixelCNN's masked
convolutions through minigen.kernels.masked_conv2d and every Adam update through the multi-tensor kernel;
on the CPU these run the kernels' NumPy references), "torch" (PyTorch's defaults: TF32 as its flags say)
and "torch-fp32" (TF32 off for cuDNN and matmul). The same module tree is built from minigen.nn and
torch.nn. A step's time is the median over `--steps` synchronised steps after warm-up. Writes
bench/results/train_step-<gpu>.json with the flags and versions (not with --quick unless --out is given).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import minigen as mg
import minigen.kernels
import minigen.functional as F
from minigen import nn, optim
from minigen.kernels.adam import adam_step
from minigen.kernels.masked_conv2d import masked_conv2d

RESULTS = Path(__file__).resolve().parent / "results"


def _bench_kernels():
    """bench/kernels.py as a module (for its GPU-name and torch helpers), loaded by path."""
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


class KernelMaskedConv2d(nn.MaskedConv2d):
    """nn.MaskedConv2d whose forward runs the fused kernel (taps outside the mask are skipped)."""

    def forward(self, x):
        return masked_conv2d(x, self.weight, self.bias, self.mask_type, self.padding)


class KernelAdam:
    """Adam through minigen.kernels.adam_step: one multi-tensor launch for all parameters."""

    def __init__(self, params, lr: float, betas: tuple[float, float]):
        self.params, self.lr, self.betas, self.t = list(params), lr, betas, 0
        xp = mg.backend.array_module(self.params[0].data)
        self.m = [xp.zeros_like(p.data) for p in self.params]
        self.v = [xp.zeros_like(p.data) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        self.t += 1
        live = [k for k, p in enumerate(self.params) if p.grad is not None]
        adam_step([self.params[k].data for k in live], [self.params[k].grad.data for k in live],
                  [self.m[k] for k in live], [self.v[k] for k in live], self.t, self.lr, self.betas)


# ------------------------------------------------------------------------------------- frameworks

def minigen_steps(device: str, sizes: dict, kernels: bool) -> dict:
    """{model: step function} in minigen."""
    mg.manual_seed(0)
    rng = np.random.default_rng(0)
    adam = (lambda ps, lr, betas: KernelAdam(ps, lr, betas)) if kernels else \
        (lambda ps, lr, betas: optim.Adam(ps, lr=lr, betas=betas))
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

    masked = KernelMaskedConv2d if kernels else nn.MaskedConv2d
    net = pixelcnn(nn, masked, sizes["pixelcnn_ch"]).to(device)
    opt = adam(net.parameters(), 1e-3, (0.9, 0.999))
    x = mg.tensor((rng.random((b, 1, 28, 28)) < 0.5).astype(np.float32), device=device)

    def pixelcnn_step():
        loss = F.binary_cross_entropy_with_logits(net(x), x)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def with_kernels(step):
        """Run `step` with minigen's fused kernels switched on or off (the variants are interleaved)."""
        def run():
            minigen.kernels.enabled = kernels
            step()
        return run

    return {"dcgan": with_kernels(dcgan_step), "pixelcnn": with_kernels(pixelcnn_step)}


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


def time_steps(step, sync, steps: int, warmup: int) -> float:
    """Median milliseconds of a synchronised step."""
    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 2 steps (a smoke check)")
    parser.add_argument("--out", type=Path, default=None, help=f"folder for the JSON (default {RESULTS})")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not mg.cuda.is_available():
        sys.exit("bench/train_step.py: --device cuda but no CUDA GPU is available (mg.cuda.is_available() is "
                 "False); run with --device cpu --quick for a CPU smoke check")
    sizes = dict(batch=2, dcgan_ch=8, pixelcnn_ch=8) if args.quick else dict(batch=64, dcgan_ch=64, pixelcnn_ch=64)
    steps, warmup = (2, 1) if args.quick else (args.steps, 3)
    cp = mg.backend.xp_for("cuda") if args.device == "cuda" else None
    mg_sync = cp.cuda.Device().synchronize if cp is not None else (lambda: None)

    variants = {"minigen": (minigen_steps(args.device, sizes, kernels=False), mg_sync),
                "minigen+kernels": (minigen_steps(args.device, sizes, kernels=True), mg_sync)}
    torch = import_torch() if args.device == "cuda" else _torch_cpu()
    flags = {}
    if torch is None:
        print("PyTorch is not available: only minigen is timed")
    result = {"device": args.device, "gpu": gpu_name(cp) if cp is not None else None, "sizes": sizes,
              "versions": {"python": platform.python_version(), "numpy": np.__version__, "minigen": mg.__version__,
                           "cupy": cp.__version__ if cp is not None else None,
                           "torch": torch.__version__ if torch is not None else None},
              "flags": flags, "ms_per_step": {}}
    for name, (model_steps, sync) in variants.items():
        result["ms_per_step"][name] = {m: time_steps(s, sync, steps, warmup) for m, s in model_steps.items()}
    if torch is not None:
        tsync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
        if args.device == "cuda":
            result["versions"].update(torch_cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
        for name, tf32 in (("torch", None), ("torch-fp32", False)):
            if tf32 is not None:
                torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
            flags[name] = {"cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
                           "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
                           "cudnn.benchmark": torch.backends.cudnn.benchmark}
            model_steps = torch_steps(torch, args.device, sizes)
            result["ms_per_step"][name] = {m: time_steps(s, tsync, steps, warmup) for m, s in model_steps.items()}
    print(f"{'variant':<16} {'dcgan ms':>10} {'pixelcnn ms':>12}")
    for name, row in result["ms_per_step"].items():
        print(f"{name:<16} {row['dcgan']:10.2f} {row['pixelcnn']:12.2f}")
    out = args.out if args.out is not None else (None if args.quick else RESULTS)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"train_step-{slug(result['gpu']) if result['gpu'] else 'cpu'}.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {path}")
    return result


def _torch_cpu():
    try:
        import torch
    except ImportError:
        return None
    return torch


if __name__ == "__main__":
    main()
