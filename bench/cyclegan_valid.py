"""CycleGAN runs compared without the test split: the validation metrics (models/gan/cyclegan.py's `metrics`,
200 digits per direction) and a larger check on the training digits, each in the domain it was not trained in.

Unpaired training data (digit_domains.unpaired) shows every training digit in one domain only: digit k in
thin (A) when k is even, in thick (B) when odd. So the thick drawing of an even digit (649) and the thin drawing
of an odd one (648) are images the model never saw; `unseen_ba` is the share of F(thick) that the digits
classifier reads as the digit, for the even digits, `unseen_ab` that of G(thin) for the odd ones, beside the
same on the real targets (`unseen_*_real`, the ceilings). The labels are never used in training, so this is a
criterion a choice may use (as bench/vade_valid.py's train_cluster_acc): it resolves about +-0.013 per
direction where the 200 validation digits resolve +-0.023, though D saw the other drawing of each digit.

    python bench/cyclegan_valid.py runs/pilot_a runs/pilot_b     # run folders of `minigen train cyclegan`
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

from minigen import models, trainer
from minigen.data import digit_domains
from minigen.models.evaluation import translation as measures


def unseen(model, split: str = "train") -> dict:
    """class_acc of the translations of the split's digits drawn in the domain they were not trained in."""
    domains = digit_domains.assignment(split, 2)
    a, b, labels = digit_domains.paired(split, model.domain_a, model.domain_b)
    in_a, in_b = domains == 0, domains == 1  # trained as a -> b unseen (and the other way round)
    fake_a = model.translate_numpy(b[in_a], model.domain_a)
    fake_b = model.translate_numpy(a[in_b], model.domain_b)

    def acc(images, domain, which):
        return float(np.mean(measures.digit_predictions(images, domain) == labels[which]))

    return {"unseen_ba": acc(fake_a, model.domain_a, in_a), "unseen_ba_real": acc(a[in_a], model.domain_a, in_a),
            "unseen_ab": acc(fake_b, model.domain_b, in_b), "unseen_ab_real": acc(b[in_b], model.domain_b, in_b),
            "unseen_n": [int(in_a.sum()), int(in_b.sum())]}


def load(run_dir: str):
    with open(os.path.join(run_dir, "run.json")) as f:
        run = json.load(f)
    model = models.create(run["name"], run["data"], **run.get("config", {}))
    trainer.load_model(model, run_dir)
    return model


def scores(model) -> dict:
    """The validation metrics (prefixed valid_) and the unseen-training-digit ones."""
    return {**{f"valid_{k}": v for k, v in model.metrics("valid").items()}, **unseen(model)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run folders of minigen train cyclegan")
    args = parser.parse_args(argv)
    for run_dir in args.runs:
        s = scores(load(run_dir))
        print(f"{run_dir}: valid class_acc {s['valid_class_acc']:.3f} domain_acc {s['valid_domain_acc']:.3f} "
              f"(thin->thick {s['valid_class_acc_ab']:.3f}, thick->thin {s['valid_class_acc_ba']:.3f}) | unseen "
              f"thick->thin {s['unseen_ba']:.3f} of {s['unseen_ba_real']:.3f}, thin->thick {s['unseen_ab']:.3f} "
              f"of {s['unseen_ab_real']:.3f}")


if __name__ == "__main__":
    main()
