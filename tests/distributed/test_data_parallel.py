"""Data-parallel training over 2 MPI processes (mpirun) against one process on the combined batch.

The property: R processes each on 1/R of a global batch do the work of one process on the whole batch, so
after N steps the parameters agree to float32 round-off (the sums run in another order) for an MLP model (vae), a model with BatchNorm
synchronised (dcgan; its local-BatchNorm run must differ) and a GAN with two optimizers (gan). A killed, a
failing and a hung rank end the job with an error naming the rank, within the timeout; a run resumed from
its checkpoint continues as if never stopped. Skipped where mpi4py or mpirun is missing.
"""
import json
import os
import time

import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen import backend, cli, trainer

from mpi_launch import WORKER, mpi_problem, mpirun

pytestmark = pytest.mark.skipif(mpi_problem() is not None, reason=str(mpi_problem()))

STEPS, BATCH = 4, 32  # as dp_worker.py
ROUND_OFF = dict(rtol=1e-4, atol=5e-5)


def assert_round_off(parallel: dict, single: dict, lr: float, what: str) -> None:
    """All but a few elements within float32 round-off; those few within Adam's step size lr per step.
    Adam divides each gradient by its own running size, so an entry whose gradient is ~0 (a BatchNorm
    channel, a dead unit) turns round-off into a step of up to lr; a real difference (local BatchNorm,
    a missing rank's data) moves most entries."""
    a = np.concatenate([parallel[k].astype(np.float64).ravel() for k in single])
    b = np.concatenate([single[k].astype(np.float64).ravel() for k in single])
    off = np.abs(a - b) > ROUND_OFF["atol"] + ROUND_OFF["rtol"] * np.abs(b)
    assert off.mean() < 2e-3, f"{what}: {off.sum()} of {off.size} entries beyond round-off"
    assert np.abs(a - b).max() <= 2 * STEPS * lr, f"{what}: {np.abs(a - b).max()} beyond {STEPS} Adam steps of {lr}"


@pytest.fixture(scope="module")
def two_process_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("dp")
    done = mpirun([WORKER, "equal", out], timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def _single_process(name: str, tmp_path) -> dict:
    backend.manual_seed(0)  # as dp_worker.py: the same initialisation
    model = models.create(name, data="digits")
    trainer.Training(model, STEPS, str(tmp_path / name), batch_size=BATCH, seed=0,
                     checkpoint_every=10**9).run(progress=False)
    return {k: v.numpy() for k, v in model.state_dict().items()}


def _checkpoint(folder) -> tuple[dict, dict]:
    ckpt = mg.load(os.path.join(folder, trainer.CHECKPOINT))
    return {k: v.numpy() for k, v in ckpt["model"].items()}, trainer._untext(ckpt["history"])


def _max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float(np.abs(a[k].astype(np.float64) - b[k]).max()) for k in a if a[k].size)


def test_averaged_gradient_is_the_global_batch_gradient(two_process_runs):
    """One backward on each half: the averaged gradient is the whole batch's (not their sum: Adam would hide
    a factor of 2 from the parameter comparisons)."""
    backend.manual_seed(0)
    model = models.create("vae", data="digits")
    batch = next(iter(model.loader("train", batch_size=BATCH, seed=0)))
    model.loss(batch).backward()
    averaged = np.load(two_process_runs / "grads.npz")
    for k, p in model.named_parameters():
        np.testing.assert_allclose(averaged[k], p.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=k)


@pytest.mark.parametrize("case,name", [("vae", "vae"), ("dcgan-sync", "dcgan"), ("gan", "gan")])
def test_two_processes_equal_one_on_the_combined_batch(two_process_runs, tmp_path, case, name):
    parallel, history = _checkpoint(two_process_runs / case)
    single = _single_process(name, tmp_path)
    assert_round_off(parallel, single, models.create(name, data="digits").lr, case)
    assert sorted(history) and all(len(points) == STEPS for points in history.values())


