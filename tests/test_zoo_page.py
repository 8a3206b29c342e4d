"""bench/zoo_page.py: docs/zoo.md, the README's model table and bench/results/zoo.md are what zoo.json generates.

A stale table fails here: after recording into zoo.json, run `python bench/zoo_page.py` and commit its output.
"""
import copy
import importlib.util
import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("zoo_page", ROOT / "bench" / "zoo_page.py")
zoo_page = importlib.util.module_from_spec(spec)
spec.loader.exec_module(zoo_page)


@pytest.fixture(scope="module")
def zoo():
    return zoo_page.load()


def test_committed_files_are_what_zoo_json_generates(zoo):
    for path, text in zoo_page.outputs(zoo).items():
        committed = (ROOT / path).read_text()
        assert committed == text, f"{path} is stale: run `python bench/zoo_page.py` and commit the result"


def test_every_model_with_a_zoo_entry_has_a_readme_row_and_every_key_a_page_row(zoo):
    readme, page = (ROOT / "README.md").read_text(), (ROOT / "docs" / "zoo.md").read_text()
    table = readme.split(zoo_page.START)[1].split(zoo_page.END)[0]
    for key in zoo["models"]:
        assert f"| `{key}` |" in page
        assert (f"| `{key}` |" in table) == ("@" not in key and not zoo_page.SEED_TAG.search(key))


def test_the_table_reads_its_numbers_from_zoo_json(zoo):
    changed = copy.deepcopy(zoo)
    changed["models"]["nade"]["metrics"]["test_nll"] = 12.3456
    changed["models"]["nade"]["seconds"] = 987.0
    row = next(line for line in zoo_page.readme_table(changed).splitlines() if line.startswith("| `nade` |"))
    assert "test_nll 12.35" in row and row.endswith("| 987 |")
    assert zoo_page.readme_table(changed) != zoo_page.readme_table(zoo)


def test_every_picture_on_the_page_exists(zoo):
    page = (ROOT / "docs" / "zoo.md").read_text()
    links = re.findall(r'<img src="([^"]+)"', page)
    assert len(links) + page.count("no picture") == len(zoo["models"])
    for link in links:
        assert (ROOT / "docs" / link).is_file(), link


def test_pictures_are_copied_only_from_the_recorded_run(tmp_path):
    entry = {"data": "digits", "seconds": 1.0, "metrics": {"test_nll": 16.9}}
    zoo = {"models": {"nade": entry, "made": {**entry, "metrics": {"test_nll": 16.7}}}}
    for key, metrics in (("nade", {"test_nll": 16.9}), ("made", {"test_nll": 99.0})):  # made: another run
        folder = tmp_path / "runs" / key
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps(metrics))
        (folder / "samples.png").write_bytes(b"png")
    root = tmp_path / "repo"
    assert zoo_page.copy_pictures(zoo, str(tmp_path / "runs"), str(root)) == ["nade"]
    assert os.listdir(root / "docs" / "images" / "zoo") == ["nade.png"]


def test_the_readme_needs_both_markers():
    with pytest.raises(ValueError, match="zoo-table"):
        zoo_page.readme_with_table("# minigen\n" + zoo_page.START + "\n", "table")


def test_the_readme_family_tables_read_their_numbers_from_zoo_json(zoo):
    readme = (ROOT / "README.md").read_text()
    assert readme.count("<!-- zoo-numbers:") >= 15  # the per-family results tables are templates
    changed = copy.deepcopy(zoo)
    changed["models"]["pixelcnn"]["metrics"]["test_nll"] = 12.3456
    changed["models"]["wgan-gp@grid25"]["metrics"]["modes_grid25"] = 3.0
    new = zoo_page.readme_with_numbers(readme, changed)
    generated = [line for line in new.splitlines() if "{{" not in line]  # not the templates' lines
    pixel_row = next(line for line in generated if line.startswith("| `pixelcnn` | binarized"))
    gan_row = next(line for line in generated if line.startswith("| wgan-gp | "))
    assert "| 12.35 |" in pixel_row and "| 3.0 / 0.70 |" in gan_row
    assert zoo_page.readme_with_numbers(new, zoo) == readme  # and back: nothing else moved


