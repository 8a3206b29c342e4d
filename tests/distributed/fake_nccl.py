"""cupy.cuda.nccl imitated over MPI for the fake CuPy (tests/fake_cupy.py), so that the NCCL path of
minigen.distributed runs in 2 processes without a GPU.

Like CuPy's binding, the communicator takes raw device pointers (`a.data.ptr`), element counts, NCCL type
and op codes and a stream pointer; here the pointer is the host address inside a FakeArray, read and
written in place through ctypes, and the collective runs over MPI_COMM_WORLD. `install(monkeypatch)` puts
it where `from cupy.cuda import nccl` finds it. What it cannot show: NCCL's own behaviour on GPUs
(streams, asynchrony, one GPU per rank, ncclCommAbort of a stuck kernel).
"""
from __future__ import annotations

import ctypes
import sys
import types

import numpy as np

NCCL_INT32, NCCL_INT64, NCCL_UINT8, NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64 = 2, 4, 1, 6, 7, 8
NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN = 0, 1, 2, 3
_DTYPES = {NCCL_INT32: np.int32, NCCL_INT64: np.int64, NCCL_UINT8: np.uint8, NCCL_FLOAT16: np.float16,
           NCCL_FLOAT32: np.float32, NCCL_FLOAT64: np.float64}
available = True
calls: list = []  # (name, count, dtype) of every collective, for the tests


def get_unique_id() -> tuple:
    return tuple(range(128))


def _view(ptr: int, count: int, datatype: int) -> np.ndarray:
    dtype = np.dtype(_DTYPES[datatype])
    if count == 0:
        return np.empty(0, dtype)
    return np.frombuffer((ctypes.c_char * (count * dtype.itemsize)).from_address(ptr), dtype)


class NcclCommunicator:
    def __init__(self, ndev: int, commId: tuple, rank: int):
        from mpi4py import MPI

        self.MPI, self.comm = MPI, MPI.COMM_WORLD.Dup()
        if ndev != self.comm.Get_size() or rank != self.comm.Get_rank() or len(commId) != 128:
            raise RuntimeError(f"fake NcclCommunicator({ndev}, id, {rank}) in an MPI world of "
                               f"{self.comm.Get_size()} (rank {self.comm.Get_rank()})")

    def allReduce(self, sendbuf: int, recvbuf: int, count: int, datatype: int, op: int, stream: int) -> None:
        calls.append(("allReduce", count, datatype))
        send, recv = _view(sendbuf, count, datatype), _view(recvbuf, count, datatype)
        mpi_op = {NCCL_SUM: self.MPI.SUM, NCCL_PROD: self.MPI.PROD, NCCL_MAX: self.MPI.MAX,
                  NCCL_MIN: self.MPI.MIN}[op]
        self.comm.Allreduce(self.MPI.IN_PLACE if sendbuf == recvbuf else send, recv, op=mpi_op)

    def bcast(self, buff: int, count: int, datatype: int, root: int, stream: int) -> None:
        calls.append(("bcast", count, datatype))
        self.comm.Bcast(_view(buff, count, datatype), root=root)

    def abort(self) -> None:
        pass


def install(monkeypatch) -> types.ModuleType:
    import cupy.cuda

    module = sys.modules[__name__]
    monkeypatch.setitem(sys.modules, "cupy.cuda.nccl", module)
    monkeypatch.setattr(cupy.cuda, "nccl", module, raising=False)
    return module
