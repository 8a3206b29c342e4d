"""The `minigen` command's other paths: typed --set errors, one seeded evaluation (metrics.json == eval),
split-named metrics, sample --n, --version, help with defaults (and the README's synopsis), info, list,
BLAS threads, and bench/overhead.py's output when PyTorch is missing. Each case checks the exit status and
the one line a user sees."""
import importlib.util
import json
import os
import re
import shlex
import sys

import numpy as np
import pytest
import threadpoolctl

import minigen
import minigen.models as models
from minigen import cli, trainer
from test_cli_runs import FAST, one_line_error, run_cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_VAE = ["--set", "hidden=16", "--set", "latent=2", "--set", "eval_k=8"]


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("runs") / "vae")
    cli.main(["train", "vae", "--steps", "3", "--out", out, *TINY_VAE, *FAST])
    return out


@pytest.mark.parametrize("args, fragment", [
    (["nade", "--set", "hidden=-3"], "nade refused hidden=-3 (hidden takes an int, default 100): "),
    (["nade", "--set", "hidden=2.5"], "--set hidden=2.5: hidden takes an int (default 100), got '2.5'"),
    (["gumbel-vae", "--set", "hard=1"], "--set hard=1: hard takes true or false (default false), got '1'"),
    (["gan", "--set", "decay_steps=soon"], "decay_steps takes an int or null (default null), got 'soon'"),
    (["nade", "--set", "hiden=3"], "--set hiden=3: nade has no option 'hiden'; its options are lr, batch_size, "
                                   "hidden"),
    (["nade", "--set", "hidden"], "--set expects KEY=VALUE, got 'hidden'"),
    (["gan", "--data", "digts"], "--data digts: gan trains on digits, ring8, grid25"),
    (["no-such-model"], "unknown model 'no-such-model'"),
])
def test_set_and_data_errors_name_the_option(tmp_path, capsys, args, fragment):
    out = tmp_path / "new"
    line = one_line_error(capsys, "train", *args, "--steps", "2", "--out", out, *FAST)
    assert line.startswith("minigen: error: ") and fragment in line
    assert not out.exists()


def test_metrics_json_and_eval_agree_exactly(vae_run, capsys):
    """The VAE's metrics draw random numbers (ELBO, importance sampling): one seeded path gives one answer."""
    status, out, _ = run_cli(capsys, "eval", "vae", "--from", vae_run)
    assert status == 0
    assert json.loads(out.splitlines()[-1]) == json.load(open(os.path.join(vae_run, "metrics.json")))
    status, out, _ = run_cli(capsys, "eval", "vae", "--from", vae_run, "--seed", "1")
    other = json.loads(out.splitlines()[-1])
    assert other["iwae_nll"] != json.load(open(os.path.join(vae_run, "metrics.json")))["iwae_nll"]


def test_metrics_that_need_gradients_go_through_the_same_path(tmp_path, capsys):
    """gumbel-vae measures encoder-gradient variances inside metrics(): evaluate() must leave grad mode to it."""
    out = str(tmp_path / "gumbel")
    status, printed, lines = run_cli(capsys, "train", "gumbel-vae", "--steps", "2", "--out", out, "--set", "hidden=8",
                                     "--set", "eval_k=4", "--set", "variance_draws=2", *FAST)
    assert status == 0, lines
    metrics = json.loads(printed.splitlines()[-1])
    assert metrics["grad_var_gumbel"] > 0
    status, printed, _ = run_cli(capsys, "eval", "gumbel-vae", "--from", out)
    assert json.loads(printed.splitlines()[-1]) == metrics


def test_eval_names_metrics_by_split(vae_run, capsys):
    status, out, _ = run_cli(capsys, "eval", "vae", "--from", vae_run, "--split", "valid")
    metrics = json.loads(out.splitlines()[-1])
    assert status == 0 and {"valid_elbo", "valid_iwae_nll"} <= set(metrics)
    assert all(k.startswith("valid_") for k in metrics)
    test = json.load(open(os.path.join(vae_run, "metrics.json")))
    assert metrics["valid_elbo"] != test["test_elbo"]


def test_sample_gives_exactly_n(vae_run, tmp_path, capsys):
    path = tmp_path / "s.png"
    status, out, _ = run_cli(capsys, "sample", "vae", "--from", vae_run, "--n", "16", "--out", path)
    assert status == 0 and out.startswith("16 samples of shape (1, 8, 8)")
    assert np.load(tmp_path / "s.npz")["samples"].shape == (16, 1, 8, 8)
    from PIL import Image

    assert Image.open(path).size[0] > 0


def test_version(capsys):
    status, out, _ = run_cli(capsys, "--version")
    assert status == 0 and out.strip() == f"minigen {minigen.__version__}"


