"""The training loop behind `minigen train`: progress bar, checkpoints, exact resume, Ctrl-C, evaluation.

The trainer calls only the model protocol (docs/design.md, "The model protocol"): `loader(split,
batch_size, seed)`, `configure_optimizers()`, `configure_schedulers(optimizers, steps)`,
`configure_averaging()`, `train_step(batch, optimizers, step) -> dict of floats` (step: the number of updates
before this one), `metrics(split)`, and `sample(n)` for TensorBoard's images. Resuming restores parameters,
optimizer and scheduler state, the weight averages, the data loader's position and every random generator,
so 10 steps + resume + 10 steps give the same parameters as 20 steps, to the last bit on the CPU.

Weight averaging: when `configure_averaging()` returns an optim.swa_utils.AveragedModel (an EMA of the
weights, or SWA), it is updated after every step (after the schedulers), the checkpoint keeps it beside the
trained weights ("averaged"), and the run's result is the averaged model: when training completes, its
weights are loaded into the model (after the last checkpoint, which keeps the trained weights for
resuming), and `load_model` loads the averages, so metrics.json, `minigen eval` and `minigen sample` all
measure the averaged weights. Running the same Training further goes on from the trained weights.

A run is prepared in memory first (`Training(...)`: model on its device, optimizers, loader, the checkpoint
when resuming, the first batch), and nothing is written until its first step has completed (`run`'s
`on_start` is called then), so a run that fails to start leaves its folder as it was. Ctrl-C is taken
between two steps: the checkpoint is saved at the step reached and `Interrupted` (a KeyboardInterrupt)
is raised; a second Ctrl-C stops at once without saving.
"""
from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import threading
import time

import numpy as np

from . import backend
from .serialization import load, save

CHECKPOINT = "checkpoint.npz"
EVAL_SEED = 0  # the seed of every evaluation: metrics.json at the end of training and `minigen eval`


class Interrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C after `step` of `steps` steps; `saved` tells whether the checkpoint at
    `path` holds that step (else it holds `checkpoint_step`, or there is none when that is None)."""

    def __init__(self, step: int, steps: int, path: str, saved: bool, checkpoint_step: int | None):
        super().__init__(step)
        self.step, self.steps, self.path = step, steps, path
        self.saved, self.checkpoint_step = saved, checkpoint_step


class CheckpointMismatch(ValueError):
    """A checkpoint that does not fit the model it is loaded into (another model, other options)."""


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


def _load_into(module, state, path: str, what: str) -> None:
    """module.load_state_dict(state), its multi-line error turned into one CheckpointMismatch line."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError) as e:
        detail = "; ".join(line.strip() for line in str(e).splitlines()[1:] or [str(e)])
        raise CheckpointMismatch(f"{path} does not fit this {what} (another model or other options?): "
                                 f"{detail}") from None


