"""Benchmark each hand-written CUDA kernel against the plain CuPy composition and PyTorch.

    python bench/kernels.py [--rounds 15] [--reps 10] [--out bench/results]

For every kernel (the forward of the fused op; the whole update for Adam) it prints, side by side, the
kernel's time, the same math as plain CuPy array operations (what the engine runs without the kernel),
and the PyTorch equivalent, then the kernel's achieved bandwidth (the bytes the op must at least move /
its time) and that as a fraction of the GPU's peak. Times come from CUDA events after a warm-up: each
round times every variant once (in a rotating order, so that clocks and caches drift evenly) over `reps`
back-to-back calls, and the table reports the median over rounds. The convolutions (CuPy has no cuDNN)
compare the implicit-GEMM kernels with the im2col/col2im kernels + cuBLAS (the "cupy" column) and with
cuDNN through PyTorch, both in its default (TF32) and strict-FP32 modes, and add TFLOP/s. Writes
bench/results/kernels-<gpu>.json in the format of docs/design.md (section 2) (extra keys: ms_torch_fused, ms_torch_fp32, tflops). Needs a CUDA GPU (exits with a message otherwise);
PyTorch is optional (its column is then null).
"""
from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen.kernels import adam, bias_act, im2col, implicit_gemm, masked_conv2d, maxout, spectral_norm

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Case:
    """One kernel's benchmark: the three implementations of one op and the bytes it must move."""

    name: str
    shape: str
    bytes: int
    kernel: Callable
    cupy: Callable
    torch: Callable | None = None
    torch_fused: Callable | None = None
    torch_fp32: Callable | None = None  # convolutions: PyTorch with TF32 off (its default uses TF32)
    flops: int = 0  # convolutions: multiply-adds x 2, for TFLOP/s


def require_gpu(script: str):
    """CuPy, or exit with a message when no GPU can be used."""
    if not mg.cuda.is_available():
        sys.exit(f"{script}: no CUDA GPU available (mg.cuda.is_available() is False: CuPy is not installed "
                 "or sees no device); nothing was measured")
    return mg.backend.xp_for("cuda")


