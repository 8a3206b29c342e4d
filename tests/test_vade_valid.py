"""bench/vade_valid.py, VaDE's validation-split selection: its option parsing, the records of a (tiny) run and
of the pretraining-only proxy (with the autoencoder chosen among restarts), and the summary's means over
seeds."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("vade_valid", ROOT / "bench" / "vade_valid.py")
vade_valid = importlib.util.module_from_spec(spec)
spec.loader.exec_module(vade_valid)

TINY = {"hidden": 16, "latent": 3, "clusters": 4, "gmm_restarts": 2}


def test_parse_keeps_numbers_as_numbers_and_names_as_strings():
    assert vade_valid.parse("latent=10,covariance=full,pretrain_loss=mse,lr=1e-3,beta=2.0,seed=1") == {
        "latent": 10, "covariance": "full", "pretrain_loss": "mse", "lr": 0.001, "beta": 2.0, "seed": 1}


def test_a_run_records_the_fit_the_curve_and_the_elbo_and_the_proxy_only_the_fit():
    full = vade_valid.run({**TINY, "pretrain_restarts": 2, "seed": 1}, steps=4, pretrain=2, every=2)
    assert set(full["valid_cluster_acc"]) == {"gmm_fit", "gmm_init", "4"}
    assert all(0 < a <= 1 for a in full["valid_cluster_acc"].values())
    assert full["settings"]["seed"] == 1 and full["settings"]["pretrain_loss"] == "mse"  # the default, named
    assert isinstance(full["valid_elbo"], float)
    assert full["pretrain_choice"]["chosen"] in (0, 1) and len(full["pretrain_choice"]["sureness"]) == 2
    assert set(full["train_cluster_acc"]) == {"gmm_fit", "4"}  # the same clusterings scored on train
    assert all(0 < a <= 1 for a in full["train_cluster_acc"].values())
    consensus = vade_valid.run({**TINY, "pretrain_restarts": 2, "restart_choice": "consensus"}, steps=2, pretrain=2,
                               every=2)
    assert len(consensus["pretrain_choice"]["agreement"]) == 2  # how much each agreed with the consensus
    proxy = vade_valid.run(dict(TINY), steps=2, pretrain=2, every=2)
    assert set(proxy["valid_cluster_acc"]) == {"gmm_fit"} and "valid_elbo" not in proxy
    assert "pretrain_choice" not in proxy  # one autoencoder: nothing to choose


def test_summary_averages_each_setting_over_its_seeds():
    def record(seed, fit, end, **settings):
        return {"settings": {**settings, "seed": seed}, "steps": 4, "pretrain_steps": 2,
                "valid_cluster_acc": {"gmm_fit": fit, "4": end}}

    with_train = {**record(1, 0.7, 0.8, covariance="full", latent=10), "train_cluster_acc": {"gmm_fit": 0.6, "4": 0.7}}
    rows = vade_valid.summary([record(0, 0.8, 0.9, latent=10, covariance="full"), with_train,
                               record(0, 0.5, 0.6, latent=5)])
    # one setting in any key order; train over the seeds that recorded it
    assert rows[2] == "| covariance full, latent 10 | 2 / 4 | 0/1 | 0.750 | 0.850 | 0.600 | 0.700 |"
    assert rows[3] == "| latent 5 | 2 / 4 | 0 | 0.500 | 0.600 | - | - |"
    assert len(rows) == 4
