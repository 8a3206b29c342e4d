"""The zoo page (docs/zoo.md), the README's model table and bench/results/zoo.md, generated from zoo.json.

    python bench/zoo_page.py                       # rewrite the three from bench/results/zoo.json
    python bench/zoo_page.py --pictures runs/zoo   # first copy each recorded run's samples.png (see below)
    python bench/zoo_page.py --check               # exit 1 if a committed file differs from what it generates

Nothing here trains and no number is typed by hand: every value is read from bench/results/zoo.json
(bench/zoo.py writes it and then calls this script's `write_all`). The README's table lies between the lines
`<!-- zoo-table start -->` and `<!-- zoo-table end -->`.

The README's own results tables (one per family, with their prose columns) are templates: each sits in a
comment `<!-- zoo-numbers: ... -->` that holds the table with `{{KEY.FIELD:FORMAT}}` where a number goes,
followed by the generated table and `<!-- zoo-numbers end -->`. FIELD is a metric of the key's entry, or
`reference.METRIC` (the PyTorch twin), `reference_gap.METRIC` (minigen's value against the twin's in percent,
100 (value - reference) / |reference|), `reference_abs_gap.METRIC` (its absolute value: `{{verdict:
KEY.reference_abs_gap.METRIC <= 2}}` is "within 2%"), `seconds`, or `steps` (read from the recorded command);
FORMAT is a Python format spec (`.2f`), by default the page's `number`. A target's verdict is `{{verdict: A OP B}}`
(OP one of <= >= < >; A and B numbers or KEY.FIELD), written **met** or **missed** from the numbers, never
typed; `{{difference: A - B:FORMAT}}` (the minus between spaces) is A's value minus B's. Edit the template, never
the table below it.

Per zoo key (registry name, or name@data): the family (the registry's subpackage), the data set, up to three
headline metrics (the first of HEADLINE the entry has, with `<metric>_sem` as "± sem"), the PyTorch twin's
value of the same metrics (the entry's `reference`, mean over its seeds), the wall seconds of the recorded
`minigen train` command (training and evaluation, one BLAS thread, on a shared machine: inflated by load),
and a sample picture: docs/images/zoo/KEY.png, copied from the run folder only when its metrics.json equals
the recorded metrics (so the picture is the recorded run's), else an older figure of the same model from
EXISTING_FIGURES, else "no picture".

Runs of one setting with several seeds are keys KEY, KEY-seed1, KEY-seed2, ... (a run's tag ending in
`-seedN`); the page adds a table "Over seeds" with the mean ± standard error over the seeds of their headline
metrics and test_recon (`seed_groups`, `over_seeds`; bench/disentanglement_seeds.py writes the same numbers
for the shapes comparison).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZOO_JSON = os.path.join(ROOT, "bench", "results", "zoo.json")
PICTURES = os.path.join("docs", "images", "zoo")  # relative to ROOT
START, END = "<!-- zoo-table start -->", "<!-- zoo-table end -->"

# conditional models show their target (class_acc) before the sample-quality scores they share with GANs
HEADLINE = ("cluster_acc", "code_mmd", "disentanglement", "word_acc", "test_nll", "iwae_nll", "test_elbo",
            "test_recon_bce", "test_pixel_error", "test_bits_per_sample", "modes_ring8", "hq_ring8",
            "modes_grid25", "hq_grid25", "class_acc", "domain_acc", "cycle_l1", "test_l1", "fd_digits",
            "score_digits", "parzen_ll", "score_tones", "spectral_distance")
FAMILIES = {"autoregressive": "autoregressive", "latent": "latent variable", "flows": "flow", "gan": "GAN",
            "energy": "energy"}
# Figures drawn before the zoo kept its pictures, for keys whose run folder is not at hand (paths from ROOT).
EXISTING_FIGURES = {
    **{k: "docs/images/autoregressive-samples.png" for k in ("bernoulli", "ar1", "fvsbn", "nade", "made", "rnade")},
    "ae": "docs/images/ae-samples.png",
    **{k: "docs/images/gan-digits.png" for k in ("gan", "cgan", "wgan", "wgan-gp", "sngan")},
    **{f"{k}@{toy}": "docs/images/gan-toys.png" for k in ("gan", "cgan", "wgan", "wgan-gp", "sngan")
       for toy in ("ring8", "grid25")},
    "cgan-words": "docs/images/gan-cgan-words.png",
}


def load(path: str = ZOO_JSON) -> dict:
    with open(path) as f:
        return json.load(f)


def model_name(key: str) -> str:
    """The registered model of a zoo key: 'wgan-gp' for 'wgan-gp@grid25', 'dcgan' for 'dcgan-seed1'."""
    return SEED_TAG.sub("", key.split("@")[0])


def family(key: str) -> str:
    """The registry subpackage of a zoo key's model ('gan' for 'wgan-gp@grid25')."""
    from minigen.models import REGISTRY
    return FAMILIES.get(REGISTRY[model_name(key)][0].split(".")[0], "other")


