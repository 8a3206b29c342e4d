"""bench/gpu_check.sh, the one prepared check for a GPU machine: its syntax, its --dry-run (every part's
command and budget printed, nothing run or written) and, without a GPU, a graceful stop at the device check
with a summary.json. Nothing here needs a GPU or installs anything."""
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import minigen as mg

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "gpu_check.sh"
PARTS = ("env", "install", "import", "device", "kernels", "train_step", "gpu_tests")

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None,
                                reason="needs bash and coreutils' timeout")


def run(*args, env=None, timeout=60):
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO, env=env)


def test_script_parses():
    check = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_usage_without_outdir():
    assert run().returncode == 2
    assert run("a", "b").returncode == 2
    assert run("out", "--bogus").returncode == 2


def test_dry_run_prints_every_command_and_runs_nothing(tmp_path):
    out = tmp_path / "out"
    results_before = sorted(p.name for p in (REPO / "bench" / "results").iterdir())
    t0 = time.monotonic()
    dry = run(str(out), "--dry-run", timeout=30)
    seconds = time.monotonic() - t0
    assert dry.returncode == 0, dry.stderr
    assert seconds < 5
    text = dry.stdout
    for needle in ("pip install --no-index --no-deps --no-build-isolation -e .", "nvidia-smi",
                   "MINIGEN_FAKE_GPU=0", "-m pytest -m gpu", "-p no:cacheprovider", "--junitxml",
                   "bench/kernels.py --rounds", "bench/train_step.py --device cuda", "getDeviceCount"):
        assert needle in text, needle
    budgets = {}
    for line in text.splitlines():
        m = re.match(r"\[(\S+)\s*\] budget\s+(\d+) s", line)
        if m:
            budgets[m.group(1)] = int(m.group(2))
    assert set(PARTS) <= set(budgets), budgets
    assert list(budgets)[-1] == "gpu_tests"  # the slow part last
    total = int(re.search(r"total budget (\d+) s", text).group(1))
    assert total <= 450  # well inside 8 minutes, with the kill grace on top
    assert not out.exists()  # nothing written: no OUTDIR, no logs, no results
    assert sorted(p.name for p in (REPO / "bench" / "results").iterdir()) == results_before


@pytest.mark.skipif(mg.cuda.is_available(), reason="a GPU is present: the script would run the GPU parts")
def test_without_a_gpu_it_stops_at_the_device_check_with_a_summary(tmp_path):
    # a python that refuses pip (so nothing is installed) and is the test's own python otherwise
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nif [ "$1" = -m ] && [ "$2" = pip ]; then echo "pip is off in this test" >&2; '
                      f'exit 1; fi\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp), "PYTHON": str(python),
           "MINIGEN_FAKE_GPU": "1"}
    done = run(str(out), env=env, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "done" and summary["gpu"] is None
    parts = {p["part"]: p for p in summary["parts"]}
    assert set(PARTS) <= set(parts)
    assert parts["install"]["status"] == "failed" and parts["install"]["exit_code"] == 1
    assert parts["device"]["status"] == "failed" and parts["device"]["timed_out"] is False
    for name in ("kernels", "train_step", "gpu_tests"):
        assert parts[name]["status"] == "skipped" and "no CUDA device" in parts[name]["note"]
    assert "gpu_check: CuPy" in (out / "setup.log").read_text()  # the device part says why
    assert len(list(out.iterdir())) <= 8
    assert not any(tmp.iterdir())  # its working folder is removed
