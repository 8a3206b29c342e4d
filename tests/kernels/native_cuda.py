"""The kernels' actual .cu source, compiled by g++ and run on the CPU: one host thread per CUDA thread.

kernel_emulator runs a Python port of each kernel; this module runs the text itself, so a bug in the .cu
that the port does not copy shows up too. A C++ prelude (PRELUDE) makes the CUDA dialect host C++:
`__global__`/`__device__` vanish, `__shared__` becomes `static` (blocks run one at a time, so a
function-static array is exactly one block's shared memory), `threadIdx`/`blockIdx`/`blockDim`/`gridDim`
are thread_local, and `__syncthreads()` waits on the running block's std::barrier. For every
`extern "C" __global__` kernel K of the source, an exported `host_K(grid, block, bid, params...)` runs
block `bid` of a launch with `block` std::threads and joins them (a thread that returns from the kernel
drops out of the barrier, as an exited GPU thread stops counting for __syncthreads).

`NativeKernel` stands for `_cuda.function(name, kernel, dtype, **defines)`: it is kernel_emulator's
EmulatedKernel (the same argument checks, launch counter and log, the same loop over the grid's blocks,
one after another) whose per-block body is the compiled host_K instead of the Python port. Arrays go in
as their addresses; with NumPy standing in for CuPy, the addresses in adam_multi's table
(`_cuda.address`) are host addresses, which is what the host kernel reads.

Each (source, defines) variant is compiled once per machine into CACHE (`g++ -std=c++20 -O1 -shared -fPIC
-pthread`, the file named by a hash of everything that goes into it) and loaded with ctypes.
`install(monkeypatch, ...)` is kernel_emulator.install (NumPy as CuPy with NaN-filled `empty`, small
BLOCK and grids, tiles) with this backend; it skips the test when the toolchain itself does not work,
while a kernel that fails to compile with a working toolchain raises CompileError.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

import kernel_emulator
from minigen.kernels import _cuda

CXX = "g++"
FLAGS = ("-std=c++20", "-O1", "-shared", "-fPIC", "-pthread", "-Wno-unknown-pragmas")
CACHE = Path(tempfile.gettempdir()) / f"minigen-native-cuda-{os.getuid()}"

PRELUDE = r"""
// ---- minigen native_cuda prelude: the CUDA dialect as host C++, one std::thread per CUDA thread ----
#include <algorithm>
#include <atomic>
#include <barrier>
#include <latch>
#include <math.h>  // the C++ header: float overloads of sqrt, exp, tanh, fmax... in the global namespace
#include <thread>
#include <vector>

struct uint3 { unsigned int x, y, z; };
typedef uint3 dim3;
thread_local uint3 threadIdx, blockIdx;
thread_local dim3 blockDim, gridDim;
thread_local std::barrier<>* native_block_barrier;

inline void __syncthreads() { native_block_barrier->arrive_and_wait(); }
using std::min;
using std::max;
inline float rsqrt(float v) { return 1.0f / std::sqrt(v); }
inline double rsqrt(double v) { return 1.0 / std::sqrt(v); }

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static

// Block `bid` of a (grid, block) launch: `block` threads, started together once all exist, then joined.
// Returns 0, or 1 when the threads could not be created (none of them then runs the kernel).
template <class Body>
int native_run_block(int grid, int block, int bid, const Body& body)
{
    std::barrier<> sync(block);
    std::latch start(1);
    std::atomic<bool> abandon{false};
    std::vector<std::thread> threads;
    threads.reserve(block);
    try {
        for (int t = 0; t < block; ++t) {
            threads.emplace_back([&, t] {
                start.wait();
                if (abandon) return;
                threadIdx = {unsigned(t), 0u, 0u};
                blockIdx = {unsigned(bid), 0u, 0u};
                blockDim = {unsigned(block), 1u, 1u};
                gridDim = {unsigned(grid), 1u, 1u};
                native_block_barrier = &sync;
                body();
                sync.arrive_and_drop();  // an exited thread no longer counts for __syncthreads
            });
        }
    } catch (...) {
        abandon = true;
    }
    start.count_down();
    for (auto& th : threads) th.join();
    return abandon ? 1 : 0;
}
// ---- end of prelude ----
"""


class CompileError(RuntimeError):
    """g++ works (the prelude alone compiles) but rejected a kernel source."""


def host_wrappers(text: str) -> str:
    """`extern "C" int host_K(int grid, int block, int bid, <K's parameters>)` for each kernel K of text."""
    out = []
    for kernel, params in kernel_emulator._SIGNATURE.findall(text):
        names = [p.split()[-1].lstrip("*&") for p in params.split(",")]
        out.append(f'extern "C" int host_{kernel}(int native_grid, int native_block, int native_bid, {params})\n'
                   f"{{\n    return native_run_block(native_grid, native_block, native_bid, [&] "
                   f"{{ {kernel}({', '.join(names)}); }});\n}}\n")
    return '\n#line 1 "host launchers generated by native_cuda.py"\n' + "\n".join(out)


def _gxx(source: str, flags: tuple, target: Path) -> subprocess.CompletedProcess:
    """Compile source into the shared library target (written atomically: concurrent runs share CACHE)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    cmd = [CXX, *FLAGS, *flags, "-x", "c++", "-", "-o", tmp]
    run = subprocess.run(cmd, input=source, capture_output=True, text=True)
    if run.returncode == 0:
        os.replace(tmp, target)
    else:
        os.unlink(tmp)
    run.args = cmd
    return run


