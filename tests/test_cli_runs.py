"""`minigen train` and its run folders: refusals that change nothing, failed starts that leave nothing,
Ctrl-C that saves the step reached (exit 130) and a resume that continues bit for bit. Each case checks the
exit status and the one line on stderr."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from minigen import backend, trainer
from minigen.cli import main
from minigen.models.autoregressive.baselines import IndependentBernoulli
from minigen.serialization import load

FAST = ["--no-progress"]


def run_cli(capsys, *args):
    """(exit status, stdout, stderr lines) of `minigen ARGS` run in this process."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err.strip().splitlines()


def one_line_error(capsys, *args, code=2):
    status, _, lines = run_cli(capsys, *args)
    assert status == code, lines
    assert len(lines) == 1, lines
    return lines[0]


def snapshot(folder):
    """Every file under folder with its bytes and modification time (None when the folder is absent)."""
    if not os.path.exists(folder):
        return None
    return {os.path.relpath(os.path.join(d, f), folder): (open(os.path.join(d, f), "rb").read(),
                                                          os.stat(os.path.join(d, f)).st_mtime_ns)
            for d, _, files in os.walk(folder) for f in files}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished 5-step bernoulli run (copied by each test that uses it)."""
    out = tmp_path_factory.mktemp("runs") / "bernoulli"
    main(["train", "bernoulli", "--steps", "5", "--out", str(out), *FAST])
    return out


@pytest.fixture
def run(trained, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(trained, out)
    return str(out)


def test_training_into_a_run_is_refused_and_changes_nothing(run, capsys):
    before = snapshot(run)
    line = one_line_error(capsys, "train", "bernoulli", "--steps", "50", "--out", run, *FAST)
    assert line.startswith("minigen: error: ") and run in line
    assert "--resume" in line and "new --out" in line and "--overwrite" in line
    assert snapshot(run) == before


def test_overwrite_replaces_the_run(run, capsys):
    main(["sample", "bernoulli", "--from", run, "--n", "4"])
    assert os.path.exists(os.path.join(run, "samples-0.png"))
    status, _, _ = run_cli(capsys, "train", "bernoulli", "--steps", "3", "--out", run, "--overwrite", *FAST)
    assert status == 0
    assert json.load(open(os.path.join(run, "run.json")))["steps"] == 3
    assert trainer.checkpoint_step(run) == 3
    assert not os.path.exists(os.path.join(run, "samples-0.png"))  # the old run's outputs are gone


@pytest.mark.parametrize("args, fragment", [
    (["--steps", "9", "--set", "lr=0.1"], "was trained with other options: lr=0.1 (the run's: 0.05)"),
    (["--steps", "9", "--batch-size", "32"], "batch_size=32 (the run's: 64)"),
    (["--steps", "9", "--seed", "4"], "--seed 4 (the run's: 0)"),
    (["--steps", "3"], "is already at step 5"),
    (["--steps", "5"], "is already at step 5"),
    (["--steps", "9", "--overwrite"], "give one of them"),
])
def test_a_refused_resume_changes_nothing(run, capsys, args, fragment):
    before = snapshot(run)
    line = one_line_error(capsys, "train", "bernoulli", "--out", run, "--resume", *args, *FAST)
    assert fragment in line
    assert snapshot(run) == before
    status, out, _ = run_cli(capsys, "eval", "bernoulli", "--from", run)  # the run still evaluates
    assert status == 0 and json.loads(out.splitlines()[-1]) == json.load(open(os.path.join(run, "metrics.json")))


def test_resuming_as_another_model_is_refused(run, capsys):
    before = snapshot(run)
    line = one_line_error(capsys, "train", "fvsbn", "--out", run, "--resume", "--steps", "9", *FAST)
    assert "holds a 'bernoulli' run, not 'fvsbn'" in line and "minigen train bernoulli" in line
    assert snapshot(run) == before


@pytest.mark.parametrize("args, fragment", [
    (["--lr", "-1"], "argument --lr: expects a positive number, got -1"),
    (["--batch-size", "0"], "argument --batch-size: expects a positive integer, got 0"),
    (["--set", "batch_size=0"], "batch_size must be >= 1"),
    (["--steps", "0"], "argument --steps: expects a positive number of steps, got 0"),
    (["--steps", "-3"], "argument --steps: expects a positive number of steps, got -3"),
    (["--resume"], "holds no run to continue"),
    (["--data", "digts"], "--data digts: bernoulli trains on digits"),
    (["--set", "lr=fast"], "--set lr=fast: lr takes a number (default 0.05), got 'fast'"),
    (["--threads", "0"], "argument --threads: expects a positive integer"),
])
def test_a_failed_start_leaves_no_folder(tmp_path, capsys, args, fragment):
    out = tmp_path / "new"
    line = one_line_error(capsys, "train", "bernoulli", "--steps", "4", "--out", out, *args, *FAST)
    assert fragment in line
    assert not out.exists()


def test_cuda_without_a_gpu_leaves_no_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(backend, "cuda_is_available", lambda: False)
    out = tmp_path / "new"
    line = one_line_error(capsys, "train", "bernoulli", "--steps", "4", "--out", out, "--device", "cuda", *FAST)
    assert "--device cuda: no GPU is available" in line and not out.exists()


def test_a_failed_overwrite_keeps_the_old_run(run, capsys):
    before = snapshot(run)
    line = one_line_error(capsys, "train", "bernoulli", "--steps", "4", "--out", run, "--overwrite",
                          "--set", "batch_size=100000", *FAST)
    assert "bernoulli refused batch_size=100000 (batch_size takes an int, default 64)" in line
    assert snapshot(run) == before


def test_out_naming_a_file(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    line = one_line_error(capsys, "train", "bernoulli", "--steps", "2", "--out", path, *FAST)
    assert f"{path} is a file, not a folder" in line and path.read_text() == "mine"


def test_a_checkpoint_of_another_model(run, tmp_path, capsys):
    other = tmp_path / "fvsbn"
    main(["train", "fvsbn", "--steps", "2", "--out", str(other), *FAST])
    shutil.copy(other / "checkpoint.npz", os.path.join(run, "checkpoint.npz"))
    before = snapshot(run)
    line = one_line_error(capsys, "eval", "bernoulli", "--from", run)
    assert "checkpoint.npz does not fit this bernoulli" in line and "missing keys: logits" in line
    line = one_line_error(capsys, "train", "bernoulli", "--out", run, "--resume", "--steps", "9", *FAST)
    assert "checkpoint.npz does not fit this bernoulli" in line
    assert snapshot(run) == before


def _interrupt_during_step(monkeypatch, at: int):
    """Make bernoulli's train_step deliver SIGINT (Ctrl-C) to this process at the start of step `at`."""
    original = IndependentBernoulli.train_step

    def train_step(self, batch, optimizers, step):
        if step == at:
            signal.raise_signal(signal.SIGINT)
        return original(self, batch, optimizers, step)

    monkeypatch.setattr(IndependentBernoulli, "train_step", train_step)