def ordered(entries: dict) -> list:
    """Zoo keys by family (the course's order), then registry order, then key."""
    from minigen.models import REGISTRY
    names, fams = list(REGISTRY), list(FAMILIES.values())
    return sorted(entries, key=lambda k: (fams.index(family(k)) if family(k) in fams else len(fams),
                                          names.index(model_name(k)), k))


def number(v) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int) or float(v).is_integer() and abs(v) >= 1:
        return f"{int(v):,}" if abs(v) >= 10_000 else str(int(v))
    if abs(v) >= 100:
        return f"{v:.1f}"
    return f"{v:.2f}" if abs(v) >= 1 else f"{v:.3g}"


def spread(v) -> str:
    """A standard error or deviation: two significant digits."""
    return f"{v:.2g}"


def seconds(v) -> str:
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}"


SEED_TAG = re.compile(r"-seed(\d+)$")


def seed_groups(entries: dict) -> dict:
    """{KEY: [KEY, KEY-seed1, ...]} for every KEY that has at least one `-seedN` sibling (KEY itself is the
    seed of the first run, when recorded), keys in seed order."""
    groups: dict = {}
    for key in entries:
        match = SEED_TAG.search(key)
        if match:
            groups.setdefault(key[:match.start()], []).append((int(match.group(1)), key))
    return {base: [k for _, k in sorted(([(0, base)] if base in entries else []) + members)]
            for base, members in groups.items()}


def over_seeds(entries: dict, keys: list, metrics: list) -> dict:
    """{metric: {"mean", "sem", "values"}} over the runs `keys` (sem = sd / sqrt(n), ddof 1; 0 for one run)."""
    out = {}
    for m in metrics:
        values = [float(entries[k]["metrics"][m]) for k in keys if m in entries[k]["metrics"]]
        if values:
            mean = sum(values) / len(values)
            var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
            out[m] = {"mean": mean, "sem": math.sqrt(var / len(values)), "values": values}
    return out


def seed_table(entries: dict) -> list:
    """Lines of the page's "Over seeds" table (empty when no key has seed siblings)."""
    groups = seed_groups(entries)
    if not groups:
        return []
    lines = ["| setting | seeds | mean ± sem over seeds |", "|---|---|---|"]
    for base in ordered({b: None for b in groups}):
        keys = groups[base]
        metrics = headline(entries[keys[0]]["metrics"])
        metrics += ["test_recon"] if "test_recon" in entries[keys[0]]["metrics"] and "test_recon" not in metrics \
            else []
        stats = over_seeds(entries, keys, metrics)
        cell = "<br>".join(f"{m} {number(v['mean'])} ± {spread(v['sem'])}" for m, v in stats.items())
        lines.append(f"| `{base}` | {len(keys)} | {cell} |")
    return lines


def headline(metrics: dict) -> list:
    return [m for m in HEADLINE if m in metrics][:3]


def minigen_cell(e: dict) -> str:
    m = e["metrics"]
    return "<br>".join(f"{k} {number(m[k])}" + (f" ± {spread(m[k + '_sem'])}" if k + "_sem" in m else "")
                       for k in headline(m)) or "-"