class Training:
    """One run prepared in memory: `Training(model, steps, out, ...)` then `run()`. Nothing is written before
    the first step completes; `step` is where the run stands (the checkpoint's step when resuming)."""

    def __init__(self, model, steps: int, out: str, batch_size: int | None = None, seed: int = 0,
                 device: str = "cpu", resume: bool = False, checkpoint_every: int = 500, parallel=None):
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"train: steps must be a positive number of optimizer steps, got {steps!r}")
        self.model, self.steps, self.out, self.seed, self.device = model, int(steps), out, seed, device
        self.checkpoint_every, self.parallel = checkpoint_every, parallel  # parallel: distributed.DataParallel
        self.is_root = parallel is None or parallel.is_root
        self.path = os.path.join(out, CHECKPOINT)
        backend.manual_seed(seed)
        model.to(device)
        configure_averaging = getattr(model, "configure_averaging", None)  # models outside the protocol: none
        self.averaged = configure_averaging() if configure_averaging is not None else None  # before any hooks
        if parallel is not None:
            parallel.prepare(model)
        self.optimizers = model.configure_optimizers()
        self.schedulers = model.configure_schedulers(self.optimizers, self.steps)
        self.loader = model.loader("train", batch_size=batch_size, seed=seed)
        self.history, self.step, self.checkpoint_step, self.started = History(), 0, None, False
        self.trained = None  # the trained weights while the model holds the averages (after run())
        if resume and self.is_root:
            self._restore()
        if parallel is not None:
            parallel.share_state(self)  # every rank starts from rank 0's state (its checkpoint when resuming)
            self.checkpoint_step = self.step if resume else None
        if resume:
            if self.steps < self.step:
                raise ValueError(f"train: the checkpoint in {out} is at step {self.step}, beyond the {self.steps} "
                                 "steps asked for")
        self.batches = _infinite(self.loader)
        self.first_batch = next(self.batches) if self.step < self.steps else None

    def _restore(self) -> None:
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"resume: no checkpoint at {self.path}")
        self.load_state_dict(load(self.path), self.path)
        self.checkpoint_step = self.step

    def load_state_dict(self, ckpt: dict, source: str) -> None:
        """Restore what `state_dict()` returned (a checkpoint's content; `source` names it in errors)."""
        missing = {"model", "optimizers", "loader", "rng", "history", "step"} - set(ckpt)
        if missing:
            raise CheckpointMismatch(f"{source} is not a minigen training checkpoint (no {sorted(missing)})")
        _load_into(self.model, ckpt["model"], source, self.model.name)
        self.model.to(self.device)
        if len(ckpt["optimizers"]) != len(self.optimizers):
            raise CheckpointMismatch(f"{source} holds {len(ckpt['optimizers'])} optimizer(s), "
                                     f"{self.model.name} has {len(self.optimizers)}")
        for k, opt in enumerate(self.optimizers):
            _load_into(opt, ckpt["optimizers"][str(k)], source, f"{self.model.name}'s optimizer {k}")
        saved_schedulers = _untext(ckpt["schedulers"]) if "schedulers" in ckpt else []
        for scheduler, state in zip(self.schedulers, saved_schedulers):
            scheduler.load_state_dict(state)
        if self.averaged is not None:
            if "averaged" not in ckpt:
                raise CheckpointMismatch(f"{source} holds no weight averages, but {self.model.name} keeps them "
                                         "(a run made with other options?)")
            _load_into(self.averaged, ckpt["averaged"], source, f"{self.model.name}'s weight averages")
        _load_into(self.loader, ckpt["loader"], source, f"{self.model.name}'s data loader")
        _set_rng_states(_untext(ckpt["rng"]))
        self.history = History(_untext(ckpt["history"]))
        self.step = int(_untext(ckpt["step"]))
        if self.device != "cpu" and self.step > 0:  # not a replay of the noise of steps 0, 1, ...
            backend.reseed(self.device, int(np.random.SeedSequence([self.seed, self.step]).generate_state(1)[0]))

    def state_dict(self) -> dict:
        """What a checkpoint holds: parameters, optimizer and scheduler state, the weight averages (when the
        model keeps them), loader position, random generators, history and step."""
        averaged = {} if self.averaged is None else {"averaged": self.averaged.state_dict()}
        return {"model": self.model.state_dict(), **averaged,
                "optimizers": {str(k): opt.state_dict() for k, opt in enumerate(self.optimizers)},
                "schedulers": _text([scheduler.state_dict() for scheduler in self.schedulers]),
                "loader": self.loader.state_dict(), "rng": _text(_rng_states()),
                "history": _text(self.history.data), "step": _text(self.step)}

    def save_checkpoint(self) -> None:
        """Write the checkpoint (data-parallel: buffers from rank 0, ranks checked to agree, rank 0 writes)."""
        if self.parallel is not None:
            self.parallel.before_checkpoint(self.model, self.step)
        if self.is_root:
            save(self.state_dict(), self.path)
        self.checkpoint_step = self.step

    def run(self, progress: bool = True, tensorboard: bool = False, on_start=None) -> History:
        """Train up to `steps`; `on_start()` runs once, after the first step and before anything is written
        (the run folder is created then). Ctrl-C saves the checkpoint and raises Interrupted."""
        if tensorboard:
            _tensorboard_class()  # a missing tensorboardX fails the start, not the first step
        model, writer, parallel = self.model, None, self.parallel
        if self.trained is not None:  # a second run() goes on from the trained weights, not the averages
            model.load_state_dict(self.trained)
            self.trained = None
        bar = _progress_bar(self.steps, self.step, model, progress and self.is_root)
        t0 = time.perf_counter()
        model.train()
        try:
            with _deferred_interrupt() as interrupt:
                try:
                    while self.step < self.steps:
                        batch = next(self.batches) if self.first_batch is None else self.first_batch
                        self.first_batch = None
                        if parallel is None:
                            logs = model.train_step(_to(batch, self.device), self.optimizers, self.step)
                        else:
                            with parallel.step(self.step):
                                logs = model.train_step(parallel.shard(_to(batch, self.device), self.step),
                                                        self.optimizers, self.step)
                            logs, interrupt.hit = parallel.reduce_logs(logs, interrupt.hit)
                        for scheduler in self.schedulers:
                            scheduler.step()
                        if self.averaged is not None:
                            self.averaged.update_parameters(model)
                        self.step += 1
                        if parallel is not None and not self.started:
                            parallel.after_first_step(model)
                        if not self.started:
                            self.started = True
                            if self.is_root:
                                os.makedirs(self.out, exist_ok=True)
                            if on_start is not None and self.is_root:
                                on_start()
                            if tensorboard and self.is_root:
                                writer = _tensorboard_class()(os.path.join(self.out, "tensorboard"))
                        self._log(logs, writer, bar)
                        if self.step % self.checkpoint_every == 0 or self.step == self.steps or interrupt.hit:
                            self.save_checkpoint()
                        if interrupt.hit:
                            raise Interrupted(self.step, self.steps, self.path, True, self.step)
                except Interrupted:
                    raise
                except KeyboardInterrupt:  # a second Ctrl-C, or one outside the main thread: mid-step
                    raise Interrupted(self.step, self.steps, self.path, False, self.checkpoint_step) from None
            if bar is not None:
                bar.close()
                bar = None
            if self.averaged is not None:  # the run's result: the averaged weights (the checkpoint keeps both)
                self.trained = copy.deepcopy(model.state_dict())
                model.load_state_dict(self.averaged.module.state_dict())
            self.history.seconds = time.perf_counter() - t0
            if writer is not None:
                _log_samples(writer, model, self.step)
        finally:
            if bar is not None:
                bar.close()
            if writer is not None:
                writer.close()
        return self.history

    def _log(self, logs: dict, writer, bar) -> None:
        self.history.log(self.step, logs)
        if writer is not None:
            for k, v in logs.items():
                writer.add_scalar(k, v, self.step)
        if bar is not None:
            bar.update(1)
            if self.step % 10 == 0 or self.step == self.steps:
                bar.set_postfix({k: f"{v:.4g}" for k, v in self.history.last(10).items()})


