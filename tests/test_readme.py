"""The ```python blocks of README.md and docs/*.md run as written (docs/guides/ has its own test_guides.py).

The blocks of one file run in order, in one namespace (the README's later blocks use the tour's `model`
and `x`), in a fresh interpreter (so that settings a block changes, such as minigen.kernels', stay there)
and a fresh folder, with one BLAS thread. The hypothesis tests a block defines (`def test_...`) are then
called (under the suite's few-examples profile), so the examples of "Checking gradients in your own tests"
are run, not only defined. A block that
cannot run here is marked on the line before it with `<!-- not run: REASON -->`, the reason said.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:<!-- not run: ([^\n]*?) -->\n)?```python\n(.*?)```", re.S)

RUNNER = """
import json, sys
from hypothesis import HealthCheck, settings
from threadpoolctl import threadpool_limits
# as tests/conftest.py's "ci" profile: few examples, no deadline, no too-slow check on a loaded machine
settings.register_profile("readme", max_examples=8, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("readme")
namespace = {"__name__": "readme"}
for k, code in enumerate(json.load(sys.stdin)):
    with threadpool_limits(1):
        exec(compile(code, f"block {k + 1}", "exec"), namespace)
tests = [name for name, f in namespace.items() if name.startswith("test_") and callable(f)]
for name in tests:
    with threadpool_limits(1):
        namespace[name]()
print("ran the tests", tests)
"""


def python_blocks(text: str) -> list:
    """[(code, None) for a block to run, or (code, reason) for one marked `<!-- not run: reason -->`]."""
    return [(code, reason) for reason, code in BLOCK.findall(text)]


def test_a_block_is_marked_not_run_only_with_its_reason():
    text = "```python\na = 1\n```\n<!-- not run: needs a GPU -->\n```python\nb = 2\n```\n"
    assert python_blocks(text) == [("a = 1\n", ""), ("b = 2\n", "needs a GPU")]
    assert python_blocks("<!-- not run: -->\n```python\nc = 3\n```") == [("c = 3\n", "")]  # no reason: it runs


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_python_blocks_run_as_written(path, tmp_path):
    blocks = python_blocks(path.read_text())
    run = [code for code, reason in blocks if not reason]
    if path.name == "README.md":
        assert len(run) >= 5 and len(blocks) - len(run) <= 1  # only the GPU example is not run
    if not run:
        pytest.skip(f"{path.name} has no python block to run")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(run), capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=600)
    assert done.returncode == 0, f"{path.name}: a python block failed:\n{done.stderr[-3000:]}"
    if path.name == "README.md":
        assert "test_my_op" in done.stdout and "test_cube_composes" in done.stdout
        assert (tmp_path / "ckpt.npz").is_file() and (tmp_path / "graph.png").is_file()