def reference_cell(e: dict) -> str:
    ref, parts = e.get("reference") or {}, []
    for k in headline(e["metrics"]):
        if isinstance(ref.get(k), (int, float)):
            sd = ref.get(k + "_sd_over_seeds") if ref.get("seeds", 0) > 1 else None
            parts.append(f"{k} {number(ref[k])}" + (f" ± {spread(sd)} sd" if sd is not None else ""))
    if parts and ref.get("seeds"):
        parts[-1] += f" ({ref['seeds']} seed{'s' if ref['seeds'] != 1 else ''})"
    return "<br>".join(parts) or "-"


def picture(key: str, root: str = ROOT) -> str | None:
    """The picture of a zoo key, as a path from the repository root, or None."""
    own = os.path.join(PICTURES, f"{key}.png")
    if os.path.exists(os.path.join(root, own)):
        return own
    old = EXISTING_FIGURES.get(key)
    return old if old and os.path.exists(os.path.join(root, old)) else None


def rows(entries: dict, keys: list, page_dir: str, root: str = ROOT, pictures: bool = True) -> list:
    """Table lines for `keys`; picture links are relative to `page_dir` (a folder of the repository)."""
    head = "| model | family | data | metrics (minigen) | PyTorch twin | wall s |" + (" sample |" if pictures else "")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for key in keys:
        e = entries[key]
        cells = [f"`{key}`", family(key), e.get("data", "-"), minigen_cell(e), reference_cell(e),
                 seconds(e["seconds"])]
        if pictures:
            pic = picture(key, root)
            cells.append(f'<img src="{os.path.relpath(pic, page_dir)}" width="120" alt="{key}">' if pic else "no picture")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def readme_table(zoo: dict, root: str = ROOT) -> str:
    """The README's table: the first run of every model (key without '@' or '-seedN'), by family."""
    keys = [k for k in ordered(zoo["models"]) if "@" not in k and not SEED_TAG.search(k)]
    return "\n".join([START,
                      "<!-- generated by `python bench/zoo_page.py` from bench/results/zoo.json: do not edit -->",
                      *rows(zoo["models"], keys, ".", root, pictures=False), END])


def page(zoo: dict, root: str = ROOT) -> str:
    entries, out = zoo["models"], []
    out += ["# The model zoo", "",
            "<!-- generated by `python bench/zoo_page.py` from bench/results/zoo.json: do not edit -->", "",
            "Every run of `ZOO_RUNS` in bench/zoo.py, with the numbers recorded in bench/results/zoo.json "
            "(`python bench/zoo.py --only KEY` reruns one; each entry's `command` reproduces it exactly). "
            "Metrics are named as in docs/design.md (\"Metric names\"): nats per image on the 300 test digits "
            "unless the name says otherwise; `± x` is a standard error over test examples, `± x sd` the PyTorch "
            "twin's spread over seeds. Wall seconds cover `minigen train` with its evaluation, one BLAS thread, "
            "on a 2-core machine shared with other jobs (inflated by load). Samples: the recorded run's "
            "`samples.png` where the run folder was at hand, else an older figure of the same model.", "",
            f"Recorded on: {zoo.get('machine', '-')}; versions: "
            + ", ".join(f"{k} {v}" for k, v in sorted(zoo.get("versions", {}).items())), ""]
    keys = ordered(entries)
    for fam in [*FAMILIES.values(), "other"]:
        sub = [k for k in keys if family(k) == fam]
        if sub:
            out += [f"## {fam[0].upper() + fam[1:]} models", "", *rows(entries, sub, "docs", root), ""]
    seeds = seed_table(entries)
    if seeds:
        out += ["## Over seeds", "", "Settings recorded with several seeds (keys `KEY`, `KEY-seed1`, ...): the mean "
                "and standard error over the seeds.", "", *seeds, ""]
    out += ["## Every metric", "", full_table(entries, keys).rstrip("\n"), ""]
    return "\n".join(out)


def full_table(entries: dict, keys: list | None = None) -> str:
    """Every recorded metric of every key (bench/results/zoo.md)."""
    fmt = lambda d: ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in d.items() if not k.endswith("_sem") and not isinstance(v, dict))
    lines = ["| model | data | metrics | PyTorch reference | seconds |", "|---|---|---|---|---|"]
    for name in keys or sorted(entries):
        e = entries[name]
        lines.append(f"| {name} | {e['data']} | {fmt(e['metrics'])} | {fmt(e.get('reference', {})) or '-'} "
                     f"| {e['seconds']} |")
    return "\n".join(lines) + "\n"


