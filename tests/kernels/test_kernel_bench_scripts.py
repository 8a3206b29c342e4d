"""bench/kernels.py and bench/train_step.py import and, without a GPU, stop with a message that says so."""
import subprocess
import sys
from pathlib import Path

import pytest

import minigen as mg

BENCH = Path(__file__).resolve().parents[2] / "bench"
pytestmark = pytest.mark.skipif(mg.cuda.is_available(), reason="a GPU is present: the scripts would benchmark")


@pytest.mark.parametrize("argv", [["kernels.py"], ["train_step.py", "--device", "cuda"]])
def test_bench_script_without_gpu_exits_with_a_clear_message(argv):
    run = subprocess.run([sys.executable, str(BENCH / argv[0]), *argv[1:]], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 1, run.stderr
    assert "no CUDA GPU" in run.stderr and "Traceback" not in run.stderr
