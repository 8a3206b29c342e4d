"""bench/cyclegan_valid.py, CycleGAN's choice without the test split: the "unseen" drawings are the training
digits' images that the training loader never yields, a perfect translator scores the real ceilings, and a
saved run is reloaded and scored from its folder."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import minigen as mg
from minigen import models, trainer
from minigen.data import digit_domains

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("cyclegan_valid", ROOT / "bench" / "cyclegan_valid.py")
cyclegan_valid = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cyclegan_valid)

TINY = {"channels": [4, 8, 8], "d_channels": 4, "batch_size": 8}


def test_unseen_drawings_are_not_in_the_training_batches():
    model = models.create("cyclegan", **TINY)
    batches = list(model.loader("train", batch_size=64, shuffle=False, drop_last=False))
    trained = {x.tobytes() for batch in batches for part in batch[:2] for x in part.numpy()}
    a, b, _ = digit_domains.paired("train", "thin", "thick")
    domains = digit_domains.assignment("train", 2)
    unseen = np.concatenate([b[domains == 0], a[domains == 1]])  # thick of the thin-trained, thin of the others
    assert len(unseen) == len(a) == 1297
    assert not any(x.tobytes() in trained for x in unseen)
    # the loader keeps 648 of each domain (the shorter's length), so 1296 of the other drawings were trained on
    assert sum(x.tobytes() in trained for x in np.concatenate([a[domains == 0], b[domains == 1]])) == 1296


def test_a_perfect_translator_scores_the_real_ceilings(monkeypatch):
    a, b, _ = digit_domains.paired("train", "thin", "thick")

    def perfect(x, domain=None):  # the true drawing of each training image in the other domain
        source, target = (b, a) if domain == "thin" else (a, b)
        index = {img.tobytes(): k for k, img in enumerate(source)}
        return np.stack([target[index[img.tobytes()]] for img in x])

    model = models.create("cyclegan", **TINY)
    monkeypatch.setattr(model, "translate_numpy", perfect)
    s = cyclegan_valid.unseen(model)
    assert s["unseen_n"] == [649, 648]
    assert s["unseen_ba"] == pytest.approx(s["unseen_ba_real"], abs=0.01)
    assert s["unseen_ab"] == pytest.approx(s["unseen_ab_real"], abs=0.01)
    assert 0.8 < s["unseen_ba_real"] < 1 and 0.8 < s["unseen_ab_real"] < 1


def test_a_saved_run_is_reloaded_and_scored(tmp_path):
    mg.manual_seed(0)
    model = models.create("cyclegan", "digit-domains", **TINY)
    trainer.Training(model, 2, str(tmp_path), checkpoint_every=10**9).run(progress=False)
    (tmp_path / "run.json").write_text(json.dumps({"name": "cyclegan", "data": "digit-domains", "config": TINY}))
    s = cyclegan_valid.scores(cyclegan_valid.load(str(tmp_path)))
    assert {"valid_class_acc", "valid_class_acc_ba", "unseen_ba", "unseen_ab"} <= set(s)
    assert all(0 <= s[k] <= 1 for k in ("valid_class_acc", "unseen_ba", "unseen_ab"))
    assert s["valid_class_acc_real"] == pytest.approx(0.8825)  # the valid ceiling: real targets, not the model
