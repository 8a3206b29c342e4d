"""FactorVAE against beta-VAE on shapes over seeds: mean ± sem of `disentanglement` and test_recon.

    python bench/disentanglement_seeds.py      # reads bench/results/zoo.json, writes disentanglement_seeds.json

Nothing trains here: the runs are zoo runs (bench/zoo.py, ZOO_RUNS), one key per seed (KEY, KEY-seed1,
KEY-seed2: `python bench/zoo.py --only factor-vae@gamma40-seed1` reruns one). The settings compared:
FactorVAE at gamma 40, and beta-VAE at the betas whose validation-split reconstruction was nearest
FactorVAE's (1.5 and 2; beta 4, the earlier one-seed comparison, reconstructs about 6.6 nats worse). The
seed statistics are zoo_page's (`over_seeds`), the same numbers as the zoo page's "Over seeds" table.
Also written: the difference of the means with its standard error (independent seeds) and Welch's t.
"""
from __future__ import annotations

import json
import math
import os

import zoo_page  # bench/zoo_page.py (bench/ is on the path when this script runs)

SETTINGS = {"factor-vae gamma 40": "factor-vae@gamma40", "beta-vae beta 1.5": "beta-vae@shapes-beta1.5",
            "beta-vae beta 2": "beta-vae@shapes-beta2"}
METRICS = ["disentanglement", "test_recon", "test_elbo", "test_kl", "active_dims"]
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "disentanglement_seeds.json")


def difference(a: dict, b: dict) -> dict:
    """mean(a) - mean(b), its standard error sqrt(sem_a^2 + sem_b^2), and the ratio (Welch's t)."""
    diff, se = a["mean"] - b["mean"], math.hypot(a["sem"], b["sem"])
    return {"difference": diff, "se": se, "t": diff / se if se > 0 else float("nan")}


def main() -> None:
    entries = zoo_page.load()["models"]
    groups = zoo_page.seed_groups(entries)
    out = {"settings": {}, "factor_vae_minus_beta_vae": {}}
    for name, base in SETTINGS.items():
        keys = groups.get(base, [base] if base in entries else [])
        if not keys:
            raise SystemExit(f"no zoo record of {base}: run python bench/zoo.py --only {base} first")
        out["settings"][name] = {"keys": keys, "commands": [entries[k]["command"] for k in keys],
                                 **zoo_page.over_seeds(entries, keys, METRICS)}
    factor = out["settings"]["factor-vae gamma 40"]
    for name, s in out["settings"].items():
        if name.startswith("beta-vae"):
            out["factor_vae_minus_beta_vae"][name] = {m: difference(factor[m], s[m])
                                                      for m in ("disentanglement", "test_recon")}
    with open(OUT, "w") as f:
        json.dump(out, f, indent=2)
    for name, s in out["settings"].items():
        print(f"{name:22s} n={len(s['keys'])}  " + "  ".join(
            f"{m} {s[m]['mean']:.3f} ± {s[m]['sem']:.3f}" for m in ("disentanglement", "test_recon")))
    for name, d in out["factor_vae_minus_beta_vae"].items():
        print(f"factor-vae - {name}: " + "  ".join(
            f"{m} {v['difference']:+.3f} ± {v['se']:.3f} (t {v['t']:.2f})" for m, v in d.items()))


if __name__ == "__main__":
    main()
