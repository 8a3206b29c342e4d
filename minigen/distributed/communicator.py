"""Communicators: MPI (mpi4py) between CPU processes, NCCL (CuPy's bindings) between GPUs.

Both are used through the same five calls on arrays of their device, in place:

    all_reduce(a, op="sum")    a <- op over the ranks of a          (ring all-reduce inside the library)
    broadcast(a, root=0)       a <- root's a
    broadcast_bytes(b, root)   root's bytes to every rank (checkpoints at start, over MPI)
    barrier()
    abort(message)             print `minigen: error: ...` and end every rank of the job (MPI_Abort)

Never a hang: every collective is started non-blocking and polled (MPI_Test, or the CUDA stream for NCCL)
against `timeout` seconds. While it waits a rank answers liveness probes; when the timeout passes it
probes every other rank on a second communicator, waits a few seconds for answers, and aborts the job with
an error naming the ranks that did not answer (dead or hung: SIGSTOP, a deadlock in the model, a lost
node). A rank that is killed is reported by mpirun itself ("process rank 1 ... exited on signal 9"), which
then ends the others; a Python exception in a rank ends the job through `abort` (DataParallel does it).

`stats` counts messages (one per collective call) and their payload bytes per kind ("gradients", "logs",
"batchnorm", ...), for bench/distributed.py; a ring all-reduce of n bytes moves about 2 n (R - 1) / R
bytes in and out of each rank.
"""
from __future__ import annotations

import sys
import time

import numpy as np

DEFAULT_TIMEOUT = 300.0  # seconds a collective may wait for the other ranks (a checkpoint write included)
_PROBE, _REPLY = 71, 72  # tags of the liveness messages on the control communicator
_OPS = ("sum", "max", "min")


class DistributedError(RuntimeError):
    """minigen.distributed used wrongly (not initialised, mpi4py missing, an unknown op)."""


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError:
        raise DistributedError("distributed training needs mpi4py and an MPI library: apt-get install "
                               "openmpi-bin libopenmpi-dev && pip install 'minigen[distributed]'") from None
    return MPI