def test_a_template_names_only_recorded_numbers(zoo):
    block = "<!-- zoo-numbers: x\n| {{nade.test_nll:.2f}} | {{nade.steps}} | {{nade.reference.seeds}} |\n-->\nold\n<!-- zoo-numbers end -->"
    assert "| 16.90 | 2000 | 3 |" in zoo_page.readme_with_numbers(block, zoo)
    with pytest.raises(KeyError, match="no key 'nadd'"):
        zoo_page.readme_with_numbers(block.replace("nade.test", "nadd.test"), zoo)
    with pytest.raises(KeyError, match="no 'test_nnl'"):
        zoo_page.readme_with_numbers(block.replace("test_nll", "test_nnl"), zoo)
    with pytest.raises(ValueError, match="zoo-numbers end"):
        zoo_page.readme_with_numbers(block.replace("<!-- zoo-numbers end -->", ""), zoo)


def test_seed_runs_are_grouped_and_averaged():
    entry = lambda v: {"data": "shapes", "seconds": 1.0, "metrics": {"disentanglement": v, "test_recon": -v}}  # noqa
    entries = {"factor-vae@gamma40": entry(0.6), "factor-vae@gamma40-seed2": entry(0.8),
               "factor-vae@gamma40-seed1": entry(0.7), "factor-vae": entry(0.1), "vae": entry(0.2)}
    groups = zoo_page.seed_groups(entries)
    assert groups == {"factor-vae@gamma40": ["factor-vae@gamma40", "factor-vae@gamma40-seed1",
                                             "factor-vae@gamma40-seed2"]}
    stats = zoo_page.over_seeds(entries, groups["factor-vae@gamma40"], ["disentanglement", "test_recon"])
    assert stats["disentanglement"]["mean"] == pytest.approx(0.7)
    assert stats["disentanglement"]["sem"] == pytest.approx(0.1 / 3 ** 0.5)  # sd 0.1 over 3 seeds
    assert stats["test_recon"]["values"] == [-0.6, -0.7, -0.8]
    (row,) = zoo_page.seed_table(entries)[2:]
    assert row.startswith("| `factor-vae@gamma40` | 3 | disentanglement 0.7 ± 0.058")
    assert zoo_page.seed_table({"vae": entry(0.2)}) == []


def test_a_seed_tag_of_the_first_run_is_recorded_as_key_seedN(monkeypatch):
    """bench/zoo.py: a run tagged `seedN` alone is the first run's setting with another seed, keyed NAME-seedN
    (grouped with NAME by seed_groups); `--only NAME-seedN` selects that run alone, `--only NAME` every run."""
    import sys
    monkeypatch.setitem(sys.modules, "zoo_page", zoo_page)  # what bench/zoo.py imports by name
    spec_zoo = importlib.util.spec_from_file_location("zoo_bench", ROOT / "bench" / "zoo.py")
    zoo_bench = importlib.util.module_from_spec(spec_zoo)
    spec_zoo.loader.exec_module(zoo_bench)
    runs = [{"steps": 5, "set": {}}, {"steps": 5, "set": {}, "seed": 1, "tag": "seed1"},
            {"steps": 5, "set": {"fade": False}, "tag": "no-fade"},
            {"steps": 5, "set": {"fade": False}, "seed": 2, "tag": "no-fade-seed2"}]
    monkeypatch.setitem(zoo_bench.ZOO_RUNS, "progan", runs)
    keys = [key for key, _ in zoo_bench.runs_of("progan")]
    assert keys == ["progan", "progan-seed1", "progan@no-fade", "progan@no-fade-seed2"]
    assert zoo_bench.runs_of("progan-seed1") == [("progan-seed1", runs[1])]
    assert zoo_bench.runs_of("progan@no-fade-seed2") == [("progan@no-fade-seed2", runs[3])]
    assert zoo_bench.runs_of("progan@digits") == [("progan", runs[0])]
    assert zoo_bench.registry_name("progan-seed1") == zoo_bench.registry_name("progan@no-fade-seed2") == "progan"
    assert zoo_bench.command("progan", runs[1], "out").startswith("minigen train progan --data digits --steps 5 --seed 1 ")
    entries = {key: {"metrics": {}} for key in keys}
    assert zoo_page.seed_groups(entries) == {"progan": ["progan", "progan-seed1"],
                                             "progan@no-fade": ["progan@no-fade", "progan@no-fade-seed2"]}
    with pytest.raises(KeyError, match="no-such-model"):
        zoo_bench.runs_of("no-such-model-seed1")
    # the pages: a NAME-seedN key is its model's (family, order), with no README row of its own
    assert zoo_page.model_name("dcgan-seed1") == "dcgan" and zoo_page.family("dcgan-seed1") == zoo_page.family("dcgan")
    run = {"data": "digits", "seconds": 1.0, "command": "minigen train dcgan --steps 5", "metrics": {"fd_digits": 3.0}}
    table = zoo_page.readme_table({"models": {"dcgan-seed1": run, "dcgan": run}})
    assert "| `dcgan` |" in table and "dcgan-seed1" not in table