def import_torch():
    """torch when it is installed and sees a GPU, else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def gpu_name(cp) -> str:
    name = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def peak_gbps(cp) -> float | None:
    """Theoretical DRAM bandwidth: 2 (double data rate) * memory clock * bus width."""
    try:
        dev = cp.cuda.Device().id
        clock_khz = cp.cuda.runtime.deviceGetAttribute(cp.cuda.runtime.cudaDevAttrMemoryClockRate, dev)
        bus_bits = cp.cuda.runtime.deviceGetAttribute(cp.cuda.runtime.cudaDevAttrGlobalMemoryBusWidth, dev)
    except Exception:
        return None
    return 2 * clock_khz * 1e3 * bus_bits / 8 / 1e9 if clock_khz and bus_bits else None


def versions(cp, torch) -> dict:
    out = {"python": platform.python_version(), "numpy": np.__version__, "minigen": mg.__version__,
           "cupy": cp.__version__, "cuda_runtime": cp.cuda.runtime.runtimeGetVersion(),
           "cuda_driver": cp.cuda.runtime.driverGetVersion()}
    if torch is not None:
        out.update(torch=torch.__version__, torch_cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                   torch_flags={"cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
                                "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
                                "cudnn.benchmark": torch.backends.cudnn.benchmark})
    return out


# -------------------------------------------------------------------------------------------- timing

def cupy_timer(cp) -> Callable:
    def measure(fn: Callable, reps: int) -> float:
        start, end = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        for _ in range(reps):
            fn()
        end.record()
        end.synchronize()
        return cp.cuda.get_elapsed_time(start, end) / reps
    return measure


def torch_timer(torch) -> Callable:
    def measure(fn: Callable, reps: int) -> float:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / reps
    return measure


def median_ms(variants: dict, rounds: int, reps: int, warmup: int = 3) -> dict:
    """{name: median ms per call} over `rounds` interleaved rounds; variants: {name: (fn, timer)}."""
    for fn, _ in variants.values():
        for _ in range(warmup):
            fn()
    names = list(variants)
    times: dict = {n: [] for n in names}
    for r in range(rounds):
        for n in names[r % len(names):] + names[:r % len(names)]:
            fn, timer = variants[n]
            times[n].append(timer(fn, reps))
    return {n: statistics.median(t) for n, t in times.items()}


# --------------------------------------------------------------------------------------------- cases

def cases(cp, torch) -> list[Case]:
    """The five kernels on shapes from the models that use them, then the convolutions."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    nbytes = np.dtype(f32).itemsize

    def both(shape, scale=1.0):
        a = (rng.standard_normal(shape) * scale).astype(f32)
        return cp.asarray(a), (torch.as_tensor(a, device="cuda") if torch is not None else None)

    out = []

    # masked_conv2d: a PixelCNN layer (mask B, 3x3, 64 -> 64 channels, 28x28, batch 64)
    (x, xt), (w, wt), (b, bt) = both((64, 64, 28, 28)), both((64, 64, 3, 3), 0.05), both((64,))
    mask = masked_conv2d.pixelcnn_mask(3, 3, "B")
    pad = masked_conv2d.same_padding(3, 3)
    mask_c, taps = cp.asarray(mask), int(mask.sum())
    xm, wm, bm = (mg.Tensor(a) for a in (x, w, b))

    def composed_conv():
        with mg.no_grad():
            return F.conv2d(xm, wm * mg.Tensor(mask_c), bm, padding=1)
    masked_t = torch.as_tensor(mask, device="cuda") if torch is not None else None
    out.append(Case("masked_conv2d", "x (64, 64, 28, 28), w (64, 64, 3, 3), mask B",
                    (x.size + 64 * 64 * taps + 64 + x.size) * nbytes,
                    lambda: masked_conv2d.cuda_masked_conv2d(x, w, b, "B", pad), composed_conv,
                    (lambda: torch.nn.functional.conv2d(xt, wt * masked_t, bt, padding=1)) if torch else None))

    # maxout: 4 pieces over 1024 channels of 16x16 maps, batch 128 (argmax kept, int8)
    x, xt = both((128, 1024, 16, 16))

    def composed_maxout():
        xr = x.reshape(128, 256, 4, 16, 16)
        return xr.max(axis=2), xr.argmax(axis=2).astype(cp.int8)
    out.append(Case("maxout", "x (128, 1024, 16, 16), 4 pieces", x.size * nbytes * 5 // 4 + x.size // 4,
                    lambda: maxout.cuda_maxout(x, 4, 1), composed_maxout,
                    (lambda: xt.view(128, 256, 4, 16, 16).max(dim=2)) if torch else None))

    # spectral_norm: an SN-GAN discriminator weight (512, 512, 3, 3), one power iteration
    (w, wt), (u, ut), (v, _) = both((512, 512, 3, 3), 0.05), both((512,)), both((4608,))

    def composed_sn():
        mat = w.reshape(512, -1)
        v2 = mat.T @ u
        v2 /= cp.maximum(cp.linalg.norm(v2), 1e-12)
        u2 = mat @ v2
        u2 /= cp.maximum(cp.linalg.norm(u2), 1e-12)
        return w / (u2 @ (mat @ v2)), u2, v2

    def torch_sn():
        mat = wt.reshape(512, -1)
        v2 = torch.nn.functional.normalize(torch.mv(mat.t(), ut), dim=0, eps=1e-12)
        u2 = torch.nn.functional.normalize(torch.mv(mat, v2), dim=0, eps=1e-12)
        return wt / torch.dot(u2, torch.mv(mat, v2)), u2, v2
    out.append(Case("spectral_norm", "W (512, 512, 3, 3), 1 power iteration", 4 * w.size * nbytes,
                    lambda: spectral_norm.cuda_spectral_norm(w, u, v, 1), composed_sn, torch_sn if torch else None))

    # bias_act: leaky_relu(x + b) over the channels of a DCGAN feature map
    (x, xt), (b, bt) = both((64, 256, 32, 32)), both((256,))
    out.append(Case("bias_act", "x (64, 256, 32, 32), leaky_relu 0.2", (2 * x.size + 256) * nbytes,
                    lambda: bias_act.cuda_bias_act(x, b, "leaky_relu", 0.2, 1),
                    lambda: (lambda z: cp.where(z > 0, z, z * f32(0.2)))(x + b[:, None, None]),
                    (lambda: torch.nn.functional.leaky_relu(xt + bt.view(1, -1, 1, 1), 0.2)) if torch else None))

    # adam: the parameters of a DCGAN generator and discriminator (64 base channels)
    shapes = [(100, 512, 4, 4), (512,), (512,), (512, 256, 4, 4), (256,), (256,), (256, 128, 4, 4), (128,), (128,),
              (128, 3, 4, 4), (64, 3, 4, 4), (128, 64, 4, 4), (128,), (128,), (256, 128, 4, 4), (256,), (256,),
              (1, 256, 4, 4)]
    groups = [[both(s) for s in shapes] for _ in range(2)]
    params, grads = [g[0] for g in groups[0]], [g[0] for g in groups[1]]
    m, v2 = [cp.zeros_like(p) for p in params], [cp.zeros_like(p) for p in params]
    count = sum(p.size for p in params)
    state = {"t": 0}

    def kernel_adam():
        state["t"] += 1
        adam.cuda_adam_step(params, grads, m, v2, state["t"], lr=2e-4, betas=(0.5, 0.999))

    def composed_adam():
        state["t"] += 1
        t = state["t"]
        for p, g, mi, vi in zip(params, grads, m, v2):
            mi *= 0.5
            mi += 0.5 * g
            vi *= 0.999
            vi += 0.001 * (g * g)
            denom = cp.sqrt(vi)
            denom /= (1 - 0.999 ** t) ** 0.5
            denom += 1e-8
            p -= (2e-4 / (1 - 0.5 ** t)) * (mi / denom)

    torch_step = torch_fused = None
    if torch is not None:
        def make_torch(fused):
            ps = [torch.nn.Parameter(g[1].clone()) for g in groups[0]]
            for p, g in zip(ps, groups[1]):
                p.grad = g[1]
            return torch.optim.Adam(ps, lr=2e-4, betas=(0.5, 0.999), fused=fused).step
        torch_step, torch_fused = make_torch(None), make_torch(True)
    out.append(Case("adam", f"{len(shapes)} DCGAN parameters, {count} elements", 7 * count * nbytes,
                    kernel_adam, composed_adam, torch_step, torch_fused))
    return out + conv_cases(cp, torch, both)


