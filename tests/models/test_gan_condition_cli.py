"""`minigen sample` with a caption (gan-cls --text) or given parts (puzzle-gan --parts): the condition reaches
the model, is saved beside the samples, and a bad one is a one-line error naming it."""
import numpy as np

from test_cli_runs import FAST, one_line_error, run_cli


def trained(capsys, tmp_path, name: str, *sets: str):
    """A one-step run of `name` with tiny networks, its folder."""
    out = tmp_path / "run"
    args = [a for s in sets for a in ("--set", s)]
    status, _, err = run_cli(capsys, "train", name, "--steps", "1", "--out", out, "--batch-size", "8", *args, *FAST)
    assert status == 0, err
    return out


def test_gan_cls_samples_a_caption_and_names_unknown_words(tmp_path, capsys):
    out = trained(capsys, tmp_path, "gan-cls", "channels=4", "z_dim=4")
    assert run_cli(capsys, "sample", "gan-cls", "--from", out, "--text", "a thick seven", "--n", "5",
                   "--out", tmp_path / "s.png")[0] == 0
    saved = np.load(tmp_path / "s.npz")
    assert saved["samples"].shape == (5, 1, 8, 8) and str(saved["text"]) == "a thick seven"
    error = one_line_error(capsys, "sample", "gan-cls", "--from", out, "--text", "a fat seven")
    assert "unknown word(s) 'fat'" in error and error.startswith("minigen: error:")


def test_puzzle_gan_completes_given_parts(tmp_path, capsys):
    out = trained(capsys, tmp_path, "puzzle-gan", "channels=4", "grid=2")
    assert run_cli(capsys, "sample", "puzzle-gan", "--from", out, "--parts", "0,3", "--n", "4",
                   "--out", tmp_path / "p.png")[0] == 0
    saved = np.load(tmp_path / "p.npz")
    assert saved["samples"].shape == (4, 1, 8, 8) and saved["parts"].tolist() == [0, 3]
    assert "parts are 0..3" in one_line_error(capsys, "sample", "puzzle-gan", "--from", out, "--parts", "0,4")
    assert "comma-separated" in one_line_error(capsys, "sample", "puzzle-gan", "--from", out, "--parts", "a,b")
    assert "--text" in one_line_error(capsys, "sample", "puzzle-gan", "--from", out, "--text", "a one")
