"""Hypothesis profiles: "ci" (the default: few examples, no deadline) and "thorough" for local runs.

    HYPOTHESIS_PROFILE=thorough python -m pytest

Tests marked `gpu` run on the GPU when CuPy sees one. Without a GPU they run on tests/fake_cupy.py (NumPy
on the CPU with CuPy's device rules, the kernels' .cu compiled by g++), installed for the whole session,
so that the GPU code paths run everywhere and device-routing bugs show; MINIGEN_FAKE_GPU=0 skips them
instead:

    python -m pytest -m gpu                      # the GPU paths only (on the fake without a GPU)
    MINIGEN_FAKE_GPU=0 python -m pytest          # without a GPU, skip them

BLAS runs on one thread in the tests (and in the processes they start), as `minigen train` and bench/zoo.py
do by default: on small matrices more threads only add synchronisation, and on a loaded 2-core machine
they made a small training step 25x slower. MINIGEN_TEST_BLAS_THREADS=N changes it.
"""
import os

_BLAS_THREADS = os.environ.get("MINIGEN_TEST_BLAS_THREADS", "1")
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, _BLAS_THREADS)

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=8, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

_fake_gpu = pytest.MonkeyPatch()  # holds tests/fake_cupy.py's installation, if any, until the session ends
_fake_gpu_installed = False


def pytest_configure(config):
    from threadpoolctl import threadpool_limits

    config._blas_limits = threadpool_limits(int(_BLAS_THREADS))  # for NumPy imported before this file
    config.addinivalue_line("markers", "gpu: a CUDA path through CuPy (without a GPU: run on tests/fake_cupy.py, "
                                       "or skipped with MINIGEN_FAKE_GPU=0)")
    config.addinivalue_line("markers", "slow: trains a model for a while")


def pytest_collection_modifyitems(config, items):
    global _fake_gpu_installed
    import minigen as mg

    if mg.cuda.is_available():
        return
    if os.environ.get("MINIGEN_FAKE_GPU", "1") != "0":
        import fake_cupy  # installed after collection: module-level is_available() checks saw no GPU

        fake_cupy.install(_fake_gpu)
        _fake_gpu_installed = True
        return
    skip = pytest.mark.skip(reason="no CUDA GPU available (mg.cuda.is_available() is False) and "
                                   "MINIGEN_FAKE_GPU=0")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fake_gpu_launches(request):
    """On the fake GPU, `gpu` tests launch the kernels with fake_cupy.small_launches' configuration."""
    if not (_fake_gpu_installed and "gpu" in request.keywords):
        yield
        return
    import fake_cupy

    with pytest.MonkeyPatch.context() as mp:
        fake_cupy.small_launches(mp)
        yield


def pytest_unconfigure(config):
    _fake_gpu.undo()
