"""Every .cu in kernels/ compiles, as stored (nvcc, down to SASS for sm_80, warnings as errors, no register
spills) and as CuPy compiles it at run time (NVRTC on the loader's text, with the loader's options), for
every dtype and define the Python wrappers use; and every kernel is launched, emulated and documented."""
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import kernel_emulator
from minigen.kernels import SOURCES, _cuda, adam, implicit_gemm

NVCC = shutil.which("nvcc") or ("/usr/local/bin/nvcc" if Path("/usr/local/bin/nvcc").exists() else None)
EXTRA = {"maxout": [{"index_t": "signed char"}, {"index_t": "int"}], "adam": [{"CHUNK": adam.CHUNK}],
         "implicit_gemm": [implicit_gemm.TILES, dict(TILE_M=32, TILE_N=128, TILE_K=8, THREADS_M=8)]}
VARIANTS = [(name, dtype, defines) for name in SOURCES for dtype in (np.float32, np.float64)
            for defines in EXTRA.get(name, [{}])]
IDS = [f"{n}-{np.dtype(d).name}-{'-'.join(map(str, x.values())) or 'plain'}".replace(" ", "_") for n, d, x in VARIANTS]


def _nvrtc():
    try:
        from cupy_backends.cuda.libs import nvrtc

        nvrtc.getVersion()
        return nvrtc
    except Exception as e:  # CuPy missing, or its NVRTC library not found
        pytest.skip(f"NVRTC through CuPy is not available: {type(e).__name__}: {e}")


@pytest.mark.skipif(NVCC is None, reason="nvcc not found (PATH or /usr/local/bin/nvcc)")
@pytest.mark.parametrize("name,dtype,defines", VARIANTS, ids=IDS)
def test_source_compiles_with_nvcc(tmp_path, name, dtype, defines):
    flags = [f"-D{k}={v}" for k, v in sorted(defines.items())]
    cmd = [NVCC, "--cubin", "-arch=sm_80", "--std=c++17", "--Werror", "all-warnings", "-Xptxas", "-v",
           f"-Dscalar_t={_cuda.scalar_type(dtype, name)}", f"-DBLOCK={_cuda.BLOCK}", *flags,
           str(_cuda.HERE / f"{name}.cu"), "-o", str(tmp_path / f"{name}.cubin")]
    run = subprocess.run(cmd, capture_output=True, text=True)
    assert run.returncode == 0, f"{' '.join(cmd)}\n{run.stdout}\n{run.stderr}"
    spills = re.findall(r"(\d+) bytes spill stores", run.stderr)
    assert spills and all(s == "0" for s in spills), f"register spills in {name}.cu:\n{run.stderr}"


@pytest.mark.parametrize("name,dtype,defines", VARIANTS, ids=IDS)
def test_source_compiles_with_nvrtc(name, dtype, defines):
    nvrtc = _nvrtc()
    program = nvrtc.createProgram(_cuda.source(name), f"{name}.cu", [], [])
    options = list(_cuda.options(dtype, name, **defines)) + ["--gpu-architecture=compute_80"]
    try:
        nvrtc.compileProgram(program, options)
    except Exception as e:
        pytest.fail(f"NVRTC failed on {name}.cu with {options}: {e}\n{nvrtc.getProgramLog(program)}")
    ptx = nvrtc.getPTX(program).decode()
    for kernel in kernel_emulator._SIGNATURE.findall(_cuda.source(name)):
        assert f".entry {kernel[0]}(" in ptx, f"{kernel[0]} missing from the PTX of {name}.cu"


@pytest.mark.parametrize("name", SOURCES)
def test_every_kernel_is_launched_and_emulated(name):
    kernels = [k for k, _ in kernel_emulator._SIGNATURE.findall(_cuda.source(name))]
    wrapper = (_cuda.HERE / f"{name}.py").read_text()
    assert kernels, f"no extern \"C\" __global__ kernel in {name}.cu"
    for k in kernels:
        assert f'"{k}"' in wrapper, f"{k} of {name}.cu is never launched from {name}.py"
        assert k in kernel_emulator.BODIES, f"{k} of {name}.cu has no emulation in kernel_emulator.py"


def test_loader_pastes_the_common_header():
    text = _cuda.source("implicit_gemm")
    assert not any(line.startswith("#include") for line in text.splitlines())
    assert "__device__ __forceinline__ scalar_t block_sum" in text


def test_unsupported_dtype_is_a_clear_error():
    with pytest.raises(TypeError, match="float32 and float64, got float16"):
        _cuda.options(np.float16, "maxout")