def test_nccl_path_on_the_fake_gpu(tmp_path):
    """--device cuda picks the NCCL communicator; on the fake CuPy with tests/distributed/fake_nccl.py (NCCL's
    pointer API over MPI) 2 processes again equal 1 process on the combined batch (on the fake GPU).
    Real NCCL on real GPUs is not exercised here."""
    import fake_cupy

    done = mpirun([WORKER, "nccl", tmp_path], timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    record = json.loads((tmp_path / "nccl_calls.json").read_text())
    names = [name for name, _, _ in record["calls"]]
    assert record["backend"] == "nccl" and names.count("allReduce") >= STEPS and "bcast" in names
    parallel, _ = _checkpoint(tmp_path / "nccl")
    with pytest.MonkeyPatch.context() as mp:
        fake_cupy.install(mp)
        backend.manual_seed(0)
        model = models.create("vae", data="digits")
        trainer.Training(model, STEPS, str(tmp_path / "single"), batch_size=BATCH, seed=0, device="cuda",
                         checkpoint_every=10**9).run(progress=False)
        single = {k: v.numpy() for k, v in model.state_dict().items()}
    assert_round_off(parallel, single, model.lr, "vae on the fake GPU")


def test_local_batchnorm_is_not_the_combined_batch(two_process_runs, tmp_path):
    """Without synchronisation each rank normalises its own 16 examples: the runs part (so the dcgan-sync
    comparison above can fail)."""
    local, _ = _checkpoint(two_process_runs / "dcgan-local")
    synced, _ = _checkpoint(two_process_runs / "dcgan-sync")
    assert _max_difference(local, synced) > 100 * ROUND_OFF["atol"]
    with pytest.raises(AssertionError, match="beyond"):
        assert_round_off(local, synced, models.create("dcgan", data="digits").lr, "local against synchronised")


@pytest.mark.parametrize("mode,expected", [
    ("die", "rank 1"),                                             # mpirun: "process rank 1 ... signal 9"
    ("raise", "rank 1 of 2 (step 3): RuntimeError: injected failure"),
    ("hang", "for rank 1, which did not answer"),                  # rank 0's 2-second timeout
])
def test_a_failed_rank_ends_the_job_naming_it(tmp_path, mode, expected):
    start = time.monotonic()
    done = mpirun([WORKER, mode, tmp_path], timeout=90)  # never a hang: TimeoutExpired would fail the test
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-2000:]
    assert expected in output, output[-3000:]
    assert time.monotonic() - start < 60


def test_resume_continues_the_run(tmp_path):
    """A run stopped at step 4 and resumed with `mpirun -n 2 minigen train --distributed --resume` to step 8
    equals one process's 8 steps (rank 0 reads the checkpoint, every rank starts from it)."""
    parallel_dir, single_dir = tmp_path / "dp", tmp_path / "single"
    common = ["nade", "--batch-size", str(BATCH), "--no-progress", "--set", "hidden=20"]
    mg.manual_seed(0)  # a fresh process's generator: the CLI builds the model before seeding it
    cli.main(["train", *common, "--steps", "4", "--out", str(parallel_dir)])
    done = mpirun(["-m", "minigen.cli", "train", *common, "--distributed", "--resume", "--steps", "8",
                   "--out", parallel_dir], timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    mg.manual_seed(0)
    cli.main(["train", *common, "--steps", "8", "--out", str(single_dir)])
    parallel, history = _checkpoint(parallel_dir)
    single, single_history = _checkpoint(single_dir)
    assert_round_off(parallel, single, 1e-3, "nade resumed")
    assert [s for s, _ in history["loss"]] == list(range(1, 9))
    np.testing.assert_allclose([v for _, v in history["loss"]], [v for _, v in single_history["loss"]],
                               rtol=1e-5)
    run = json.loads((parallel_dir / "run.json").read_text())
    assert len(run["resumed"]) == 1 and "--distributed" in run["resumed"][0]