def readme_with_table(readme: str, table: str) -> str:
    if readme.count(START) != 1 or readme.count(END) != 1:
        raise ValueError(f"README.md must hold exactly one {START} and one {END} line")
    head, rest = readme.split(START)
    return head + table + rest.split(END, 1)[1]


NUMBERS = re.compile(r"(<!-- zoo-numbers:[^\n]*\n(.*?)\n-->\n)(.*?)(<!-- zoo-numbers end -->)", re.S)
PLACEHOLDER = re.compile(r"\{\{([\w@.-]+?)\.([\w.]+)(?::([^}]*))?\}\}")  # KEY may hold dots: split in fill


def field(entry: dict, key: str, name: str):
    """FIELD of a zoo entry: a metric, `reference.METRIC`, `reference_gap.METRIC` or `reference_abs_gap.METRIC`
    (percent), `seconds`, or `steps` (from its command)."""
    if name.startswith(("reference_gap.", "reference_abs_gap.")):
        kind, metric = name.split(".", 1)
        ours, theirs = field(entry, key, metric), field(entry, key, f"reference.{metric}")
        gap = 100 * (ours - theirs) / abs(theirs)
        return abs(gap) if kind == "reference_abs_gap" else gap
    if name == "seconds":
        return entry["seconds"]
    if name == "steps":
        found = re.search(r"--steps (\d+)", entry["command"])
        if not found:
            raise KeyError(f"{{{{{key}.steps}}}}: the recorded command has no --steps: {entry['command']}")
        return int(found.group(1))
    where, metric = (entry.get("reference") or {}, name[len("reference."):]) if name.startswith("reference.") \
        else (entry["metrics"], name)
    if metric not in where:
        raise KeyError(f"{{{{{key}.{name}}}}}: zoo.json's {key!r} has no {name!r}")
    return where[metric]


def seed_field(entries: dict, key: str, name: str) -> float:
    """`seed_mean.METRIC` or `seed_sem.METRIC` of KEY over its seeds (KEY, KEY-seed1, ...: seed_groups)."""
    stat, metric = name.split(".", 1)
    stats = over_seeds(entries, seed_groups(entries).get(key, [key]), [metric])
    if metric not in stats:
        raise KeyError(f"{{{{{key}.{name}}}}}: zoo.json's {key!r} has no {metric!r}")
    return stats[metric][stat[len("seed_"):]]


def resolve(whole: str, zoo: dict):
    """The value of `KEY.FIELD` (FIELD as `field` reads it, or seed_mean.METRIC / seed_sem.METRIC over KEY's
    seeds); KEY is the longest recorded key before a dot ("beta-vae@shapes-beta1.5")."""
    key = max((k for k in zoo["models"] if whole.startswith(k + ".")), key=len, default=whole.split(".")[0])
    name = whole[len(key) + 1:]
    if key not in zoo["models"]:
        raise KeyError(f"{{{{{whole}}}}}: zoo.json has no key {key!r}")
    return seed_field(zoo["models"], key, name) if name.startswith(("seed_mean.", "seed_sem.")) \
        else field(zoo["models"][key], key, name)


VERDICT = re.compile(r"\{\{verdict: *([^{}]+?) *(<=|>=|<|>) *([^{}]+?) *\}\}")
COMPARE = {"<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
           ">": lambda a, b: a > b}
DIFFERENCE = re.compile(r"\{\{difference: *([^{}:]+?) +- +([^{}:]+?) *(?::([^{}]*))?\}\}")  # keys hold "-"


def operand(text: str, zoo: dict) -> float:
    """A number, or `KEY.FIELD` read from zoo.json (as in resolve)."""
    try:
        return float(text)
    except ValueError:
        return resolve(text, zoo)


def verdict(left: str, op: str, right: str, zoo: dict) -> str:
    """**met** or **missed**: a target's verdict computed from the recorded numbers, so a re-recorded number
    can never contradict the word beside it."""
    return "**met**" if COMPARE[op](operand(left, zoo), operand(right, zoo)) else "**missed**"


