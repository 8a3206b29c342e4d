"""A `minigen train` output folder (--out DIR) and the rules that keep its work.

A folder holds a run when it has run.json or checkpoint.npz. `minigen train` refuses to start a new run
in such a folder unless told how to go on: `--resume` (continue it, with the options it was trained with)
or `--overwrite` (replace it); otherwise a new `--out`. Nothing in the folder changes until the run has
made its first step (`start`), so a refused or failed start leaves it as it was.

    run.json         {"name", "data", "config", "seed", "steps", "command", "resumed": [commands]}
    checkpoint.npz   the trainer's checkpoint (minigen/trainer.py)
    metrics.json     the model's metrics on the test split, written when training ends
    samples.png      the model's picture; curves.png the training curves; tensorboard/ with --tensorboard
"""
from __future__ import annotations

import glob
import json
import os

from .trainer import CHECKPOINT

RUN_FILE = "run.json"
OUTPUTS = (RUN_FILE, CHECKPOINT, "metrics.json", "samples.png", "curves.png")


class RunFolderError(ValueError):
    """A refused use of a run folder; the message is one line naming the folder and the ways on."""


def check_folder(path: str) -> None:
    """Refuse an --out that names an existing file (or lies below one)."""
    probe = os.path.abspath(path)
    while probe and not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if os.path.exists(probe) and not os.path.isdir(probe):
        raise RunFolderError(f"--out {path}: {probe} is a file, not a folder; choose another --out")


def read_run(path: str) -> dict | None:
    """The run.json of the run in `path`, {} for a folder with a checkpoint but no run.json, None when the
    folder holds no run."""
    check_folder(path)
    run_file = os.path.join(path, RUN_FILE)
    if os.path.isfile(run_file):
        try:
            with open(run_file) as f:
                run = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise RunFolderError(f"{run_file} cannot be read ({e}); repair it or choose another --out") from None
        if not isinstance(run, dict) or not {"name", "data", "config"} <= set(run):
            raise RunFolderError(f"{run_file} is not a minigen run record (no name, data and config)")
        return run
    return {} if os.path.isfile(os.path.join(path, CHECKPOINT)) else None


def refuse_new_run(path: str, name: str, run: dict) -> None:
    """The one-line refusal to start a new run in a folder that holds one."""
    what = f"a {run['name']!r} run" if run else "a checkpoint"
    step = run.get("steps")
    raise RunFolderError(f"{path} already holds {what}{f' (of {step} steps)' if step else ''}; continue it with "
                         f"--resume, train into a new --out, or replace it with --overwrite")


def run_for_resume(path: str, name: str) -> dict:
    """The run.json of the run that `minigen train NAME --out path --resume` continues (checked)."""
    run = read_run(path)
    if run is None:
        raise RunFolderError(f"--resume: {path} holds no run to continue; start one without --resume")
    if not run:
        raise RunFolderError(f"--resume: {path} has a checkpoint but no run.json, so its model and options are "
                             "unknown; train into a new --out (or --overwrite)")
    if run["name"] != name:
        raise RunFolderError(f"--resume: {path} holds a {run['name']!r} run, not {name!r}; resume it as "
                             f"`minigen train {run['name']} --out {path} --resume`, or train into a new --out")
    if not os.path.isfile(os.path.join(path, CHECKPOINT)):
        raise RunFolderError(f"--resume: {path} holds no checkpoint.npz (the run never saved one); start again "
                             "with --overwrite")
    return run


def run_for_reading(path: str, name: str) -> dict:
    """The run.json of a finished or interrupted run that eval/sample read (checked)."""
    run = read_run(path)
    if not run:
        raise RunFolderError(f"{path} holds no training run (run.json missing); train one with "
                             f"`minigen train {name} --out {path}`")
    if run["name"] != name:
        raise RunFolderError(f"{path} holds a {run['name']!r} run, not {name!r}")
    return run


def start(path: str, record: dict, overwrite: bool = False) -> None:
    """Called once the run's first step is done: with `overwrite`, remove the earlier run's outputs (only
    the files minigen writes), then write run.json."""
    os.makedirs(path, exist_ok=True)
    if overwrite:
        stale = [os.path.join(path, f) for f in OUTPUTS]
        stale += glob.glob(os.path.join(path, "samples-*.png")) + glob.glob(os.path.join(path, "samples-*.npz"))
        stale += glob.glob(os.path.join(path, "tensorboard", "events.out.tfevents.*"))
        for f in stale:
            if os.path.isfile(f):
                os.remove(f)
    write_json(os.path.join(path, RUN_FILE), record)


def write_json(path: str, obj) -> None:
    """Write JSON through a temporary file renamed over `path`, so a crash never leaves half a file."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
