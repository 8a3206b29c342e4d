"""`with mg.profile() as p:` per-op-type calls, forward/backward seconds and bytes allocated.

Time spent in ops that a backward formula calls is charged to that backward, not to their own forward.
On CUDA arrays the clock waits for the GPU before and after each op (kernels launch asynchronously), so
the times are device times, at the cost of running everything synchronously while profiling.
"""
from __future__ import annotations

from collections import defaultdict

from . import backend, function


class _Row:
    __slots__ = ("calls", "forward_s", "backward_calls", "backward_s", "bytes")

    def __init__(self):
        self.calls = self.backward_calls = self.bytes = 0
        self.forward_s = self.backward_s = 0.0

    @property
    def total_s(self) -> float:
        return self.forward_s + self.backward_s


class profile:
    """Context manager that records every Function call while active."""

    def __init__(self):
        self.rows: dict = defaultdict(_Row)
        self._depth = 0
        self._previous = None

    def __enter__(self) -> profile:
        self._previous, function._profiler = function._profiler, self
        return self

    def __exit__(self, *exc) -> None:
        function._profiler = self._previous

    @staticmethod
    def synchronize(arrays) -> None:
        """Wait for the GPU when any of the arrays lives there."""
        if any(backend.device_of(a) == "cuda" for a in arrays):
            backend.synchronize("cuda")

    def record_forward(self, op: str, seconds: float, outputs) -> None:
        if self._depth:
            return
        row = self.rows[op]
        row.calls += 1
        row.forward_s += seconds
        row.bytes += sum(int(y.nbytes) for y in outputs)

    def enter_backward(self) -> None:
        self._depth += 1

    def exit_backward(self, op: str, seconds: float) -> None:
        self._depth -= 1
        row = self.rows[op]
        row.backward_calls += 1
        row.backward_s += seconds

    def table(self) -> str:
        """A text table sorted by total (forward + backward) time."""
        lines = [f"{'op':<22}{'calls':>8}{'fwd ms':>11}{'bwd calls':>11}{'bwd ms':>11}{'total ms':>11}"
                 f"{'MB alloc':>11}"]
        rows = sorted(self.rows.items(), key=lambda kv: -kv[1].total_s)
        for op, r in rows:
            lines.append(f"{op:<22}{r.calls:>8}{r.forward_s * 1e3:>11.3f}{r.backward_calls:>11}"
                         f"{r.backward_s * 1e3:>11.3f}{r.total_s * 1e3:>11.3f}{r.bytes / 2**20:>11.3f}")
        total = sum(r.total_s for r in self.rows.values())
        lines.append(f"{'total':<22}{'':>8}{'':>11}{'':>11}{'':>11}{total * 1e3:>11.3f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()
