"""Train every registered model with its zoo configuration and record its standard metrics.

    python bench/zoo.py                      # every model that declares a zoo run
    python bench/zoo.py --only nade,made     # a subset; other entries of zoo.json are kept

A model declares `zoo_run = {"data": "digits", "steps": 3000, "set": {...}}` (a class attribute), or
`zoo_runs = [run, run, ...]` for several data sets (recorded as NAME, NAME@data, ... or NAME@tag when a
run has a "tag"; `--only gan@ring8` reruns one of them). Each
run is the `minigen train` command recorded in the JSON, so the numbers reproduce exactly. PyTorch
reference numbers, where bench/reference/ has an implementation, are read from
bench/results/reference.json ({name: {metric: value, ...}}). Writes bench/results/zoo.json and a
Markdown table bench/results/zoo.md (pasted into the README).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time

import numpy as np

import minigen
import minigen.models as models

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")


def command(name: str, run: dict, out: str) -> str:
    parts = ["minigen", "train", name, "--data", run.get("data", "digits"), "--steps", str(run["steps"]),
             "--seed", str(run.get("seed", 0)), "--out", out, "--no-progress"]
    for k, v in sorted(run.get("set", {}).items()):
        parts += ["--set", f"{k}={json.dumps(v)}"]
    return " ".join(shlex.quote(p) for p in parts)


def runs_of(name: str) -> list:
    """[(key, run), ...]: a model's `zoo_runs` (several data sets; keys name, name@data, ...) or its zoo_run."""
    cls = models.model_class(name.split("@")[0])
    runs = getattr(cls, "zoo_runs", None) or ([cls.zoo_run] if getattr(cls, "zoo_run", None) else [])
    keyed = [(run_key(name.split("@")[0], k, r), r) for k, r in enumerate(runs)]
    return [(key, r) for key, r in keyed if "@" not in name or key == name]


def run_key(name: str, k: int, run: dict) -> str:
    return name if k == 0 else f"{name}@{run.get('tag', run.get('data', 'digits'))}"


def run_one(name: str, run: dict, key: str | None = None) -> dict:
    out = os.path.join("runs", "zoo", key or name)
    cmd = command(name, run, out)
    print(f"[zoo] {cmd}", flush=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "minigen", *shlex.split(cmd)[1:]], check=True)
    seconds = time.perf_counter() - t0
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)
    return {"data": run.get("data", "digits"), "command": cmd, "seconds": round(seconds, 1), "metrics": metrics}


def table(entries: dict) -> str:
    lines = ["| model | data | metrics | PyTorch reference | seconds |", "|---|---|---|---|---|"]
    for name, e in sorted(entries.items()):
        fmt = lambda d: ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                  for k, v in d.items() if not k.endswith("_sem"))
        lines.append(f"| {name} | {e['data']} | {fmt(e['metrics'])} | {fmt(e.get('reference', {})) or '-'} "
                     f"| {e['seconds']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", help="comma-separated model names")
    args = p.parse_args()
    wanted = args.only.split(",") if args.only else [n for n in models.names()
                                                      if getattr(models.model_class(n), "zoo_run", None)]
    path = os.path.join(RESULTS, "zoo.json")
    zoo = json.load(open(path)) if os.path.exists(path) else {"models": {}}
    reference_path = os.path.join(RESULTS, "reference.json")
    reference = json.load(open(reference_path)) if os.path.exists(reference_path) else {}
    done = []
    for name in wanted:
        runs = runs_of(name)
        if not runs:
            print(f"[zoo] {name} declares no zoo_run; skipped")
        for key, run in runs:
            entry = run_one(name.split("@")[0], run, key)
            entry["reference"] = reference.get(key, {})
            zoo["models"][key] = entry
            done.append(key)
    fresh = {"models": {}}
    if os.path.exists(path):  # re-read: another zoo run may have written meanwhile
        with open(path) as f:
            fresh = json.load(f)
    fresh["models"].update({key: zoo["models"][key] for key in done})
    zoo = fresh
    zoo["machine"] = f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores".strip()
    zoo["versions"] = {"minigen": minigen.__version__, "numpy": np.__version__,
                       "python": platform.python_version()}
    os.makedirs(RESULTS, exist_ok=True)
    with open(path, "w") as f:
        json.dump(zoo, f, indent=2)
    with open(os.path.join(RESULTS, "zoo.md"), "w") as f:
        f.write(table(zoo["models"]))
    print(table(zoo["models"]))


if __name__ == "__main__":
    main()
