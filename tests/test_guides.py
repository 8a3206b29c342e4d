"""The guides in docs/guides/ run as written: every ```python block of a guide, in order, in one namespace, in
a fresh folder, with one BLAS thread (as `minigen train` runs: on small matrices more threads only spin);
what a block prints must be the ```output block that follows it (when there is one), and every picture
the guide shows (`![...](images/NAME)`) must have been written by its code.

    python tests/test_guides.py            # rerun every guide inside docs/guides/, rewriting its pictures
    python tests/test_guides.py 3          # only the guide whose file name starts with 3
    python tests/test_guides.py 3 --update # and rewrite its ```output blocks with what the code prints
"""
import contextlib
import io
import os
import re
import sys
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

GUIDES = Path(__file__).resolve().parents[1] / "docs" / "guides"
BLOCK = re.compile(r"```(python|output)\n(.*?)```", re.S)
PICTURE = re.compile(r"!\[[^\]]*\]\((images/[^)]+)\)")


def blocks(text: str) -> list:
    """[(code, expected output or None), ...] in the order of the guide."""
    found, out = BLOCK.findall(text), []
    for kind, body in found:
        if kind == "python":
            out.append([body, None])
        elif out and out[-1][1] is None:
            out[-1][1] = body
        else:
            raise ValueError("an ```output block must follow a ```python block")
    return out


def run_guide(path: Path, folder: Path, update: bool = False) -> None:
    """Run the guide's blocks in `folder` (created), checking each printed output (with `update`, rewrite
    the guide's ```output blocks with the printed text instead)."""
    folder.mkdir(parents=True, exist_ok=True)
    here, namespace, printed_all = os.getcwd(), {"__name__": f"guide_{path.stem.replace('-', '_')}"}, []
    os.chdir(folder)
    try:
        for k, (code, expected) in enumerate(blocks(path.read_text())):
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed), threadpool_limits(1):
                exec(compile(code, f"{path.name}, block {k + 1}", "exec"), namespace)
            printed_all.append(printed.getvalue())
            if not update and expected is not None and printed.getvalue() != expected:
                raise AssertionError(f"{path.name}, block {k + 1} printed\n{printed.getvalue()}\nbut the guide "
                                     f"shows\n{expected}")
    finally:
        os.chdir(here)
    if update:
        count = iter(range(len(printed_all) + 1))
        index = {"python": -1}

        def replace(m):
            if m.group(1) == "python":
                index["python"] = next(count)
                return m.group(0)
            return f"```output\n{printed_all[index['python']]}```"

        path.write_text(BLOCK.sub(replace, path.read_text()))


@pytest.mark.parametrize("guide", sorted(p.name for p in GUIDES.glob("*.md")))
def test_guide_runs_as_written_and_writes_its_pictures(guide, tmp_path):
    path = GUIDES / guide
    text = path.read_text()
    if "fake_cupy" in text:  # the guide compiles the real .cu with g++, as the gpu tests do
        sys.path.insert(0, str(Path(__file__).parent / "kernels"))
        from native_cuda import toolchain_problem

        if toolchain_problem():
            pytest.skip(f"{guide} compiles CUDA sources with g++: {toolchain_problem()}")
    assert "```python" in text
    run_guide(path, tmp_path)
    pictures = PICTURE.findall(text)
    assert pictures, f"{guide} shows no picture"
    for picture in pictures:
        assert (tmp_path / picture).is_file(), f"{guide} shows {picture} but its code did not write it"
        assert (GUIDES / picture).is_file(), f"{guide} shows {picture}, which is not committed"


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--update"]
    for p in sorted(GUIDES.glob("*.md")):
        if not args or p.name.startswith(args[0]):
            print(f"[guides] {p.name}", flush=True)
            run_guide(p, GUIDES, update="--update" in sys.argv)
