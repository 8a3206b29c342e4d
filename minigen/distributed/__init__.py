"""Data-parallel training on existing engines: MPI (mpi4py) between CPU processes, NCCL (CuPy) between GPUs.

    mpirun -n 2 minigen train vae --distributed --out runs/vae-dp      # two processes, one run

The small interface (the communicator is chosen by the device: "cpu" -> MPI, "cuda" -> NCCL):

    init(device="cpu", timeout=300)   start (once per process; under mpirun every rank calls it)
    rank(), world_size()              0 and 1 before init
    all_reduce(x, op="sum")           x (a Tensor or an array of the device) <- op over the ranks, in place
    broadcast(x, root=0)              x <- rank root's x, in place
    barrier()

and `DataParallel`, which the trainer uses (minigen/distributed/data_parallel.py): state broadcast from
rank 0, gradients averaged in buckets after every backward, batches and batch-shaped random draws split
across ranks, BatchNorm local or synchronised, logs averaged, only rank 0 writes.
"""
from __future__ import annotations

from ..autograd import Tensor
from .communicator import DEFAULT_TIMEOUT, DistributedError, MPICommunicator, NCCLCommunicator

_communicator = None


def init(device: str = "cpu", timeout: float | None = DEFAULT_TIMEOUT):
    """Start the communicator of `device` (MPI for "cpu", NCCL for "cuda"); a second call returns the first
    one (the device must agree). Returns the communicator."""
    global _communicator
    if device not in ("cpu", "cuda"):
        raise DistributedError(f"distributed.init: unknown device {device!r} (expected 'cpu' or 'cuda')")
    if _communicator is not None:
        wanted = "nccl" if device == "cuda" else "mpi"
        if _communicator.backend != wanted:
            raise DistributedError(f"distributed.init({device!r}): already initialised with "
                                   f"{_communicator.backend}")
        _communicator.timeout = timeout
        return _communicator
    _communicator = NCCLCommunicator(timeout) if device == "cuda" else MPICommunicator(timeout)
    return _communicator


def is_initialized() -> bool:
    return _communicator is not None


def communicator():
    """The communicator started by init()."""
    if _communicator is None:
        raise DistributedError("minigen.distributed is not initialised: call minigen.distributed.init() "
                               "(or train with --distributed under mpirun)")
    return _communicator


def rank() -> int:
    """This process's rank (0 before init)."""
    return 0 if _communicator is None else _communicator.rank


def world_size() -> int:
    """The number of processes (1 before init)."""
    return 1 if _communicator is None else _communicator.world_size


def _array(x):
    return x.data if isinstance(x, Tensor) else x


def all_reduce(x, op: str = "sum"):
    """x <- op(x over the ranks) in place ("sum", "max", "min"); returns x."""
    communicator().all_reduce(_array(x), op, kind="user")
    return x


def broadcast(x, root: int = 0):
    """x <- rank root's x in place; returns x."""
    communicator().broadcast(_array(x), root, kind="user")
    return x


def barrier() -> None:
    communicator().barrier()


from .data_parallel import DataParallel  # noqa: E402  (it reads communicator() above)
from .sync_batchnorm import convert_sync_batchnorm  # noqa: E402

__all__ = ["init", "is_initialized", "communicator", "rank", "world_size", "all_reduce", "broadcast", "barrier",
           "DataParallel", "convert_sync_batchnorm", "DistributedError", "DEFAULT_TIMEOUT"]