class _InterruptFlag:
    hit = False


@contextlib.contextmanager
def _deferred_interrupt():
    """Inside the block the first SIGINT (Ctrl-C) only sets `.hit`, which the loop reads between steps, so
    a checkpoint never holds half an update; the handler before it is back in place at once, so a second
    Ctrl-C interrupts immediately. Outside the main thread signals cannot be caught: nothing changes."""
    flag = _InterruptFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is None:  # installed outside Python: Python's own handler is the closest to put back
        previous = signal.default_int_handler

    def handler(signum, frame):
        flag.hit = True
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def train(model, steps: int, out: str, batch_size: int | None = None, seed: int = 0, device: str = "cpu",
          resume: bool = False, checkpoint_every: int = 500, progress: bool = True,
          tensorboard: bool = False) -> History:
    """Train `model` for `steps` optimizer steps (counting from 0, or from the checkpoint when resuming)."""
    training = Training(model, steps, out, batch_size=batch_size, seed=seed, device=device, resume=resume,
                        checkpoint_every=checkpoint_every)
    return training.run(progress=progress, tensorboard=tensorboard)


def evaluate(model, split: str = "test", seed: int = EVAL_SEED) -> dict:
    """The one evaluation path: `model.metrics(split)` with every random generator seeded by `seed` first,
    so metrics.json at the end of training and `minigen eval` agree exactly. The names say the split:
    test_nll on "test"; on another split test_* becomes <split>_* and every other name gets the prefix
    (valid_nll, valid_iwae_nll). The generators are restored afterwards (backend.fork_rng), so evaluating in
    the middle of training leaves the rest of the run's noise as it would have been."""
    with backend.fork_rng():
        backend.manual_seed(seed)
        metrics = model.metrics(split)  # the model sets its own mode (some measure gradients: grad=True)
    if split == "test":
        return dict(metrics)
    return {f"{split}_{k[len('test_'):] if k.startswith('test_') else k}": v for k, v in metrics.items()}


def checkpoint_step(out: str) -> int:
    """The step at which the checkpoint in `out` was saved."""
    path = os.path.join(out, CHECKPOINT)
    ckpt = load(path)
    if "step" not in ckpt:
        raise CheckpointMismatch(f"{path} is not a minigen training checkpoint (no step)")
    return int(_untext(ckpt["step"]))


def load_model(model, out: str, device: str = "cpu"):
    """Load the parameters of the checkpoint in `out` into `model`: the weight averages when the run kept
    them (the run's result), else the trained weights."""
    path = os.path.join(out, CHECKPOINT)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {path} (train first: minigen train NAME --out {out})")
    ckpt = load(path)
    if "averaged" in ckpt:
        prefix = "module."
        state = {k[len(prefix):]: v for k, v in ckpt["averaged"].items() if k.startswith(prefix)}
        _load_into(model, state, path, model.name)
    else:
        _load_into(model, ckpt["model"], path, model.name)
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


def _tensorboard_class():
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError("--tensorboard needs tensorboardX: pip install 'minigen[tensorboard]'") from None
    return SummaryWriter