def _readme_synopsis(command: str) -> list:
    """The lines of the README's CLI section that start `minigen COMMAND`."""
    text = open(os.path.join(ROOT, "README.md")).read()
    section = text.split("## The `minigen` command", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.strip().startswith(f"minigen {command} ")]


def test_train_help_shows_the_defaults_the_readme_shows(capsys):
    status, out, _ = run_cli(capsys, "train", "--help")
    flat = " ".join(out.split())
    assert status == 0
    defaults = dict(re.findall(r"(--[\w-]+) [A-Z_{},]+ [^()]*?\(default: ([^;)]+)", flat))
    assert defaults["--steps"] == str(cli.DEFAULT_STEPS) and defaults["--seed"] == "0"
    assert defaults["--threads"] == str(cli.DEFAULT_THREADS) and defaults["--data"] == "digits"
    (synopsis,) = _readme_synopsis("train")
    shown = [(flag, value) for flag, value in re.findall(r"\[(--[\w-]+) ([^\]|]+)\]", synopsis)
             if not value.isupper() and "=" not in value]  # placeholders (LR, KEY=VALUE) have no default
    assert {"--steps", "--seed", "--data", "--threads"} <= {flag for flag, _ in shown}
    for flag, value in shown:
        assert defaults[flag] == value, (flag, value, defaults.get(flag))


def test_help_documents_the_paths_a_user_hits(capsys):
    status, out, _ = run_cli(capsys, "--help")
    for words in ("--resume", "--overwrite", "130", "MINIGEN_DEBUG", "--threads", "minigen info NAME"):
        assert words in out, words


def test_info_shows_options_data_metrics_and_paper(capsys):
    status, out, _ = run_cli(capsys, "info", "gan", "--data", "ring8")
    assert status == 0
    for key, value in models.model_class("gan").default_config("ring8").items():
        assert re.search(rf"^ +{key} +{re.escape(json.dumps(value))} ", out, re.M), key
    assert "decay_steps" in out and "an int or null" in out
    assert "digits, ring8, grid25" in out and "Goodfellow et al., 2014" in out and "modes_" in out
    status, out, _ = run_cli(capsys, "info", "vae")
    assert "test_elbo" in out and "Kingma & Welling, 2014" in out and "latent variables" in out
    assert one_line_error(capsys, "info", "vae", "--data", "ring8") == (
        "minigen: error: vae trains on digits; there is no data set 'ring8'")


def test_list_says_what_data_the_command_trains_on(capsys):
    status, out, _ = run_cli(capsys, "list")
    rows = dict(line.split(None, 1) for line in out.splitlines()[1:] if line and not line[0].isupper())
    for name in models.names():
        assert rows[name].split() == list(models.model_class(name).datasets)
    assert "trains on these only" in out and "load_idx" in out


def test_threads_pin_blas(vae_run, capsys, monkeypatch):
    seen = []

    def evaluate(model, split="test", seed=0):
        seen.append({p["user_api"]: p["num_threads"] for p in threadpoolctl.threadpool_info()})
        return {}

    monkeypatch.setattr(trainer, "evaluate", evaluate)
    for args, threads in (([], cli.DEFAULT_THREADS), (["--threads", "2"], 2)):
        assert run_cli(capsys, "eval", "vae", "--from", vae_run, *args)[0] == 0
        assert seen[-1].get("blas", threads) == threads


def _overhead_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as on a machine without PyTorch (and no slow import)
    spec = importlib.util.spec_from_file_location("overhead_under_test", os.path.join(ROOT, "bench", "overhead.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.torch is None
    monkeypatch.setattr(module, "check_agreement", lambda rng: None)
    monkeypatch.setattr(module, "measure", lambda cases, calls, repeats: {name: 1e-3 for name in cases})
    return module


def test_bench_overhead_without_torch_keeps_the_recorded_results(tmp_path, capsys, monkeypatch):
    module = _overhead_module(monkeypatch)
    recorded = open(module.RECORDED, "rb").read()
    monkeypatch.chdir(tmp_path)
    module.main(["--quick"])
    out = capsys.readouterr().out
    assert "PyTorch is not importable: skipped" in out and "nan" not in out.lower()
    assert open(module.RECORDED, "rb").read() == recorded
    written = json.load(open(tmp_path / "runs" / "bench" / "overhead.json"))
    assert "skipped" in written and "torch" not in written["mlp"]["1024"]["ms_forward_backward"]
    module.main(["--quick", "--out", str(tmp_path / "asked.json")])
    assert (tmp_path / "asked.json").exists()


def test_readme_main_job_is_the_ci_command():
    """Line 3 of the README is the job CI runs and the README times; it must stay a valid train command."""
    line = open(os.path.join(ROOT, "README.md")).read().splitlines()[2]
    job = shlex.split(line.split("&&", 1)[1])
    assert job[:3] == ["minigen", "train", "nade"]
    args = cli._parser().parse_args(job[1:])
    assert args.steps == 2000 and args.lr == 0.005