class Stats:
    """Messages and payload bytes per kind since the last reset()."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.messages: dict[str, int] = {}
        self.bytes: dict[str, int] = {}

    def add(self, kind: str, nbytes: int) -> None:
        self.messages[kind] = self.messages.get(kind, 0) + 1
        self.bytes[kind] = self.bytes.get(kind, 0) + int(nbytes)


class MPICommunicator:
    """MPI_COMM_WORLD through mpi4py, on NumPy arrays."""

    backend = "mpi"

    def __init__(self, timeout: float | None = DEFAULT_TIMEOUT):
        self.MPI = _mpi()
        world = self.MPI.COMM_WORLD
        self.comm, self.control = world.Dup(), world.Dup()  # collectives; liveness probes
        self.rank, self.world_size = world.Get_rank(), world.Get_size()
        self.timeout = timeout
        self.context = "starting"  # where the job stands, for error messages ("step 12")
        self.stats = Stats()

    # ------------------------------------------------------------------------------- the five calls
    def all_reduce(self, a, op: str = "sum", kind: str = "other"):
        """a <- op(a over the ranks), in place; returns a."""
        self.stats.add(kind, a.nbytes)
        self._wait(self.comm.Iallreduce(self.MPI.IN_PLACE, a, op=self._op(op)), f"all_reduce of {kind}")
        return a

    def broadcast(self, a, root: int = 0, kind: str = "other"):
        """a <- rank root's a, in place; returns a."""
        self.stats.add(kind, a.nbytes)
        self._wait(self.comm.Ibcast(a, root=root), f"broadcast of {kind}")
        return a

    def broadcast_bytes(self, data: bytes | None, root: int = 0, kind: str = "state") -> bytes:
        """Rank root's `data` on every rank (the others pass None)."""
        size = np.array([len(data) if self.rank == root else 0], np.int64)
        self.broadcast(size, root, kind)
        buf = np.frombuffer(data, np.uint8).copy() if self.rank == root else np.empty(int(size[0]), np.uint8)
        chunk = 1 << 28  # MPI counts are C ints
        for start in range(0, len(buf), chunk):
            self.broadcast(buf[start:start + chunk], root, kind)
        return buf.tobytes()

    def barrier(self, timeout: float | None | str = "default") -> None:
        """Wait for every rank (timeout=None: as long as it takes, still answering probes)."""
        self._wait(self.comm.Ibarrier(), "barrier", self.timeout if timeout == "default" else timeout)

    def abort(self, message: str, code: int = 1) -> None:
        """Print `minigen: error: message` and end every rank of the job."""
        print(f"minigen: error: {message}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        self.comm.Abort(code)

    # ------------------------------------------------------------------------------------- waiting
    def _op(self, op: str):
        if op not in _OPS:
            raise DistributedError(f"all_reduce: unknown op {op!r} (expected one of {', '.join(_OPS)})")
        return {"sum": self.MPI.SUM, "max": self.MPI.MAX, "min": self.MPI.MIN}[op]

    def _wait(self, request, what: str, timeout: float | None | str = "default") -> None:
        """Poll `request` (anything with .Test()) until done; past the timeout, name the silent ranks and abort."""
        timeout = self.timeout if timeout == "default" else timeout
        start = time.monotonic()
        delay, next_probe_check = 0.0, start + 0.05
        while not request.Test():
            now = time.monotonic()
            if now >= next_probe_check:
                self._answer_probes()
                next_probe_check = now + 0.05
            if timeout is not None and now - start > timeout:
                self._timed_out(what, now - start)
            time.sleep(delay)
            delay = min(2 * delay + 1e-5, 1e-3)

    def _answer_probes(self) -> None:
        status = self.MPI.Status()
        while self.control.Iprobe(source=self.MPI.ANY_SOURCE, tag=_PROBE, status=status):
            source = status.Get_source()
            self.control.Recv(np.empty(1, np.int64), source=source, tag=_PROBE)
            self.control.Send(np.array([self.rank], np.int64), dest=source, tag=_REPLY)

    def _timed_out(self, what: str, waited: float) -> None:
        others = [r for r in range(self.world_size) if r != self.rank]
        for r in others:
            self.control.Isend(np.array([self.rank], np.int64), dest=r, tag=_PROBE)
        answered: set = set()
        status = self.MPI.Status()
        deadline = time.monotonic() + min(5.0, max(1.0, self.timeout or 1.0))
        while time.monotonic() < deadline and len(answered) < len(others):
            self._answer_probes()
            while self.control.Iprobe(source=self.MPI.ANY_SOURCE, tag=_REPLY, status=status):
                source = status.Get_source()
                self.control.Recv(np.empty(1, np.int64), source=source, tag=_REPLY)
                answered.add(source)
            time.sleep(1e-3)
        silent = [r for r in others if r not in answered]
        head = (f"distributed: rank {self.rank} of {self.world_size} waited {waited:.0f} s in {what} "
                f"({self.context})")
        if silent:
            names = ", ".join(f"rank {r}" for r in silent)
            self.abort(f"{head} for {names}, which did not answer: it died or hangs; the job ends here "
                       "(resume from the last checkpoint with --resume)")
        self.abort(f"{head}; every rank answered, so they wait in different collectives (code that differs "
                   "between ranks?); the job ends here")


class NCCLCommunicator(MPICommunicator):
    """NCCL between GPUs (one per rank: device rank % visible GPUs) through cupy.cuda.nccl, bootstrapped
    over MPI (rank 0's NCCL id is broadcast); CuPy arrays for all_reduce and broadcast, MPI for the rest.
    A collective is enqueued on the current stream and polled through a CUDA event against the timeout;
    past it the NCCL communicator is aborted (ncclCommAbort) before the MPI job is."""

    backend = "nccl"

    def __init__(self, timeout: float | None = DEFAULT_TIMEOUT):
        super().__init__(timeout)
        from minigen import backend

        cp = backend.xp_for("cuda")
        try:
            from cupy.cuda import nccl
        except ImportError:
            raise DistributedError("--device cuda with --distributed needs CuPy's NCCL bindings "
                                   "(cupy.cuda.nccl)") from None
        if not getattr(nccl, "available", True):
            raise DistributedError("--device cuda with --distributed: CuPy finds no NCCL library "
                                   "(pip install nvidia-nccl-cu12)")
        self.cp, self.nccl = cp, nccl
        cp.cuda.Device(self.rank % cp.cuda.runtime.getDeviceCount()).use()
        uid = nccl.get_unique_id() if self.rank == 0 else None
        uid = self.comm.bcast(uid, root=0)  # a tuple of ints, MPI's object broadcast at start only
        self.nccl_comm = nccl.NcclCommunicator(self.world_size, uid, self.rank)
        self._types = {np.dtype(np.float32): nccl.NCCL_FLOAT32, np.dtype(np.float64): nccl.NCCL_FLOAT64,
                       np.dtype(np.float16): nccl.NCCL_FLOAT16, np.dtype(np.int64): nccl.NCCL_INT64,
                       np.dtype(np.int32): nccl.NCCL_INT32, np.dtype(np.uint8): nccl.NCCL_UINT8}

    def _nccl_args(self, a):
        if not isinstance(a, self.cp.ndarray):  # host arrays (sizes, bytes) go over MPI
            return None
        if not a.flags.c_contiguous:
            raise DistributedError(f"NCCL: collectives need contiguous arrays, got shape {a.shape} on cuda")
        if a.dtype not in self._types:
            raise DistributedError(f"NCCL: no NCCL type for dtype {a.dtype} (shape {a.shape}, cuda)")
        return a.data.ptr, a.size, self._types[a.dtype], self.cp.cuda.get_current_stream()

    def all_reduce(self, a, op: str = "sum", kind: str = "other"):
        args = self._nccl_args(a)
        if args is None:
            return super().all_reduce(a, op, kind)
        self._op(op)
        ptr, count, dtype, stream = args
        self.stats.add(kind, a.nbytes)
        nccl_op = {"sum": self.nccl.NCCL_SUM, "max": self.nccl.NCCL_MAX, "min": self.nccl.NCCL_MIN}[op]
        self.nccl_comm.allReduce(ptr, ptr, count, dtype, nccl_op, stream.ptr)
        self._wait_stream(stream, f"all_reduce of {kind}")
        return a

    def broadcast(self, a, root: int = 0, kind: str = "other"):
        args = self._nccl_args(a)
        if args is None:
            return super().broadcast(a, root, kind)
        ptr, count, dtype, stream = args
        self.stats.add(kind, a.nbytes)
        self.nccl_comm.bcast(ptr, count, dtype, root, stream.ptr)
        self._wait_stream(stream, f"broadcast of {kind}")
        return a

    def _wait_stream(self, stream, what: str) -> None:
        event = self.cp.cuda.Event(block=False, disable_timing=True)
        event.record(stream)
        self._wait(_EventRequest(event), what)

    def abort(self, message: str, code: int = 1) -> None:
        try:
            self.nccl_comm.abort()
        finally:
            super().abort(message, code)


class _EventRequest:
    """A CUDA event with MPI's request interface: Test() is True once the stream has passed it."""

    def __init__(self, event):
        self.event = event

    def Test(self) -> bool:
        return bool(self.event.done)
