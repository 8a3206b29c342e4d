"""bench/progan_length.py, how long ProGAN's last stage runs (issue 19): scoring a resumed run between lengths
leaves the run as the uninterrupted one, and the model's own average scores as the run's metrics would."""
import importlib.util
import json
from pathlib import Path

import numpy as np

import minigen as mg
from minigen.models import create
from minigen.models.evaluation import digits_classifier
from minigen.models.evaluation.gan_metrics import classifier_scores
from minigen.trainer import train

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("progan_length", ROOT / "bench" / "progan_length.py")
progan_length = importlib.util.module_from_spec(spec)
spec.loader.exec_module(progan_length)

TINY = {"channels": 8, "z_dim": 4, "batch_size": 8, "stable_steps": [2, 2], "fade_steps": [4, 4]}


def tiny_run(out: Path, steps: int):
    mg.manual_seed(0)  # the initial weights, as the CLI draws them
    model = create("progan", "digits", **TINY)
    train(model, steps, str(out), progress=False)
    (out / "run.json").write_text(json.dumps({"data": "digits", "config": TINY, "seed": 0}))
    return model


def test_scoring_between_lengths_leaves_the_run_as_the_uninterrupted_one(tmp_path):
    # the first use of the scores' caches (classifier, digits, features) draws from the CPU generator: a first
    # run in this process puts them in place, so that the two compared runs draw the same
    tiny_run(tmp_path / "first", 9)
    classifier_scores(np.zeros((2, 1, 8, 8), np.float32))
    whole = tiny_run(tmp_path / "whole", 16)
    tiny_run(tmp_path / "resumed", 12)
    digits_classifier.load.cache_clear()  # built again by the first score, mid-run, from the run's generator
    rows = list(progan_length.score_lengths(str(tmp_path / "resumed"), [13, 16]))
    assert [r["steps"] for r in rows] == [13, 16]
    assert set(rows[0]) == {"steps", "seconds", "G", "ema0.99", "ema0.995", "ema0.999"}
    ckpt = np.load(tmp_path / "resumed" / "checkpoint.npz")
    for k, v in whole.state_dict().items():  # the first score (at 13) drew nothing from the run's noise
        np.testing.assert_array_equal(ckpt[f"model.{k}"], v.numpy(), err_msg=k)
    assert rows[1]["ema0.99"] == progan_length.fd_of(whole, progan_length.weights(whole.generator_ema))
    assert rows[1]["ema0.995"] != rows[1]["ema0.99"]  # the extra averages are their own


def test_a_fresh_run_is_the_commands_and_the_extra_averages_copy_the_models_below_from_level(tmp_path):
    tiny_run(tmp_path / "first", 9)  # the scores' caches in place (as above)
    classifier_scores(np.zeros((2, 1, 8, 8), np.float32))
    whole = tiny_run(tmp_path / "whole", 16)
    # TINY grows to level 2 (8x8) at step 8: averages that copy the model's up to level 3 never leave it,
    # those that copy it up to level 2 average on their own from step 8
    digits_classifier.load.cache_clear()
    rows = list(progan_length.score_lengths(str(tmp_path / "fresh"), [16], (0.995,), fresh=0, from_level=3,
                                            config=TINY))
    assert json.loads((tmp_path / "fresh" / "run.json").read_text()) == {"data": "digits", "config": TINY, "seed": 0}
    ckpt = np.load(tmp_path / "fresh" / "checkpoint.npz")
    for k, v in whole.state_dict().items():
        np.testing.assert_array_equal(ckpt[f"model.{k}"], v.numpy(), err_msg=k)
    assert rows[0]["ema0.995"] == rows[0]["ema0.99"]
    digits_classifier.load.cache_clear()
    own = list(progan_length.score_lengths(str(tmp_path / "fresh2"), [16], (0.995,), fresh=0, from_level=2,
                                           config=TINY))
    assert own[0]["ema0.99"] == rows[0]["ema0.99"] and own[0]["ema0.995"] != own[0]["ema0.99"]
