"""The training loop behind `minigen train`: progress bar, checkpoints, exact resume, outputs.

The trainer calls only the model protocol (docs/design.md, "The model protocol"): `loader(split,
batch_size, seed)`, `configure_optimizers()`, `configure_schedulers(optimizers, steps)`,
`train_step(batch, optimizers, step) -> dict of floats` (step: the number of updates before this one), and
`sample(n)` for TensorBoard's images. Resuming restores parameters, optimizer and scheduler state, the data
loader's position and every random generator,
so 10 steps + resume + 10 steps give the same parameters as 20 steps, to the last bit on the CPU.
"""
from __future__ import annotations

import json
import os
import time

import numpy as np

from . import backend
from .serialization import load, save

CHECKPOINT = "checkpoint.npz"


def _text(obj) -> np.ndarray:
    """JSON text stored as a uint8 array (checkpoints never pickle)."""
    return np.frombuffer(json.dumps(obj).encode(), dtype=np.uint8).copy()


def _untext(a) -> object:
    a = a.numpy() if hasattr(a, "numpy") else np.asarray(a)
    return json.loads(a.astype(np.uint8).tobytes().decode())


def _rng_states() -> dict:
    """Bit-generator states of the CPU generator (CuPy's generator has no state to save: on resume the
    GPU's is reseeded from (seed, step), so a GPU run resumes with fresh noise, not bit for bit)."""
    return {"cpu": backend.rng("cpu").bit_generator.state}


def _set_rng_states(states: dict) -> None:
    backend.rng("cpu").bit_generator.state = states["cpu"]


class History:
    """Logged values per name: {name: [(step, value), ...]}."""

    def __init__(self, data: dict | None = None):
        self.data = {k: [tuple(p) for p in v] for k, v in (data or {}).items()}

    def log(self, step: int, values: dict) -> None:
        for k, v in values.items():
            self.data.setdefault(k, []).append((step, float(v)))

    def last(self, k: int = 1) -> dict:
        """Mean of the last k values of each series."""
        return {name: float(np.mean([v for _, v in pts[-k:]])) for name, pts in self.data.items() if pts}


def _infinite(loader):
    while True:
        yielded = False
        for batch in loader:
            yielded = True
            yield batch
        if not yielded:
            raise ValueError("the data loader produced no batch (is the batch size larger than the data set "
                             "with drop_last=True?)")


def _to(batch, device: str):
    if isinstance(batch, (tuple, list)):
        return tuple(b.to(device) for b in batch)
    return batch.to(device)


def train(model, steps: int, out: str, batch_size: int | None = None, seed: int = 0, device: str = "cpu",
          resume: bool = False, checkpoint_every: int = 500, progress: bool = True,
          tensorboard: bool = False) -> History:
    """Train `model` for `steps` optimizer steps (counting from 0, or from the checkpoint when resuming)."""
    os.makedirs(out, exist_ok=True)
    backend.manual_seed(seed)
    model.to(device)
    optimizers = model.configure_optimizers()
    schedulers = model.configure_schedulers(optimizers, steps)
    loader = model.loader("train", batch_size=batch_size, seed=seed)
    history, step = History(), 0
    path = os.path.join(out, CHECKPOINT)
    if resume:
        if not os.path.exists(path):
            raise FileNotFoundError(f"--resume: no checkpoint at {path}")
        ckpt = load(path)
        model.load_state_dict(ckpt["model"])
        model.to(device)
        for k, opt in enumerate(optimizers):
            opt.load_state_dict(ckpt["optimizers"][str(k)])
        for scheduler, state in zip(schedulers, _untext(ckpt["schedulers"]) if "schedulers" in ckpt else []):
            scheduler.load_state_dict(state)
        loader.load_state_dict(ckpt["loader"])
        _set_rng_states(_untext(ckpt["rng"]))
        history = History(_untext(ckpt["history"]))
        step = int(_untext(ckpt["step"]))
        if device != "cpu":  # not a replay of the noise of steps 0, 1, ...
            backend.reseed(device, int(np.random.SeedSequence([seed, step]).generate_state(1)[0]))
    writer = _tensorboard_writer(out) if tensorboard else None
    bar = _progress_bar(steps, step, model, progress)
    batches = _infinite(loader)
    started = time.perf_counter()
    model.train()
    while step < steps:
        logs = model.train_step(_to(next(batches), device), optimizers, step)
        for scheduler in schedulers:
            scheduler.step()
        step += 1
        history.log(step, logs)
        if writer is not None:
            for k, v in logs.items():
                writer.add_scalar(k, v, step)
        if bar is not None:
            bar.update(1)
            if step % 10 == 0 or step == steps:
                bar.set_postfix({k: f"{v:.4g}" for k, v in history.last(10).items()})
        if step % checkpoint_every == 0 or step == steps:
            _save_checkpoint(path, model, optimizers, schedulers, loader, history, step)
    if bar is not None:
        bar.close()
    history.seconds = time.perf_counter() - started
    if writer is not None:
        _log_samples(writer, model, step)
        writer.close()
    return history


def _save_checkpoint(path, model, optimizers, schedulers, loader, history, step) -> None:
    save({"model": model.state_dict(),
          "optimizers": {str(k): opt.state_dict() for k, opt in enumerate(optimizers)},
          "schedulers": _text([scheduler.state_dict() for scheduler in schedulers]),
          "loader": loader.state_dict(), "rng": _text(_rng_states()), "history": _text(history.data),
          "step": _text(step)}, path)


def load_model(model, out: str, device: str = "cpu"):
    """Load the parameters of the checkpoint in `out` into `model`."""
    path = os.path.join(out, CHECKPOINT)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path} (train first: minigen train NAME --out {out})")
    model.load_state_dict(load(path)["model"])
    return model.to(device)


def _progress_bar(steps: int, initial: int, model, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=steps, initial=initial, desc=model.name,
                unit="step", dynamic_ncols=True)


def _log_samples(writer, model, step: int) -> None:
    """A grid of 64 samples as a TensorBoard image (image models only)."""
    from .viz import image_grid

    with model.evaluating():
        samples = model.sample(64, np.arange(64) % 10 if model.conditional else None)
    if samples.ndim == 4:
        writer.add_image("samples", image_grid(samples, value_range=model.value_range),
                         step, dataformats="HW" if samples.shape[1] == 1 else "HWC")


def _tensorboard_writer(out: str):
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError("--tensorboard needs tensorboardX: pip install 'minigen[tensorboard]'") from None
    return SummaryWriter(os.path.join(out, "tensorboard"))
