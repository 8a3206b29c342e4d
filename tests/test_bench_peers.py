"""bench/peers.py's plumbing (never its timings): the inputs' round trip through the .npz the worker reads,
the agreement check that keeps the contenders on the same computation, the worker protocol, the targets'
arithmetic and the JSON and table a run writes."""
from __future__ import annotations

import importlib.util
import json
import os
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def peers():
    """The script as a module; the thread settings it makes at import are undone for the other tests."""
    saved = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    spec = importlib.util.spec_from_file_location("peers_under_test", os.path.join(ROOT, "bench", "peers.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    return module


@pytest.fixture(scope="module")
def arrays(peers):
    return peers.make_arrays()


def test_arrays_survive_the_npz_the_worker_reads(peers, arrays, tmp_path):
    peers.save_arrays(arrays, tmp_path / "a.npz")
    back = peers.load_arrays(tmp_path / "a.npz")
    assert set(back) == set(peers.WORKLOADS) and set(back["gan"]) == set(arrays["gan"])
    for w in arrays:
        for k, v in arrays[w].items():
            assert back[w][k].dtype == v.dtype and np.array_equal(back[w][k], v)


def test_agreement_check_compares_gradients_and_catches_a_wrong_one(peers, arrays):
    contenders = {n: peers.Local(n, arrays, 1) for n in ("minigen", "numpy")}
    errors = peers.check_agreement(contenders, ["graph10", "mlp"])
    assert errors["graph10"]["numpy"] < 1e-5 and errors["mlp"]["numpy"] < 1e-5

    class Wrong(peers.Local):
        def check(self, workload):
            out = super().check(workload)
            out["grad1"] = out["grad1"] * 1.01
            return out

    with pytest.raises(AssertionError, match="numpy disagrees with minigen on graph10"):
        peers.check_agreement({"minigen": contenders["minigen"], "numpy": Wrong("numpy", arrays, 1)}, ["graph10"])


def test_worker_answers_checks_and_timings_over_its_pipe(peers, arrays, tmp_path):
    """The legacy worker's protocol, run here under this python with minigen as its engine."""
    path = str(tmp_path / "arrays.npz")
    peers.save_arrays({"graph10": arrays["graph10"]}, path)
    worker = peers.Worker(sys.executable, path, ["minigen"], 1, str(tmp_path))
    try:
        assert worker.versions["minigen"] and worker.info["numpy"] == np.__version__
        remote, local = peers.Remote("minigen", worker), peers.Local("minigen", arrays, 1)
        got, want = remote.check("graph10"), local.check("graph10")
        assert set(got) == {"grad0", "grad1"} and all(np.allclose(got[k], want[k]) for k in want)
        assert remote.seconds("graph10", 2) > 0
        with pytest.raises(RuntimeError, match="legacy worker: KeyError"):
            remote.seconds("no-such-workload", 1)
    finally:
        worker.close()
    assert worker.proc.returncode == 0


def test_targets_follow_the_issue(peers):
    def result(**ratios):
        return {"minigen_over": ratios}

    results = {"graph10": result(torch=0.9, mygrad=0.5, dezero=0.79, chainer=0.3),
               "mlp": result(numpy=1.31),
               "gan": result(torch=1.5, mygrad=0.99, dezero=1.0)}
    t = peers.targets(results)
    assert t["graph10 minigen/best(mygrad, dezero, chainer)"] == {"value": 0.79, "target": 0.8, "met": True}
    assert t["graph10 minigen/torch"]["met"] and not t["mlp minigen/numpy"]["met"]
    assert t["gan minigen/torch"]["met"] and t["gan minigen/mygrad"]["met"] and not t["gan minigen/dezero"]["met"]
    assert "gan minigen/chainer" not in t and "vae minigen/torch" not in t  # contenders absent: not judged


def test_a_run_writes_its_json_and_table(peers, tmp_path, capsys):
    out = tmp_path / "peers.json"
    with threadpool_limits(limits=None):  # restores the pools that main() pins to one thread
        report = peers.main(["--only", "graph10", "--engines", "numpy", "dezero", "--rounds", "2", "--block",
                             "0.001", "--out", str(out)])
    printed = capsys.readouterr().out
    assert "pip install 'numpy<1.24'" in printed and "--legacy-python" in printed  # the legacy recipe
    assert "(a) 10-op graph" in printed and "target graph10" not in printed  # no peers ran: not judged
    written = json.loads(out.read_text())
    assert written["skipped"] == {"dezero": "no --legacy-python"} and written["threads"] == 1
    g = written["workloads"]["graph10"]
    assert set(g["ms"]) == {"minigen", "numpy"} and g["rounds"] == 2
    assert g["minigen_over"]["numpy"] == pytest.approx(g["ms"]["minigen"] / g["ms"]["numpy"])
    assert report["threadpools"] and report["clock"] == "process_time"
    assert len(written["commit"]) >= 7 and len(written["load_average_at_end"]) == 3  # what code, how busy
    assert peers.machine_slug({"cpu_count": 2, "cpu": "AMD EPYC 7B13 64-Core"}) == "2cpu-amd-epyc-7b13-64-core"
