"""fake_cupy's cupy.cuda: Device, Stream and Event, which have nothing to wait for on the CPU, MemoryPointer (a
host address), and the device properties the fake reports. tests/fake_cupy.py puts them into its `module`."""
from __future__ import annotations

import numpy as np


class _AlreadyDone:
    """What CuPy's Device, Stream and Event do asynchronously is done here when called: nothing to wait for."""

    def __init__(self, *args, **kwargs):
        pass

    def synchronize(self) -> None:
        pass

    def record(self, stream=None) -> None:
        pass

    def use(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


class Device(_AlreadyDone):
    """cupy.cuda.Device: device 0."""

    compute_capability = "00"

    def __init__(self, device=None):
        self.id = 0 if device is None else int(device)

    def __eq__(self, other) -> bool:
        return isinstance(other, Device) and other.id == self.id

    __hash__ = object.__hash__


class Stream(_AlreadyDone):
    """cupy.cuda.Stream: everything on it ran already."""

    ptr = 0


class Event(_AlreadyDone):
    """cupy.cuda.Event: records nothing; get_elapsed_time says 0 ms between two."""

    done = True


_PROPERTIES = {"name": b"fake_cupy (NumPy on the CPU)", "totalGlobalMem": 16 * 2**30, "multiProcessorCount": 1,
               "major": 0, "minor": 0, "warpSize": 32, "maxThreadsPerBlock": 1024, "sharedMemPerBlock": 48 * 1024,
               "clockRate": 1_000_000, "memoryClockRate": 1_000_000, "memoryBusWidth": 64}


class MemoryPointer:
    """cupy.cuda.MemoryPointer: `.ptr` is the address of the first element (here a host address, which is
    what the natively compiled kernels read) and `.device` the device."""

    def __init__(self, a: np.ndarray):
        self.ptr = a.ctypes.data if a.size else 0
        self.device = Device(0)
        self.device_id = 0