def test_zoo_dry_run_lists_every_run_of_a_name_and_starts_none(monkeypatch, capsys):
    """`bench/zoo.py --only NAME --dry-run` prints the runs `--only NAME` would start (its variants too) with their
    commands, and neither trains nor writes."""
    import sys
    monkeypatch.setitem(sys.modules, "zoo_page", zoo_page)
    spec_zoo = importlib.util.spec_from_file_location("zoo_bench", ROOT / "bench" / "zoo.py")
    zoo_bench = importlib.util.module_from_spec(spec_zoo)
    spec_zoo.loader.exec_module(zoo_bench)
    monkeypatch.setitem(zoo_bench.ZOO_RUNS, "progan", [{"steps": 5, "set": {}},
                                                      {"steps": 5, "set": {"fade": False}, "tag": "no-fade"}])
    monkeypatch.setattr(zoo_bench, "run_one", lambda *a, **k: pytest.fail("--dry-run started a run"))
    monkeypatch.setattr(zoo_bench.zoo_page, "write_all", lambda *a, **k: pytest.fail("--dry-run wrote the pages"))
    monkeypatch.setattr(sys, "argv", ["zoo.py", "--only", "progan", "--dry-run"])
    zoo_bench.main()
    out = capsys.readouterr().out
    assert "[zoo] 2 run(s): progan, progan@no-fade" in out
    assert "progan@no-fade: minigen train progan --data digits --steps 5 --seed 0 " in out and "fade=false" in out
    monkeypatch.setattr(sys, "argv", ["zoo.py", "--only", "progan@digits", "--dry-run"])
    zoo_bench.main()
    assert "[zoo] 1 run(s): progan\n" in capsys.readouterr().out


def test_a_template_reads_seed_statistics_and_keys_with_dots(zoo):
    block = ("<!-- zoo-numbers: x\n| {{beta-vae@shapes-beta1.5.disentanglement:.3f}} | "
             "{{factor-vae@gamma40.seed_mean.disentanglement:.4f}} ± {{factor-vae@gamma40.seed_sem.disentanglement:.4f}} |"
             "\n-->\nold\n<!-- zoo-numbers end -->")
    keys = zoo_page.seed_groups(zoo["models"])["factor-vae@gamma40"]
    stats = zoo_page.over_seeds(zoo["models"], keys, ["disentanglement"])["disentanglement"]
    expected = (f"| {zoo['models']['beta-vae@shapes-beta1.5']['metrics']['disentanglement']:.3f} | "
                f"{stats['mean']:.4f} ± {stats['sem']:.4f} |")
    assert len(keys) >= 3 and expected in zoo_page.readme_with_numbers(block, zoo)