def conv_cases(cp, torch, both) -> list[Case]:
    """Convolution on the GPU (CuPy has no cuDNN): the implicit-GEMM kernels against the im2col/col2im
    kernels + cuBLAS (the "cupy" column here) and cuDNN through PyTorch, with and without TF32."""
    out = []
    one = (1, 1)
    for name, (n, c, o, size, k) in {"conv2d": (64, 64, 64, 28, 3), "conv2d_7x7": (64, 32, 32, 28, 7)}.items():
        (x, xt), (w, wt), (b, bt) = both((n, c, size, size)), both((o, c, k, k), 0.05), both((o,))
        pad, out_size = (k // 2, k // 2), (size, size)

        def by_im2col(x=x, w=w, b=b, k=k, pad=pad, out_size=out_size, size=size):
            cols = im2col.cuda_im2col(x, (k, k), one, pad, one, out_size).reshape(x.shape[0], -1, size * size)
            return (w.reshape(1, w.shape[0], -1) @ cols).reshape(x.shape[0], -1, size, size) + b[:, None, None]

        def torch_conv(xt=xt, wt=wt, bt=bt, k=k):
            return torch.nn.functional.conv2d(xt, wt, bt, padding=k // 2)
        out.append(Case(name, f"x ({n}, {c}, {size}, {size}), w ({o}, {c}, {k}, {k}), same padding",
                        (x.size + w.size + n * o * size * size) * x.itemsize,
                        lambda x=x, w=w, b=b, pad=pad, out_size=out_size:
                            implicit_gemm.cuda_conv2d(x, w, b, one, pad, one, 1, out_size),
                        by_im2col, torch_conv if torch else None, torch_fp32=fp32(torch, torch_conv),
                        flops=2 * n * o * size * size * c * k * k))
    n, c, o, size, k = 64, 64, 64, 28, 3
    (x, xt), (w, wt), (gy, gyt) = both((n, c, size, size)), both((o, c, k, k), 0.05), both((n, o, size, size))
    flops = 2 * n * o * size * size * c * k * k

    def grad_weight_by_im2col():
        cols = im2col.cuda_im2col(x, (k, k), one, one, one, (size, size)).reshape(n, -1, size * size)
        return (gy.reshape(n, o, -1) @ cols.swapaxes(1, 2)).sum(axis=0).reshape(o, c, k, k)

    def grad_input_by_col2im():
        cols = (w.reshape(o, -1).T @ gy.reshape(n, o, -1)).reshape(n, c, k, k, size, size)
        return im2col.cuda_col2im(cols, (size, size), one, one, one)

    def torch_grad_weight():
        return torch.nn.grad.conv2d_weight(xt, (o, c, k, k), gyt, padding=1)

    def torch_grad_input():
        return torch.nn.grad.conv2d_input((n, c, size, size), wt, gyt, padding=1)
    shape = f"x ({n}, {c}, {size}, {size}), w ({o}, {c}, {k}, {k}), padding 1"
    out.append(Case("conv2d_grad_weight", shape, (x.size + gy.size + w.size) * x.itemsize,
                    lambda: implicit_gemm.cuda_conv2d_grad_weight(x, gy, (k, k), one, one, one, 1),
                    grad_weight_by_im2col, torch_grad_weight if torch else None,
                    torch_fp32=fp32(torch, torch_grad_weight), flops=flops))
    out.append(Case("conv2d_grad_input", shape, (x.size + gy.size + w.size) * x.itemsize,
                    lambda: implicit_gemm.cuda_conv_transpose2d(gy, w, one, one, one, 1, (size, size)),
                    grad_input_by_col2im, torch_grad_input if torch else None,
                    torch_fp32=fp32(torch, torch_grad_input), flops=flops))

    # a DCGAN generator layer: conv_transpose2d 256 -> 128 channels, 8x8 -> 16x16, kernel 4, stride 2
    (x, xt), (w, wt) = both((64, 256, 8, 8)), both((256, 128, 4, 4), 0.05)
    two = (2, 2)

    def transpose_by_col2im():
        cols = (w.reshape(256, -1).T @ x.reshape(64, 256, -1)).reshape(64, 128, 4, 4, 8, 8)
        return im2col.cuda_col2im(cols, (16, 16), two, one, one)

    def torch_transpose():
        return torch.nn.functional.conv_transpose2d(xt, wt, stride=2, padding=1)
    out.append(Case("conv_transpose2d", "x (64, 256, 8, 8), w (256, 128, 4, 4), stride 2, padding 1",
                    (x.size + w.size + 64 * 128 * 16 * 16) * x.itemsize,
                    lambda: implicit_gemm.cuda_conv_transpose2d(x, w, two, one, one, 1, (16, 16)),
                    transpose_by_col2im, torch_transpose if torch else None,
                    torch_fp32=fp32(torch, torch_transpose), flops=2 * 64 * 256 * 8 * 8 * 128 * 16))
    return out


def fp32(torch, fn: Callable | None) -> Callable | None:
    """fn with cuDNN's TF32 off (PyTorch's strict-FP32 convolution)."""
    if torch is None or fn is None:
        return None

    def strict():
        with torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=False, allow_tf32=False):
            return fn()
    return strict


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved timing rounds (median reported)")
    parser.add_argument("--reps", type=int, default=10, help="back-to-back calls per timing")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for kernels-<gpu>.json")
    args = parser.parse_args(argv)
    import minigen.kernels

    minigen.kernels.enabled = False  # the kernels are called directly; compositions must stay plain CuPy
    cp = require_gpu("bench/kernels.py")
    torch = import_torch()
    if torch is None:
        print("PyTorch with CUDA is not available: the torch column stays empty")
    gpu, peak = gpu_name(cp), peak_gbps(cp)
    print(f"{gpu}: peak DRAM bandwidth {peak:.0f} GB/s" if peak else f"{gpu}: peak bandwidth unknown")
    header = f"{'kernel':<19} {'ms':>8} {'cupy ms':>8} {'torch ms':>9} {'x cupy':>7} {'x torch':>8} {'GB/s':>7} " \
             f"{'% peak':>7}  shape"
    print(header)
    print("-" * len(header))
    result = {"gpu": gpu, "versions": versions(cp, torch), "kernels": {}}
    ctimer, ttimer = cupy_timer(cp), (torch_timer(torch) if torch is not None else None)
    for case in cases(cp, torch):
        variants = {"ms": (case.kernel, ctimer), "ms_cupy": (case.cupy, ctimer)}
        if case.torch is not None:
            variants["ms_torch"] = (case.torch, ttimer)
        if case.torch_fused is not None:
            variants["ms_torch_fused"] = (case.torch_fused, ttimer)
        if case.torch_fp32 is not None:
            variants["ms_torch_fp32"] = (case.torch_fp32, ttimer)
        ms = median_ms(variants, args.rounds, args.reps)
        gbps = case.bytes / (ms["ms"] * 1e-3) / 1e9
        entry = {"shape": case.shape, "ms": ms["ms"], "ms_cupy": ms["ms_cupy"], "ms_torch": ms.get("ms_torch"),
                 "gbps": gbps, "peak_fraction": gbps / peak if peak else None}
        for extra in ("ms_torch_fused", "ms_torch_fp32"):
            if extra in ms:
                entry[extra] = ms[extra]
        if case.flops:
            entry["tflops"] = case.flops / (ms["ms"] * 1e-3) / 1e12
        result["kernels"][case.name] = entry
        t = ms.get("ms_torch")
        conv = f"; {entry['tflops']:.2f} TFLOP/s" if case.flops else ""
        if "ms_torch_fp32" in ms:
            conv += f", torch strict FP32 {ms['ms_torch_fp32']:.3f} ms"
        print(f"{case.name:<19} {ms['ms']:8.3f} {ms['ms_cupy']:8.3f} {t if t else float('nan'):9.3f} "
              f"{ms['ms_cupy'] / ms['ms']:7.2f} {(t / ms['ms']) if t else float('nan'):8.2f} {gbps:7.1f} "
              f"{100 * gbps / peak if peak else float('nan'):7.1f}  {case.shape}{conv}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"kernels-{slug(gpu)}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
