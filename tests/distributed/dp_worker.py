"""Run under `mpirun -n 2` by test_data_parallel.py: data-parallel training in the modes the tests check.

    python dp_worker.py equal OUT      vae, dcgan (BatchNorm synchronised and local), gan: STEPS steps on a
                                       global batch of BATCH, checkpoints in OUT/<case>; one averaged
                                       gradient of the vae in OUT/grads.npz
    python dp_worker.py nccl OUT       vae on device "cuda" through the NCCL communicator, on the fake CuPy
                                       and tests/distributed/fake_nccl.py: OUT/nccl, OUT/nccl_calls.json
    python dp_worker.py die|raise|hang OUT   vae for 1,000 steps, rank 1 at step 3: SIGKILLs itself, raises,
                                       or SIGSTOPs itself (the others' 2-second timeout must name it)
"""
import json
import os
import signal
import sys

import numpy as np

import minigen.models as models
from minigen import backend, trainer
from minigen.distributed import DataParallel

STEPS, BATCH = 4, 32
CASES = {"vae": ("vae", False), "dcgan-sync": ("dcgan", True), "dcgan-local": ("dcgan", False),
         "gan": ("gan", False)}


def train(name: str, sync: bool, out: str, steps: int, timeout: float = 60.0, failure=None, device: str = "cpu"):
    parallel = DataParallel(device, sync_batchnorm=sync, timeout=timeout)
    backend.manual_seed(0)  # the initialisation does not depend on what ran before (Training seeds after it)
    model = models.create(name, data="digits")
    if failure is not None:
        step_of_model = model.train_step

        def train_step(batch, optimizers, step):
            if step == 3 and parallel.rank == 1:
                failure()
            return step_of_model(batch, optimizers, step)
        model.train_step = train_step
    with parallel.abort_on_error():
        training = trainer.Training(model, steps, out, batch_size=BATCH, seed=0, parallel=parallel,
                                    checkpoint_every=10**9, device=device)
        training.run(progress=False)
    return parallel, model


def averaged_gradient(out: str) -> None:
    parallel = DataParallel("cpu")
    backend.manual_seed(0)
    model = models.create("vae", data="digits")
    parallel.prepare(model)
    batch = next(iter(model.loader("train", batch_size=BATCH, seed=0)))
    with parallel.step(0):
        model.loss(parallel.shard(batch, 0)).backward()
    if parallel.is_root:
        np.savez(os.path.join(out, "grads.npz"), **{k: p.grad.numpy() for k, p in model.named_parameters()})


def main(mode: str, out: str) -> None:
    if mode == "equal":
        averaged_gradient(out)
        for case, (name, sync) in CASES.items():
            train(name, sync, os.path.join(out, case), STEPS)
        return
    if mode == "nccl":
        import pytest

        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        import fake_cupy
        import fake_nccl

        patch = pytest.MonkeyPatch()
        fake_cupy.install(patch)
        fake_nccl.install(patch)
        parallel, _ = train("vae", False, os.path.join(out, "nccl"), STEPS, device="cuda")
        if parallel.is_root:
            with open(os.path.join(out, "nccl_calls.json"), "w") as f:
                json.dump({"backend": parallel.comm.backend, "calls": fake_nccl.calls}, f)
        return
    failures = {"die": lambda: os.kill(os.getpid(), signal.SIGKILL),
                "raise": lambda: (_ for _ in ()).throw(RuntimeError("injected failure in train_step")),
                "hang": lambda: os.kill(os.getpid(), signal.SIGSTOP)}
    train("vae", False, os.path.join(out, mode), 1000, timeout=2.0, failure=failures[mode])


if __name__ == "__main__":
    main(*sys.argv[1:])