def test_a_verdict_is_computed_from_the_recorded_numbers(zoo):
    """{{verdict: A OP B}} says met or missed from zoo.json, against a number or another key's metric, and
    flips when the recorded number crosses the target."""
    nll = zoo["models"]["pixelcnn"]["metrics"]["test_nll"]
    block = ("<!-- zoo-numbers: x\n| {{verdict: pixelcnn.test_nll <= %r}} | {{verdict: pixelcnn.test_nll < %r}} "
             "| {{verdict: gated-pixelcnn.test_nll < pixelcnn.test_nll}} |\n-->\nold\n<!-- zoo-numbers end -->"
             % (nll, nll))
    gated_wins = zoo["models"]["gated-pixelcnn"]["metrics"]["test_nll"] < nll
    assert (f"| **met** | **missed** | **{'met' if gated_wins else 'missed'}** |"
            in zoo_page.readme_with_numbers(block, zoo))
    worse = copy.deepcopy(zoo)
    worse["models"]["pixelcnn"]["metrics"]["test_nll"] = nll + 1
    assert "| **missed** | **missed** |" in zoo_page.readme_with_numbers(block, worse)
    with pytest.raises(KeyError, match="no-such-model"):
        zoo_page.readme_with_numbers(block.replace("gated-pixelcnn.test_nll", "no-such-model.test_nll"), zoo)


def test_a_difference_is_computed_from_the_recorded_numbers(zoo):
    """{{difference: A - B:FMT}} is A minus B for keys that hold "-" themselves (seed keys), a number, or a seed
    mean, and moves with the recorded number."""
    models = zoo["models"]
    first, second = models["dcgan-seed1"]["metrics"]["fd_digits"], models["dcgan-seed2"]["metrics"]["fd_digits"]
    block = ("<!-- zoo-numbers: x\n| {{difference: dcgan-seed1.fd_digits - dcgan-seed2.fd_digits:.4f}} | "
             "{{difference: dcgan-seed1.fd_digits - 1}} | {{difference: dcgan.seed_mean.fd_digits - 0:.3f}} |"
             "\n-->\nold\n<!-- zoo-numbers end -->")
    mean = zoo_page.over_seeds(models, zoo_page.seed_groups(models)["dcgan"], ["fd_digits"])["fd_digits"]["mean"]
    assert (f"| {first - second:.4f} | {zoo_page.number(first - 1)} | {mean:.3f} |"
            in zoo_page.readme_with_numbers(block, zoo))
    moved = copy.deepcopy(zoo)
    moved["models"]["dcgan-seed2"]["metrics"]["fd_digits"] = first - 0.5
    assert "| 0.5000 |" in zoo_page.readme_with_numbers(block, moved)
    with pytest.raises(KeyError, match="no-such-model"):
        zoo_page.readme_with_numbers(block.replace("dcgan-seed2.", "no-such-model."), zoo)


def test_a_template_reads_the_gap_to_the_pytorch_twin(zoo):
    """reference_gap.METRIC is 100 (value - reference) / |reference|, reference_abs_gap its size, so a verdict
    can say "within 2%" from the numbers; it flips when the recorded number moves 3% above the twin's."""
    entry = zoo["models"]["pixelcnn"]
    ours, theirs = entry["metrics"]["test_nll"], entry["reference"]["test_nll"]
    block = ("<!-- zoo-numbers: x\n| {{pixelcnn.reference_gap.test_nll:+.3f}} | "
             "{{pixelcnn.reference_abs_gap.test_nll:.3f}} | {{verdict: pixelcnn.reference_abs_gap.test_nll <= 2}} |"
             "\n-->\nold\n<!-- zoo-numbers end -->")
    gap = 100 * (ours - theirs) / theirs
    assert (f"| {gap:+.3f} | {abs(gap):.3f} | **{'met' if abs(gap) <= 2 else 'missed'}** |"
            in zoo_page.readme_with_numbers(block, zoo))
    for factor, expected in ((1.03, "| +3.000 | 3.000 | **missed** |"), (0.99, "| -1.000 | 1.000 | **met** |")):
        moved = copy.deepcopy(zoo)
        moved["models"]["pixelcnn"]["metrics"]["test_nll"] = theirs * factor
        assert expected in zoo_page.readme_with_numbers(block, moved)
    with pytest.raises(KeyError, match="no 'test_nnl'"):
        zoo_page.readme_with_numbers(block.replace("gap.test_nll", "gap.test_nnl"), zoo)