@functools.cache
def _compiler_identity() -> str:
    run = subprocess.run([CXX, "--version"], capture_output=True, text=True)
    return f"{shutil.which(CXX)}\n{run.stdout}"


@functools.cache
def toolchain_problem() -> str | None:
    """Why g++ cannot build the prelude with an empty kernel (None when it can): a reason to skip."""
    if shutil.which(CXX) is None:
        return f"{CXX} not found on PATH"
    text = 'extern "C" __global__ void nothing(int n) { __syncthreads(); }'
    try:
        library(text, ())
    except (CompileError, OSError) as e:
        return f"{CXX} cannot build the native CUDA prelude: {e}"
    return None


@functools.cache
def library(text: str, flags: tuple, filename: str = "kernel.cu") -> ctypes.CDLL:
    """The compiled and loaded host version of a CUDA source text (with its host_K launchers); flags are the
    -D defines, filename names the text in g++'s messages. Compiled once per machine:
    CACHE/<hash of the compiler, flags, prelude and text>.so."""
    source = PRELUDE + f'\n#line 1 "{filename}"\n' + text + "\n" + host_wrappers(text)
    key = hashlib.sha256("\0".join((_compiler_identity(), *FLAGS, *flags, source)).encode()).hexdigest()[:24]
    target = CACHE / f"{key}.so"
    if not target.exists():
        run = _gxx(source, flags, target)
        if run.returncode != 0:
            raise CompileError(f"{' '.join(run.args)} failed:\n{run.stderr[-6000:]}")
    return ctypes.CDLL(str(target))


def _defines(dtype, name: str, **defines) -> tuple:
    """The -D options the Python wrappers pass to NVRTC (scalar_t, BLOCK, per-kernel extras)."""
    return tuple(o for o in _cuda.options(dtype, name, **defines) if o.startswith("-D"))


class NativeKernel(kernel_emulator.EmulatedKernel):
    """Stands for `_cuda.function(name, kernel, dtype, **defines)`: EmulatedKernel's checks and block loop,
    each block run by the compiled .cu."""

    def __init__(self, name: str, kernel: str, dtype, **defines):
        self.name, self.kernel, self.dtype = name, kernel, np.dtype(dtype)
        self.defines = {"BLOCK": _cuda.BLOCK, **defines}
        self.types = kernel_emulator.parameter_types(name, kernel)
        scalar = {"float": ctypes.c_float, "double": ctypes.c_double}[_cuda.scalar_type(self.dtype, name)]
        lib = library(_cuda.source(name), _defines(dtype, name, **defines), f"{name}.cu")
        self.host = getattr(lib, f"host_{kernel}")
        self.host.restype = ctypes.c_int
        self.host.argtypes = [ctypes.c_int] * 3 + [
            {"int": ctypes.c_int, "scalar_t": scalar}.get(t, ctypes.c_void_p) for t in self.types]
        self.body = self._run_block

    def _run_block(self, launch: kernel_emulator.Launch, *args) -> None:
        """args as EmulatedKernel._check left them: a Ptr per array, a Python number per scalar."""
        values = [a.a.ctypes.data if isinstance(a, kernel_emulator.Ptr) else a for a in args]
        if self.host(launch.grid, launch.block, launch.bid, *values):
            raise RuntimeError(f"{self.kernel}: could not start {launch.block} threads for block {launch.bid}")


def install(monkeypatch, block: int = 4, max_blocks: int = 3, tiles: dict | None = None) -> None:
    """kernel_emulator.install with the compiled .cu instead of the Python port; skips without g++."""
    reason = toolchain_problem()
    if reason:
        pytest.skip(reason)
    kernel_emulator.install(monkeypatch, block=block, max_blocks=max_blocks, tiles=tiles)
    monkeypatch.setattr(_cuda, "function", NativeKernel)
