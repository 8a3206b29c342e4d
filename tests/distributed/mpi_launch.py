"""Launching `mpirun -n 2` from the tests: the reason to skip where MPI is missing, and the command line.

The tests need mpi4py importable by this Python and an `mpirun` on PATH (Debian: apt-get install
openmpi-bin libopenmpi-dev; pip install mpi4py, the `distributed` extra). As root, Open MPI asks for
OMPI_ALLOW_RUN_AS_ROOT; --oversubscribe lets 2 ranks share fewer cores (CI's 2 cores are shared).
"""
from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "dp_worker.py")


@functools.cache
def mpi_problem() -> str | None:
    """Why the 2-process tests cannot run here, or None."""
    if importlib.util.find_spec("mpi4py") is None:
        return ("mpi4py is not installed: pip install 'minigen[distributed]' (needs an MPI library: "
                "apt-get install openmpi-bin libopenmpi-dev)")
    if shutil.which("mpirun") is None:
        return "no mpirun on PATH: apt-get install openmpi-bin libopenmpi-dev"
    try:  # mpi4py's wheel loads the system's libmpi only here
        subprocess.run([sys.executable, "-c", "from mpi4py import MPI"], check=True, capture_output=True,
                       text=True, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        detail = " ".join((getattr(e, "stderr", "") or "").split())[-300:]
        return f"mpi4py does not load its MPI library ({detail or e}): apt-get install openmpi-bin libopenmpi-dev"
    return None


def mpirun(args: list, timeout: float, n: int = 2, env: dict | None = None) -> subprocess.CompletedProcess:
    """`mpirun -n n <this python> args...`, output captured; raises subprocess.TimeoutExpired past timeout."""
    environment = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
                   "OMPI_MCA_mpi_yield_when_idle": "1", **(env or {})}
    command = ["mpirun", "-n", str(n), "--oversubscribe", "--bind-to", "none", sys.executable, *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment)
