"""The `minigen` command end to end: train into a temporary folder, check every output, eval, sample,
resume exactly, and one-line errors for bad input."""
import json
import subprocess
import sys

import numpy as np
import pytest

import minigen.models as models
from minigen import trainer
from minigen.cli import main


def test_train_writes_every_output(tmp_path):
    out = tmp_path / "run"
    main(["train", "bernoulli", "--steps", "15", "--out", str(out), "--no-progress"])
    for name in ("checkpoint.npz", "metrics.json", "samples.png", "curves.png", "run.json"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"test_nll", "test_bpd"} <= set(metrics)
    assert 0 < metrics["test_nll"] < 64 * np.log(2) + 1e-6  # below the uniform model's 44.4 nats
    from PIL import Image

    assert Image.open(out / "samples.png").size[0] > 32


def test_eval_prints_metrics_json_on_last_line(tmp_path, capsys):
    out = str(tmp_path / "run")
    main(["train", "bernoulli", "--steps", "5", "--out", out, "--no-progress"])
    capsys.readouterr()
    main(["eval", "bernoulli", "--from", out])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert json.loads(last)["test_nll"] == pytest.approx(saved["test_nll"])


def test_sample_writes_an_image(tmp_path, capsys):
    out = str(tmp_path / "run")
    main(["train", "bernoulli", "--steps", "3", "--out", out, "--no-progress"])
    main(["sample", "bernoulli", "--from", out, "--n", "16", "--out", str(tmp_path / "s.png")])
    assert (tmp_path / "s.png").exists()


def test_resume_continues_exactly(tmp_path):
    """20 steps in one go == 10 steps, then resume for 10 more: identical parameters, bit for bit."""
    full, half = str(tmp_path / "full"), str(tmp_path / "half")
    a = models.create("bernoulli")
    trainer.train(a, 20, full, progress=False, checkpoint_every=7)
    b = models.create("bernoulli")
    trainer.train(b, 10, half, progress=False)
    c = models.create("bernoulli")
    trainer.train(c, 20, half, resume=True, progress=False)
    for (name, p), (_, q) in zip(a.named_parameters(), c.named_parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=name)
    assert not np.array_equal(b.logits.numpy(), c.logits.numpy())


@pytest.mark.parametrize("args, fragment", [
    (["train", "no-such-model", "--out", "x"], "unknown model"),
    (["train", "bernoulli", "--steps", "ten", "--out", "x"], "--steps: expects a positive number of steps"),
    (["eval", "bernoulli", "--from", "/nonexistent/run"], "run.json missing"),
    (["train", "bernoulli", "--out", "x", "--set", "hidden=3"], "bernoulli has no option 'hidden'"),
    (["gradcheck", "no-such-op"], "no gradient check"),
])
def test_bad_input_gives_one_line_and_nonzero_exit(args, fragment, tmp_path):
    r = subprocess.run([sys.executable, "-m", "minigen", *args], capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in r.stderr


def test_list_and_gradcheck(capsys):
    main(["list"])
    assert "bernoulli" in capsys.readouterr().out
    main(["gradcheck", "tanh"])
    out = capsys.readouterr().out
    assert "tanh" in out and "ok" in out and "FAILED" not in out


def test_tensorboard_events(tmp_path):
    pytest.importorskip("tensorboardX", reason="tensorboardX is the optional 'tensorboard' extra")
    out = tmp_path / "run"
    main(["train", "bernoulli", "--steps", "4", "--out", str(out), "--no-progress", "--tensorboard"])
    events = list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