def test_ctrl_c_saves_the_step_reached_and_resume_is_exact(tmp_path, capsys, monkeypatch):
    straight, stopped = str(tmp_path / "straight"), str(tmp_path / "stopped")
    main(["train", "bernoulli", "--steps", "20", "--out", straight, *FAST])
    with monkeypatch.context() as m:
        _interrupt_during_step(m, at=6)
        line = one_line_error(capsys, "train", "bernoulli", "--steps", "20", "--out", stopped, *FAST, code=130)
    assert line == (f"minigen: interrupted at step 7 of 20; checkpoint saved at step 7 in {stopped}/checkpoint.npz; "
                    f"continue with: minigen train bernoulli --out {stopped} --resume")
    assert trainer.checkpoint_step(stopped) == 7 and not os.path.exists(os.path.join(stopped, "metrics.json"))
    status, _, _ = run_cli(capsys, "train", "bernoulli", "--out", stopped, "--resume", *FAST)  # to run.json's 20
    assert status == 0
    a, b = load(os.path.join(straight, "checkpoint.npz")), load(os.path.join(stopped, "checkpoint.npz"))
    np.testing.assert_array_equal(a["model"]["logits"].numpy(), b["model"]["logits"].numpy())
    assert json.load(open(os.path.join(straight, "metrics.json"))) == json.load(open(os.path.join(stopped,
                                                                                                  "metrics.json")))
    assert json.load(open(os.path.join(stopped, "run.json")))["resumed"] == [
        f"minigen train bernoulli --out {stopped} --resume --no-progress"]


def test_ctrl_c_to_a_real_process(tmp_path):
    """SIGINT sent to `minigen train` from outside: exit 130, one line, the checkpoint at the step it names."""
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "minigen", "train", "bernoulli", "--steps", "100000000",
                             "--out", str(out), *FAST], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "run.json").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    lines = err.strip().splitlines()
    assert proc.returncode == 130 and len(lines) == 1, err
    step = int(lines[0].split("interrupted at step ")[1].split()[0])
    assert step > 0 and trainer.checkpoint_step(str(out)) == step
    assert "Traceback" not in err


def test_seed_picks_the_starting_weights_whatever_ran_before(tmp_path):
    """`--seed S` seeds the model's initialisation too: the same S gives the same weights after random
    draws in this process, another S other weights."""
    def weights(seed, name):
        out = tmp_path / name
        main(["train", "nade", "--steps", "1", "--seed", str(seed), "--out", str(out), *FAST])
        return np.load(out / "checkpoint.npz")

    first = weights(1, "a")
    backend.rng("cpu").standard_normal(1000)  # the process's random stream moves on
    again, other = weights(1, "b"), weights(2, "c")
    keys = [k for k in first.files if k.startswith("model")]
    assert keys and all(np.array_equal(first[k], again[k]) for k in keys)
    assert any(not np.array_equal(first[k], other[k]) for k in keys)


def test_eval_split_valid_writes_the_validation_metrics_and_never_the_test_ones(tmp_path, capsys):
    """`--eval-split valid` (pilot runs): metrics.json and the printed line hold the valid split's metrics, the
    same as `minigen eval --split valid`, and no test_ name."""
    out = str(tmp_path / "pilot")
    status, printed, _ = run_cli(capsys, "train", "bernoulli", "--out", out, "--steps", "3", "--eval-split",
                                 "valid", *FAST)
    written = json.load(open(os.path.join(out, "metrics.json")))
    assert status == 0 and json.loads(printed.splitlines()[-1]) == written
    assert written and all(k.startswith("valid_") for k in written)
    status, again, _ = run_cli(capsys, "eval", "bernoulli", "--from", out, "--split", "valid")
    assert status == 0 and json.loads(again.splitlines()[-1]) == written