def difference(left: str, right: str, fmt: str | None, zoo: dict) -> str:
    """A - B from the recorded numbers (a gap the prose states, so it cannot go stale)."""
    gap = operand(left, zoo) - operand(right, zoo)
    return format(gap, fmt) if fmt else number(gap)


def fill(template: str, zoo: dict) -> str:
    """The template with every {{KEY.FIELD:FORMAT}} replaced by its value from zoo.json (`resolve`), and every
    {{verdict: A OP B}} (OP one of <= >= < >; A, B numbers or KEY.FIELD) by **met** or **missed**, and every
    {{difference: A - B:FORMAT}} by A minus B."""
    template = VERDICT.sub(lambda m: verdict(*m.groups(), zoo), template)
    template = DIFFERENCE.sub(lambda m: difference(*m.groups(), zoo), template)

    def value(m):
        key, name, fmt = m.groups()
        v = resolve(f"{key}.{name}", zoo)
        return format(v, fmt) if fmt else number(v)
    return PLACEHOLDER.sub(value, template)


def readme_with_numbers(readme: str, zoo: dict) -> str:
    """Every `<!-- zoo-numbers: ... -->` block's table regenerated from its template."""
    if len(NUMBERS.findall(readme)) != readme.count("<!-- zoo-numbers:") or \
            readme.count("<!-- zoo-numbers:") != readme.count("<!-- zoo-numbers end -->"):
        raise ValueError("README.md: every `<!-- zoo-numbers: ...` line needs its template, a `-->` line, the "
                         "generated text and a `<!-- zoo-numbers end -->` line")
    return NUMBERS.sub(lambda m: m.group(1) + fill(m.group(2), zoo) + "\n" + m.group(4), readme)


def outputs(zoo: dict, root: str = ROOT) -> dict:
    """{path from root: the text it should hold}."""
    with open(os.path.join(root, "README.md")) as f:
        readme = f.read()
    return {"README.md": readme_with_numbers(readme_with_table(readme, readme_table(zoo, root)), zoo),
            os.path.join("docs", "zoo.md"): page(zoo, root),
            os.path.join("bench", "results", "zoo.md"): full_table(zoo["models"])}


def copy_pictures(zoo: dict, runs: str, root: str = ROOT) -> list:
    """Copy RUNS/KEY/samples.png to docs/images/zoo/KEY.png for every key whose run folder's metrics.json is
    the recorded one; returns the keys copied."""
    copied = []
    for key, e in zoo["models"].items():
        folder = os.path.join(runs, key)
        try:
            with open(os.path.join(folder, "metrics.json")) as f:
                same = json.load(f) == e["metrics"]
        except (OSError, ValueError):
            continue
        if same and os.path.exists(os.path.join(folder, "samples.png")):
            os.makedirs(os.path.join(root, PICTURES), exist_ok=True)
            shutil.copyfile(os.path.join(folder, "samples.png"), os.path.join(root, PICTURES, f"{key}.png"))
            copied.append(key)
    return copied


def write_all(zoo: dict | None = None, root: str = ROOT) -> list:
    """Rewrite the generated files; returns the paths that changed."""
    changed = []
    for path, text in outputs(zoo or load(), root).items():
        full = os.path.join(root, path)
        old = open(full).read() if os.path.exists(full) else None
        if old != text:
            with open(full, "w") as f:
                f.write(text)
            changed.append(path)
    return changed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pictures", metavar="RUNS", help="copy samples.png of the recorded runs under RUNS (runs/zoo)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if a generated file is stale")
    args = p.parse_args()
    zoo = load()
    if args.check:
        stale = [path for path, text in outputs(zoo).items()
                 if not os.path.exists(os.path.join(ROOT, path)) or open(os.path.join(ROOT, path)).read() != text]
        print("stale: " + ", ".join(stale) if stale else "up to date")
        sys.exit(1 if stale else 0)
    if args.pictures:
        print(f"pictures copied: {', '.join(copy_pictures(zoo, args.pictures)) or 'none'}")
    print(f"rewritten: {', '.join(write_all(zoo)) or 'nothing (up to date)'}")


if __name__ == "__main__":
    main()
